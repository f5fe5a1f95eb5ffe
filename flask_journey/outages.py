"""Logging a storage outage so that an operator can read it: a traceback, a count, a recovery.

A site under load that loses its database fails hundreds of requests a second; a traceback for
each would bury the one that says why. :class:`OutageLog` writes the traceback of the first
failure, one line for each failure after it with a running count, and one line when storage
answers again. One is kept per app and per kind of storage, in the extension's state.
"""

from __future__ import annotations

import logging
import threading
import time

#: The logger outages are written to.
log = logging.getLogger("flask_journey.outages")


class OutageLog:
    """The state of one storage (``what``: "database", "rate-limit storage") for one app."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self._failures = 0
        self._since = 0.0

    @property
    def failures(self) -> int:
        """Failures since the storage was last seen working (0: it works)."""
        return self._failures

    def failed(self, exc: BaseException, consequence: str) -> None:
        """Record a failure; ``consequence`` says what the request got ("answered 503")."""
        with self._lock:
            self._failures += 1
            count = self._failures
            if count == 1:
                self._since = time.monotonic()
        if count == 1:
            log.error(
                "flask-journey: %s unavailable, request %s; one line per failure follows "
                "until it recovers",
                self.what,
                consequence,
                exc_info=exc,
            )
        else:
            log.error(
                "flask-journey: %s still unavailable (%d failures), request %s: %s: %s",
                self.what,
                count,
                consequence,
                type(exc).__name__,
                _first_line(exc),
            )

    def succeeded(self) -> None:
        """Record that the storage answered; logs the recovery if it had failed."""
        if not self._failures:  # the common case, read without the lock
            return
        with self._lock:
            count, self._failures = self._failures, 0
            seconds = time.monotonic() - self._since
        if count:
            log.warning(
                "flask-journey: %s available again after %d failures over %.1f s",
                self.what,
                count,
                seconds,
            )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""

"""The keys the dashboard signs with: its sign-in cookie, CSRF tokens and share links.

An app with a ``SECRET_KEY`` signs with it, and accepts what its ``SECRET_KEY_FALLBACKS``
(Flask's list of earlier keys, oldest first) signed. An app without one signs with a secret the
installation generates once and keeps in its database (``journey_installation``): the same for
every worker and after a restart, so the dashboard works as soon as it is mounted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any


def _bytes(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else key


def fingerprint(key: bytes) -> str:
    """A short public name of a signing key (an HMAC of a constant, not the key)."""
    return hmac.new(key, b"flask-journey signing key", hashlib.sha256).hexdigest()[:16]


class SigningKeys:
    """The signing keys of one app; ``installation_secret`` returns the kept secret."""

    def __init__(self, installation_secret: Callable[[], bytes]) -> None:
        self._installation_secret = installation_secret

    def all(self, config: Mapping[str, Any]) -> list[bytes]:
        """The keys a signature is accepted from, the one to sign with last."""
        current = config.get("SECRET_KEY")
        if not current:
            return [self._installation_secret()]
        earlier = config.get("SECRET_KEY_FALLBACKS") or []
        return [_bytes(key) for key in (*earlier, current) if key]

    def fingerprints(self, config: Mapping[str, Any]) -> set[str]:
        """The fingerprints of :meth:`all`: a link signed with another key cannot be verified."""
        return {fingerprint(key) for key in self.all(config)}

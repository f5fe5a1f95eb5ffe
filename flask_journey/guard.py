"""What a tenant's request must pass before its events are stored: origin, rate limits, quota.

Rate limits are counted by flask-limiter's strategy and storage (``JOURNEY_RATELIMIT_STORAGE_URI``),
keyed by organization/journey pair and, for origins a journey does not list, by origin too.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence
from functools import lru_cache

from flask import Flask
from flask_limiter import Limiter
from limits import RateLimitItem, parse_many

from .config import Settings
from .models import Usage, utcnow
from .outages import OutageLog
from .outcomes import OriginRejected, RateLimited, Unavailable
from .privacy import is_origin, url_origin
from .tenants import Tenant


@lru_cache(maxsize=256)
def _limits(text: str) -> tuple[RateLimitItem, ...]:
    """An organization's rate-limit string, parsed once."""
    return tuple(parse_many(text))


def origin_is_listed(allowed: list[str], origin: str | None) -> bool | None:
    """Whether ``origin`` may send events to a journey allowing ``allowed``.

    True: listed. None: accepted but unknown (no list, or no Origin header at all, as from a
    server). False: the journey lists origins and this one is not among them, or is not
    exactly an origin (``scheme://host[:port]`` in lower case, see :func:`is_origin`).
    """
    if not allowed or origin is None:
        return None
    return origin in allowed and is_origin(origin)


class Guard:
    """Per-app admission checks, built in ``init_app`` and kept in the extension state."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        self.settings = settings
        self.default_limits = parse_many(settings.ratelimit_default)
        self.unknown_origin_limits = parse_many(settings.ratelimit_unknown_origin)
        self.storage_outage = OutageLog("rate-limit storage")
        self.limiter = Limiter(
            key_func=lambda: "",
            storage_uri=settings.ratelimit_storage_uri,
            storage_options=settings.ratelimit_storage_options,
            strategy=settings.ratelimit_strategy,
            key_prefix="journey",
            enabled=settings.ratelimit_enabled,
        )
        # flask-journey counts its limits itself, in admit(). flask-limiter would add hooks to
        # every request of the host app (about 100 us each) that find nothing to count; it adds
        # them only for a limiter the app does not list yet, so this one is listed first.
        app.extensions.setdefault("limiter", set()).add(self.limiter)
        self.limiter.init_app(app)

    def admit(
        self, tenant: Tenant, *origins: str | None, authenticated: bool = False
    ) -> None:
        """Check the origins and the rate limits for one request; raise an outcome if refused.

        Every origin given (the ``Origin`` header first, then others such as an event's URL)
        must be allowed. The request counts as coming from a known origin only when its
        ``Origin`` header is listed: the others are written by whoever sends the request.
        Requests ``authenticated`` by a secret key are not held to the unknown-origin limit.
        """
        allowed = tenant.journey.allowed_origins or []
        given = [origin for origin in origins if origin]
        verdicts = [origin_is_listed(allowed, origin) for origin in given]
        rejected = [o for o, listed in zip(given, verdicts, strict=True) if listed is False]
        if rejected:
            raise OriginRejected(f"Origin {rejected[0][:255]} is not allowed for this journey")
        origin = origins[0] if origins else None
        listed = bool(origin) and origin_is_listed(allowed, origin)
        if self.limiter.enabled:
            if not listed and not authenticated:
                self._hit(
                    self.unknown_origin_limits,
                    ("unknown-origin", str(tenant.journey.id), url_origin(origin) or "none"),
                    "Rate limit exceeded for organization",
                )
            limits = (
                _limits(tenant.org.rate_limit) if tenant.org.rate_limit else self.default_limits
            )
            self._hit(
                limits,
                ("pair", str(tenant.org.id), str(tenant.journey.id)),
                "Rate limit exceeded for organization",
            )

    def _hit(self, limits: Sequence[RateLimitItem], keys: tuple[str, ...], message: str) -> None:
        strategy = self.limiter.limiter
        try:
            for item in limits:
                if not strategy.hit(item, *keys):
                    self.storage_outage.succeeded()
                    reset = strategy.get_window_stats(item, *keys).reset_time
                    raise RateLimited(message, max(1, math.ceil(reset - time.time())))
        except RateLimited:
            raise
        except Exception as exc:  # the storage backend's own errors (redis, memcached, ...)
            fail_open = self.settings.ratelimit_fail_open
            self.storage_outage.failed(exc, "admitted" if fail_open else "answered 503")
            if fail_open:
                return
            raise Unavailable("Rate limiting is temporarily unavailable") from exc
        self.storage_outage.succeeded()

    @staticmethod
    def check_quota(tenant: Tenant, events: int) -> None:
        """Refuse ``events`` more events if they would take the organization past its quota."""
        quota = tenant.org.monthly_quota
        if quota is None:
            return
        now = utcnow()
        used = (
            Usage.select(Usage.events)
            .where(Usage.organization == tenant.org.id, Usage.period == now.strftime("%Y-%m"))
            .scalar()
            or 0
        )
        if used + events > quota:
            first_of_next = (now.replace(day=1) + dt.timedelta(days=32)).replace(
                day=1, hour=0, minute=0, second=0, microsecond=0
            )
            retry = math.ceil((first_of_next - now).total_seconds())
            raise RateLimited("Monthly event quota exceeded for organization", retry, quota=True)

"""What a tenant's request must pass before its events are stored: origin, rate limits, quota.

Rate limits are counted by the ``limits`` library: the storage named by
``JOURNEY_RATELIMIT_STORAGE_URI`` and the strategy named by ``JOURNEY_RATELIMIT_STRATEGY``. Each
request counts against its organization/journey pair, against its client (a salted hash of its
address, known only to the limiter's storage) and, from an origin the journey does not list,
against that origin. A host app's own flask-limiter, if any, is left entirely alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Sequence
from functools import lru_cache

from flask import Flask
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import STRATEGIES, RateLimiter
from peewee import Database

from .config import Settings
from .events import Tenant
from .models import Usage, utcnow
from .outages import OutageLog
from .outcomes import OriginRejected, RateLimited, Unavailable
from .privacy import is_origin, url_origin

log = logging.getLogger(__name__)

#: Every key flask-journey counts under starts with this, apart from a host's own limits.
KEY_PREFIX = "journey"
LIMITED = "Rate limit exceeded for organization"


@lru_cache(maxsize=256)
def _limits(text: str) -> tuple[RateLimitItem, ...]:
    """An organization's rate-limit string, parsed once."""
    return tuple(parse_many(text))


def origin_is_listed(allowed: Sequence[str], origin: str | None) -> bool | None:
    """Whether ``origin`` may send events to a journey allowing ``allowed``.

    True: listed. None: accepted but unknown (no list, or no Origin header at all, as from a
    server). False: the journey lists origins and this one is not among them, or is not
    exactly an origin (``scheme://host[:port]`` in lower case, see :func:`is_origin`).
    """
    if not allowed or origin is None:
        return None
    return origin in allowed and is_origin(origin)


def is_loopback(address: str | None) -> bool:
    """True for no address and for a loopback one: a reverse proxy on the same host.

    Behind a proxy whose ``X-Forwarded-For`` the app does not trust (werkzeug's ``ProxyFix``),
    every request comes from the proxy; counting them as one client would limit the whole site.
    """
    if not address:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def client_key(salt: bytes, address: str) -> str:
    """The name a client's address is counted under: a salted hash, never the address."""
    return hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()[:32]


class Guard:
    """Per-app admission checks, built in ``init_app`` and kept in the extension state.

    ``client_salt()`` gives the salt of the client hash (the installation's, kept in its
    database), asked for on the first request a per-client limit applies to.
    """

    def __init__(
        self,
        app: Flask,
        settings: Settings,
        database: Database,
        client_salt: Callable[[], bytes] | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.enabled = settings.ratelimit_enabled
        self.default_limits = parse_many(settings.ratelimit_default)
        self.unknown_origin_limits = parse_many(settings.ratelimit_unknown_origin)
        self.storage_outage = OutageLog("rate-limit storage")
        per_client = settings.ratelimit_per_client
        self.per_client_limits = parse_many(per_client) if per_client else []
        self.client_salt = client_salt
        storage = storage_from_string(
            settings.ratelimit_storage_uri, **settings.ratelimit_storage_options
        )
        self.limiter: RateLimiter = STRATEGIES[settings.ratelimit_strategy](storage)
        if (
            self.enabled
            and settings.ratelimit_storage_uri.startswith("memory://")
            and not (app.testing or app.debug)
        ):
            log.warning(
                "flask-journey counts rate limits in memory (JOURNEY_RATELIMIT_STORAGE_URI is "
                "memory://): each worker process counts on its own and forgets on restart; "
                "set it to a redis:// URI for a site served by several processes"
            )

    def admit(
        self,
        tenant: Tenant,
        *origins: str | None,
        authenticated: bool = False,
        client: str | None = None,
    ) -> None:
        """Check the origins and the rate limits for one request; raise an outcome if refused.

        Every origin given (the ``Origin`` header first, then others such as an event's URL)
        must be allowed. The request counts as coming from a known origin only when its
        ``Origin`` header is listed: the others are written by whoever sends the request.
        ``client`` is the address the request came from. Requests ``authenticated`` by a secret
        key (a server sending for many visitors) are held to neither the unknown-origin nor the
        per-client limit.
        """
        allowed = tenant.journey.allowed_origins
        given = [origin for origin in origins if origin]
        verdicts = [origin_is_listed(allowed, origin) for origin in given]
        rejected = [o for o, listed in zip(given, verdicts, strict=True) if listed is False]
        if rejected:
            raise OriginRejected(f"Origin {rejected[0][:255]} is not allowed for this journey")
        if not self.enabled:
            return
        journey = str(tenant.journey.id)
        origin = origins[0] if origins else None
        listed = bool(origin) and origin_is_listed(allowed, origin)
        if not authenticated:
            if not listed:
                key = url_origin(origin) or "none"
                self._hit(self.unknown_origin_limits, "unknown-origin", journey, key)
            if self.per_client_limits and self.client_salt and not is_loopback(client):
                self._hit(
                    self.per_client_limits,
                    "client",
                    journey,
                    client_key(self.client_salt(), client or ""),
                )
        limits = _limits(tenant.org.rate_limit) if tenant.org.rate_limit else self.default_limits
        self._hit(limits, "pair", str(tenant.org.id), journey)

    def _hit(self, limits: Sequence[RateLimitItem], *keys: str) -> None:
        try:
            for item in limits:
                if not self.limiter.hit(item, KEY_PREFIX, *keys):
                    self.storage_outage.succeeded()
                    reset = self.limiter.get_window_stats(item, KEY_PREFIX, *keys).reset_time
                    raise RateLimited(LIMITED, max(1, math.ceil(reset - time.time())))
        except RateLimited:
            raise
        except Exception as exc:  # the storage backend's own errors (redis, memcached, ...)
            fail_open = self.settings.ratelimit_fail_open
            self.storage_outage.failed(exc, "admitted" if fail_open else "answered 503")
            if fail_open:
                return
            raise Unavailable("Rate limiting is temporarily unavailable") from exc
        self.storage_outage.succeeded()

    def check_quota(self, tenant: Tenant, events: int) -> None:
        """Refuse ``events`` more events if they would take the organization past its quota."""
        quota = tenant.org.monthly_quota
        if quota is None:
            return
        now = utcnow()
        used = (
            Usage.select(Usage.events)
            .where(Usage.organization == tenant.org.id, Usage.period == now.strftime("%Y-%m"))
            .scalar(self.database)
            or 0
        )
        if used + events > quota:
            first_of_next = (now.replace(day=1) + dt.timedelta(days=32)).replace(
                day=1, hour=0, minute=0, second=0, microsecond=0
            )
            retry = math.ceil((first_of_next - now).total_seconds())
            raise RateLimited("Monthly event quota exceeded for organization", retry, quota=True)

"""Who may see a dashboard: the host's ``dashboard_access`` hook, or a sign-in with a secret key.

A sign-in is a signed cookie (the app's ``SECRET_KEY``) naming the organization and the lookup
part of the key used, never the key; it stops working when that key is revoked. Forms carry a
CSRF token bound to a random cookie of the browser. Failed sign-ins are counted per client
address (hashed) with the ``limits`` library in ``JOURNEY_RATELIMIT_STORAGE_URI``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from flask import Request, Response, current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .. import tenants
from ..config import Settings
from ..models import ApiKey, Organization
from ..outcomes import Unauthenticated

#: Cookie names: the sign-in, and the random value CSRF tokens are bound to.
SESSION_COOKIE = "journey_dashboard"
CSRF_COOKIE = "journey_csrf"

#: ``function(org) -> bool``, registered with :meth:`flask_journey.Journey.dashboard_access`.
AccessHook = Callable[[Organization], bool]


class SignInLimited(Exception):
    """Too many failed sign-ins from this client address."""


@dataclass(frozen=True)
class SignedIn:
    """A browser signed in to one organization with one of its keys."""

    org_id: int
    key_lookup: str


def _secret() -> str:
    key = current_app.config.get("SECRET_KEY")
    if not key:
        raise RuntimeError("the journey dashboard's sign-in needs the app's SECRET_KEY")
    return key if isinstance(key, str) else key.decode()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(), salt="flask-journey-dashboard-session")


class Access:
    """The dashboard's access rules for one app."""

    def __init__(self, settings: Settings, hook: Callable[[], AccessHook | None]) -> None:
        self.settings = settings
        self._hook = hook
        self._limit = parse(settings.dashboard_signin_limit)
        self._limiter: FixedWindowRateLimiter | None = None

    # -- the host's hook and the sign-in cookie --------------------------------------------

    def signed_in(self, request: Request) -> SignedIn | None:
        """The sign-in the request's cookie carries, if valid and its key not revoked."""
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        try:
            org_id, lookup = _serializer().loads(
                value, max_age=self.settings.dashboard_session_seconds
            )
        except (BadSignature, ValueError, TypeError):
            return None
        active = ApiKey.select().where(
            ApiKey.organization == org_id, ApiKey.lookup == lookup, ApiKey.revoked_at.is_null()
        )
        return SignedIn(org_id, lookup) if active.exists() else None

    def allows(self, request: Request, org: Organization) -> bool:
        """Whether the request may see ``org``: the host's hook says so, or it signed in."""
        hook = self._hook()
        if hook is not None and hook(org):
            return True
        signed = self.signed_in(request)
        return signed is not None and signed.org_id == org.id

    # -- signing in --------------------------------------------------------------------------

    def _rate_limiter(self) -> FixedWindowRateLimiter:
        if self._limiter is None:
            storage = storage_from_string(
                self.settings.ratelimit_storage_uri, **self.settings.ratelimit_storage_options
            )
            self._limiter = FixedWindowRateLimiter(storage)
        return self._limiter

    @staticmethod
    def _client(request: Request) -> str:
        # The address is only a counter's key, and hashed even there.
        address = request.remote_addr or ""
        return hmac.new(_secret().encode(), address.encode(), hashlib.sha256).hexdigest()[:32]

    def sign_in(self, request: Request, key: str) -> tuple[Organization, str]:
        """The organization of a secret key and the cookie value that signs the browser in.

        Raises :class:`SignInLimited` after too many failures from the client, and
        :class:`~flask_journey.outcomes.Unauthenticated` for a wrong key.
        """
        client = self._client(request)
        limiter = self._rate_limiter()
        if not limiter.test(self._limit, "journey-dashboard-signin", client):
            raise SignInLimited()
        try:
            org = tenants.authenticate(f"Bearer {key.strip()}")
        except Unauthenticated:
            limiter.hit(self._limit, "journey-dashboard-signin", client)
            raise
        lookup = key.strip().split("_")[1]
        return org, _serializer().dumps([org.id, lookup])

    # -- CSRF --------------------------------------------------------------------------------

    @staticmethod
    def csrf_seed(request: Request) -> tuple[str, bool]:
        """The browser's CSRF cookie value, and whether it is new (to be set)."""
        seed = request.cookies.get(CSRF_COOKIE)
        if seed and len(seed) == 43:
            return seed, False
        return secrets.token_urlsafe(32), True

    @staticmethod
    def csrf_token(seed: str) -> str:
        """The token forms carry for a CSRF cookie value."""
        return hmac.new(_secret().encode(), f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, request: Request) -> bool:
        """Whether a POST carries the token of the browser's CSRF cookie."""
        seed = request.cookies.get(CSRF_COOKIE)
        sent = request.form.get("csrf_token", "")
        if not seed:
            return False
        return hmac.compare_digest(self.csrf_token(seed), sent)

    def set_cookie(
        self, response: Response, request: Request, name: str, value: str, max_age: int | None
    ) -> None:
        """Set one of the dashboard's cookies: HttpOnly, SameSite=Lax, Secure over HTTPS,
        scoped to the dashboard's path."""
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=self.settings.dashboard_url or "/",
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )

"""Who may see a dashboard: the host's ``dashboard_access`` hook, or a sign-in with a secret key.

A sign-in is a row (:class:`~flask_journey.models.DashboardSession`, the SHA-256 of a random
session id) and a cookie signed with the dashboard's key (:mod:`.signing`) naming the
organization, the lookup part of the key used (never the key) and the session id. It stops
working when the browser signs out (the row is deleted, so a copy of the cookie stops too), when
it is ``JOURNEY_DASHBOARD_SESSION_SECONDS`` old, or when its key is revoked. Only keys with the
``read`` scope sign in. Forms carry a CSRF token bound to a random cookie of the browser, a new
one at each sign-in. Failed sign-ins are counted per client address (hashed) with the
``limits`` library in ``JOURNEY_RATELIMIT_STORAGE_URI``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from flask import Request, Response, current_app, g
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .. import tenants
from ..config import Settings
from ..models import ApiKey, DashboardSession, Organization, utcnow
from ..outcomes import Unauthenticated
from ..signing import SigningKeys

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
    #: The id of the key's row (share links made in this sign-in name it).
    key_id: int
    session: str


def _hash(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()


class Access:
    """The dashboard's access rules for one app."""

    def __init__(
        self, settings: Settings, hook: Callable[[], AccessHook | None], keys: SigningKeys
    ) -> None:
        self.settings = settings
        self.keys = keys
        self._hook = hook
        self._limit = parse(settings.dashboard_signin_limit)
        self._limiter: FixedWindowRateLimiter | None = None

    def signing_keys(self) -> list[bytes]:
        """The current app's signing keys, the one to sign with last."""
        return self.keys.all(current_app.config)

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.signing_keys(), salt="flask-journey-dashboard-session")

    # -- the host's hook and the sign-in cookie --------------------------------------------

    def signed_in(self, request: Request) -> SignedIn | None:
        """The sign-in the request's cookie carries, if valid: its session not ended, its key
        not revoked. Read once per request."""
        if "_journey_signed_in" not in g:
            g._journey_signed_in = self._read_cookie(request)
        return g._journey_signed_in

    def _read_cookie(self, request: Request) -> SignedIn | None:
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        max_age = self.settings.dashboard_session_seconds
        try:
            org_id, lookup, session = self._serializer().loads(value, max_age=max_age)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(session, str):
            return None
        key = (
            ApiKey.select(ApiKey.id, ApiKey.scopes)
            .join(DashboardSession)
            .where(
                DashboardSession.token_hash == _hash(session),
                ApiKey.organization == org_id,
                ApiKey.lookup == lookup,
                ApiKey.revoked_at.is_null(),
            )
            .first()
        )
        if key is None or not key.allows("read"):
            return None
        return SignedIn(org_id, lookup, key.id, session)

    def allows(self, request: Request, org: Organization) -> bool:
        """Whether the request may see ``org``: the host's hook says so, or it signed in."""
        hook = self._hook()
        if hook is not None and hook(org):
            return True
        signed = self.signed_in(request)
        return signed is not None and signed.org_id == org.id

    # -- signing in and out -------------------------------------------------------------------

    def _rate_limiter(self) -> FixedWindowRateLimiter:
        if self._limiter is None:
            storage = storage_from_string(
                self.settings.ratelimit_storage_uri, **self.settings.ratelimit_storage_options
            )
            self._limiter = FixedWindowRateLimiter(storage)
        return self._limiter

    def _client(self, request: Request) -> str:
        # The address is only a counter's key, and hashed even there.
        address = request.remote_addr or ""
        key = self.signing_keys()[-1]
        return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]

    def sign_in(self, request: Request, key: str) -> tuple[Organization, str]:
        """The organization of a secret key and the cookie value that signs the browser in.

        Raises :class:`SignInLimited` after too many failures from the client,
        :class:`~flask_journey.outcomes.Unauthenticated` for a wrong key and
        :class:`~flask_journey.outcomes.InsufficientScope` for one without the ``read`` scope.
        """
        client = self._client(request)
        limiter = self._rate_limiter()
        if not limiter.test(self._limit, "journey-dashboard-signin", client):
            raise SignInLimited()
        try:
            found = tenants.authenticate_key(f"Bearer {key.strip()}", "read")
        except Unauthenticated:
            limiter.hit(self._limit, "journey-dashboard-signin", client)
            raise
        session = secrets.token_urlsafe(32)
        lifetime = dt.timedelta(seconds=self.settings.dashboard_session_seconds)
        DashboardSession.delete().where(DashboardSession.created_at < utcnow() - lifetime).execute()
        DashboardSession.create(api_key=found, token_hash=_hash(session))
        cookie = self._serializer().dumps([found.organization.id, found.lookup, session])
        return found.organization, cookie

    def sign_out(self, request: Request) -> None:
        """End the request's sign-in, wherever its cookie is: it is not accepted again."""
        signed = self.signed_in(request)
        if signed is not None:
            DashboardSession.delete().where(
                DashboardSession.token_hash == _hash(signed.session)
            ).execute()

    # -- CSRF --------------------------------------------------------------------------------

    @staticmethod
    def csrf_seed(request: Request) -> tuple[str, bool]:
        """The browser's CSRF cookie value, and whether it is new (to be set)."""
        seed = request.cookies.get(CSRF_COOKIE)
        if seed and len(seed) == 43:
            return seed, False
        return Access.new_csrf_seed(), True

    @staticmethod
    def new_csrf_seed() -> str:
        """A new random CSRF cookie value (each sign-in gets one)."""
        return secrets.token_urlsafe(32)

    def csrf_token(self, seed: str) -> str:
        """The token forms carry for a CSRF cookie value."""
        return self._csrf_token(self.signing_keys()[-1], seed)

    @staticmethod
    def _csrf_token(key: bytes, seed: str) -> str:
        return hmac.new(key, f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, request: Request) -> bool:
        """Whether a POST carries the token of the browser's CSRF cookie."""
        seed = request.cookies.get(CSRF_COOKIE)
        sent = request.form.get("csrf_token", "")
        if not seed:
            return False
        # Every key is tried, so that a form opened before a key rotation still works.
        return any(
            hmac.compare_digest(self._csrf_token(key, seed), sent) for key in self.signing_keys()
        )

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

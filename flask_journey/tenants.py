"""Finding organizations and journeys: from a request's credential (the ingest hot path, cached
in :class:`TenantCache`), from a secret key with a scope (:func:`authenticate`), and by slug for the
management callers (:func:`get_org`, :func:`get_journey`).

Creating and changing them is :mod:`flask_journey.api`'s job; it calls :func:`changed` so that
no cached tenant outlives a change.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import weakref

from peewee import Database, Model

from .db import per_database
from .events import Tenant, TenantJourney, TenantOrganization
from .models import ApiKey, Journey, Organization
from .outcomes import InsufficientScope, TenantNotFound, Unauthenticated


class TenantError(ValueError):
    """What a management call cannot do, with a message for the operator.

    ``argument`` names the argument at fault (``"slug"``, ``"origins"``, ...), or is None.
    """

    def __init__(self, message: str, argument: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument


def tenant_of(org: Organization, journey: Journey) -> Tenant:
    """The plain value of an organization and one of its journeys, as a request uses them."""
    return Tenant(
        TenantOrganization(org.id, org.slug, org.rate_limit, org.monthly_quota),
        TenantJourney(
            journey.id, journey.slug, journey.public_key, tuple(journey.allowed_origins or ())
        ),
    )


def _journeys():
    return Journey.select(Journey, Organization).join(Organization)


#: The conditions each ingest lookup selects a journey by, with placeholder values.
_LOOKUPS = {
    "slugs": lambda: (Organization.slug == "", Journey.slug == ""),
    "public_key": lambda: (Journey.public_key == "",),
    "ids": lambda: (Organization.id == 0, Journey.id == 0),
}


@per_database
def _lookup_sql(db: Database, lookup: str) -> str:
    """The SQL of a lookup, compiled once per database: building it costs more than running it."""
    return db.get_sql_context().sql(_journeys().where(*_LOOKUPS[lookup]())).query()[0]


def _instance(model: type[Model], values: tuple) -> Model:
    fields = model._meta.sorted_fields
    return model(**{f.name: f.python_value(v) for f, v in zip(fields, values, strict=True)})


def _find(db: Database, lookup: str, *params: object) -> Tenant | None:
    """The journey and organization a lookup finds, read from ``db``."""
    row = db.execute_sql(_lookup_sql(db, lookup), params).fetchone()
    if row is None:
        return None
    split = len(Journey._meta.sorted_fields)
    org = _instance(Organization, row[split:])
    journey = _instance(Journey, row[:split])
    return tenant_of(org, journey)


#: How many changes to organizations, journeys and keys this process has made in each
#: database; a tenant cached before the latest one is not used.
_changes: weakref.WeakKeyDictionary[Database, int] = weakref.WeakKeyDictionary()
_changes_lock = threading.Lock()


def changed(db: Database) -> None:
    """Forget every tenant this process has cached from ``db``: one was just changed there."""
    with _changes_lock:
        _changes[db] = _changes.get(db, 0) + 1


class TenantCache:
    """The tenants ingest lookups found in ``database``, kept ``max_age`` seconds in this process.

    A change made in this process (through :mod:`flask_journey.api`) empties it at
    once; a change made by another process is seen within ``max_age`` seconds. Only tenants
    that were found are kept, so a journey is usable as soon as it is created. ``max_age`` 0
    reads every lookup from the database.
    """

    #: Entries kept at most; past that the cache starts again empty.
    MAX_ENTRIES = 10_000

    def __init__(self, max_age: float, database: Database) -> None:
        self.max_age = max_age
        #: The database the lookups read.
        self.database = database
        self._entries: dict[tuple, tuple[float, int, Tenant]] = {}

    def find(self, lookup: str, *params: object) -> Tenant | None:
        """The tenant ``lookup`` finds with ``params``, or None."""
        db = self.database
        if not self.max_age:
            return _find(db, lookup, *params)
        key = (db, lookup, *params)
        now = time.monotonic()
        entry = self._entries.get(key)
        generation = _changes.get(db, 0)  # before reading, so a change made meanwhile shows
        if entry is not None and entry[0] > now and entry[1] == generation:
            return entry[2]
        tenant = _find(db, lookup, *params)
        if tenant is not None:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now + self.max_age, generation, tenant)
        return tenant


def by_slugs(org_slug: str, journey_slug: str, cache: TenantCache) -> Tenant:
    """Find a journey by organization and journey slug (seed 000's ``orgKey``/``journeyKey``)."""
    tenant = cache.find("slugs", org_slug, journey_slug)
    if tenant is None:
        if not Organization.select().where(Organization.slug == org_slug).exists(cache.database):
            raise TenantNotFound("organization")
        raise TenantNotFound("journey")
    return tenant


def by_public_key(public_key: str, cache: TenantCache) -> Tenant:
    """Find a journey by its public key (``pk_...``)."""
    tenant = cache.find("public_key", public_key)
    if tenant is None:
        raise TenantNotFound("journey")
    return tenant


def by_ids(account_id: int, tracker_id: int, cache: TenantCache) -> Tenant:
    """Find a journey by organization id and journey id (seed 002's ``aid``/``tid``)."""
    tenant = cache.find("ids", account_id, tracker_id)
    if tenant is None:
        if not Organization.select().where(Organization.id == account_id).exists(cache.database):
            raise TenantNotFound("organization")
        raise TenantNotFound("journey")
    return tenant


def hash_secret(secret: str) -> str:
    """The hash a secret key is kept as."""
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate_key(authorization: str | None, scope: str) -> ApiKey:
    """The secret key in an ``Authorization: Bearer`` header value, with its organization.

    The key's lookup part finds the row; the hashes are compared in constant time. A missing,
    unknown or revoked key raises :class:`~flask_journey.outcomes.Unauthenticated`; a key
    without ``scope`` (one of :data:`~flask_journey.models.SCOPES`) raises
    :class:`~flask_journey.outcomes.InsufficientScope`. Keys created before scopes existed
    have every scope.
    """
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    parts = secret.split("_")
    if scheme.lower() != "bearer" or len(parts) != 3 or parts[0] != "sk":
        raise Unauthenticated("Missing or malformed API key")
    key = (
        ApiKey.select(ApiKey, Organization)
        .join(Organization)
        .where(ApiKey.lookup == parts[1], ApiKey.revoked_at.is_null())
        .first()
    )
    expected = key.secret_hash if key else hash_secret("")
    if not hmac.compare_digest(expected, hash_secret(secret)) or key is None:
        raise Unauthenticated("Invalid API key")
    if not key.allows(scope):
        raise InsufficientScope(scope)
    return key


def authenticate(authorization: str | None, scope: str) -> Organization:
    """The organization whose secret key, with ``scope``, is in an ``Authorization`` header
    value (see :func:`authenticate_key`)."""
    return authenticate_key(authorization, scope).organization


def get_org(slug: str) -> Organization:
    """The organization ``slug`` names; :class:`TenantError` if there is none."""
    org = Organization.get_or_none(Organization.slug == slug)
    if org is None:
        raise TenantError(f"organization {slug!r} not found", "org")
    return org


def get_journey(org: Organization, slug: str) -> Journey:
    """The journey ``slug`` names in ``org``; :class:`TenantError` if there is none."""
    journey = Journey.get_or_none(Journey.organization == org, Journey.slug == slug)
    if journey is None:
        raise TenantError(f"journey {slug!r} not found in organization {org.slug!r}", "journey")
    return journey

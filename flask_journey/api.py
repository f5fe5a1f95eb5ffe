"""The public Python API: what a site does with flask-journey from its own code.

``from flask_journey import api``, then, inside an app context of an app using the extension
(a request, a ``flask`` command, ``with app.app_context():``), as with flask-sqlalchemy's
``db.session``::

    api.create_organization("example-org")
    api.create_journey("example-org", "grant", origins=["https://grants.example.com"],
                       steps=["eligibility", "details", "submitted"])
    secret = api.create_key("example-org", scopes=["read"])
    report = api.report("example-org", "grant")

Every function works on the current app's database and settings; outside an app context it
raises :class:`RuntimeError`. On an empty SQLite database the first call creates the tables, as
the ``flask journey`` commands and ingest do (any other database gets them from ``flask journey
migrate``). What it cannot do (an unknown organization or journey, an
invalid slug, origin, step, rate limit, quota or report option) raises :class:`TenantError`, a
:class:`ValueError` whose message is meant for the operator. The ``flask journey`` commands and
the management API (``/api/journeys``) are built on these functions.

- Organizations: :func:`create_organization`, :func:`get_organization`,
  :func:`update_organization`. Functions that take an ``org`` accept an
  :class:`Organization` or its slug.
- Journeys: :func:`create_journey`, :func:`get_journey`, :func:`list_journeys`,
  :func:`update_journey` (allowed origins, steps). A journey is named by its slug within its
  organization; the functions return the journey model (``.slug``, ``.public_key``,
  ``.allowed_origins``, ``.configured_steps()``, ``.to_dict()`` as ``flask journey show``
  prints it).
- Secret keys: :func:`create_key` (the secret, returned once, with its :data:`SCOPES`),
  :func:`list_keys`, :func:`revoke_key` (and the share links made with it).
- Usage: :func:`usage` (events and requests per month against the quota, by journey).
- Events: :func:`store_events` (journey events from Python, through the ingest flow),
  :func:`has_events`, :func:`event_counts`, :func:`demo_data` (simulated visitors),
  :func:`export_events` and :func:`count_events` (every stored column, a chunk at a time),
  :func:`stats` (counts by journey, type, folded value and refusal), :func:`purge` and
  :func:`retention_cutoff` (deleting old events).
- Share links of the dashboard: :func:`create_share`, :func:`list_shares`,
  :func:`revoke_share`.
- Reports: :func:`report`, :func:`report_options`, :func:`refresh`.
- The schema: :func:`create_tables`.

``docs/python-api.md`` is the user guide to this module.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from flask import current_app
from limits import parse_many
from peewee import IntegrityError, fn

from . import applications, demo, identities, migrations, reports, shares, tenants
from .db import current_database
from .events import FIELDS
from .ingest import Stored, store_batch
from .installation import dashboard_secret_of
from .models import (
    SCOPES,
    ApiKey,
    DashboardSession,
    Event,
    Journey,
    JourneyLabels,
    JourneySteps,
    JourneyUsage,
    Organization,
    RefusalCount,
    ShareLink,
    Usage,
    database,
    utcnow,
)
from .origins import allowed_origin
from .reports import rolling, rollups
from .reports.refresh import Refreshed, folded, forget_before, roll
from .reports.refresh import rebuild as _rebuild
from .reports.refresh import refresh as _refresh
from .reports.vocabulary import Limits
from .signing import SigningKeys
from .state import JourneyState, app_state
from .tenants import TenantError

__all__ = [
    "EXPORT_FIELDS",
    "PURGE_CHUNK",
    "SCOPES",
    "UNCHANGED",
    "Organization",
    "TenantError",
    "count_events",
    "count_old_events",
    "create_journey",
    "create_key",
    "create_organization",
    "create_share",
    "create_tables",
    "demo_data",
    "event_counts",
    "export_events",
    "get_journey",
    "get_organization",
    "has_events",
    "list_journeys",
    "list_keys",
    "list_shares",
    "purge",
    "refresh",
    "report",
    "report_options",
    "retention_cutoff",
    "revoke_key",
    "revoke_share",
    "stats",
    "store_events",
    "update_journey",
    "update_organization",
    "usage",
]

#: What an organization or journey slug may be: lower-case letters, digits, ``-`` and ``_``.
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: The most steps a journey may configure, and the longest step key (as events carry them).
MAX_STEPS = 100
MAX_STEP_LENGTH = 128
#: The longest allowed origin.
MAX_ORIGIN_LENGTH = 255
#: The most labels a journey may give its step and field keys, the longest key labelled (as
#: events carry keys) and the longest label.
MAX_LABELS = 500
MAX_LABELLED_KEY_LENGTH = 128
MAX_LABEL_LENGTH = 100


class _Unchanged(enum.Enum):
    UNCHANGED = "unchanged"


#: The default of :func:`update_organization`'s settings: leave the value as it is.
UNCHANGED = _Unchanged.UNCHANGED


def _state() -> JourneyState:
    """The current app's state, its database given the tables first if it is an empty SQLite."""
    state = app_state()
    migrations.create_once(state.database)
    return state


# -- organizations ---------------------------------------------------------------------------


def _rate_limit(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        valid = isinstance(value, str) and bool(parse_many(value))
    except ValueError:
        valid = False
    if not valid:
        raise TenantError(f"invalid rate limit {value!r} (e.g. '5000 per hour')", "rate_limit")
    return value


def _quota(value: int | None) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise TenantError(f"invalid quota {value!r} (a number of events, 0 or more)", "quota")


def _slug(value: str, what: str) -> str:
    if not isinstance(value, str) or not SLUG.match(value):
        raise TenantError(f"invalid {what} slug {value!r} (a-z, 0-9, - and _)", "slug")
    return value


def create_organization(
    slug: str, *, rate_limit: str | None = None, quota: int | None = None
) -> Organization:
    """Create an organization.

    ``rate_limit`` (such as ``"5000 per hour"``) replaces ``JOURNEY_RATELIMIT_DEFAULT`` for its
    journeys; ``quota`` is the events it may store per calendar month (UTC). None: the default
    limit, no quota.
    """
    _state()
    slug, rate_limit, quota = _slug(slug, "organization"), _rate_limit(rate_limit), _quota(quota)
    try:
        with database.atomic():
            return Organization.create(slug=slug, rate_limit=rate_limit, monthly_quota=quota)
    except IntegrityError:
        raise TenantError(f"organization {slug!r} already exists", "slug") from None


def get_organization(slug: str) -> Organization:
    """The organization ``slug`` names."""
    _state()
    return tenants.get_org(slug)


def _org(org: Organization | str) -> Organization:
    _state()
    return org if isinstance(org, Organization) else tenants.get_org(org)


def update_organization(
    org: Organization | str,
    *,
    rate_limit: str | None | _Unchanged = UNCHANGED,
    quota: int | None | _Unchanged = UNCHANGED,
) -> Organization:
    """Change an organization's rate limit or monthly quota (as :func:`create_organization`
    takes them; None clears one); a setting not given stays as it is. Ingest sees the change at
    once in this process, within ``JOURNEY_TENANT_CACHE_SECONDS`` in others."""
    org = _org(org)
    changes: dict[str, Any] = {}
    if rate_limit is not UNCHANGED:
        changes["rate_limit"] = _rate_limit(rate_limit)
    if quota is not UNCHANGED:
        changes["monthly_quota"] = _quota(quota)
    for name, value in changes.items():
        setattr(org, name, value)
    org.save()
    tenants.changed(current_database())
    return org


# -- journeys --------------------------------------------------------------------------------


def _origins(origins: Iterable[str]) -> list[str]:
    """Allowed origins checked and brought to ``scheme://host[:port]`` form, without repeats
    (:func:`flask_journey.origins.allowed_origin`)."""
    if isinstance(origins, str):
        raise TenantError("origins must be a list of origins, not one string", "origins")
    result: list[str] = []
    for origin in origins:
        if isinstance(origin, str) and len(origin) > MAX_ORIGIN_LENGTH:
            raise TenantError(f"invalid origin: {origin[:40]!r}... (too long)", "origins")
        try:
            normal = allowed_origin(origin)
        except ValueError as why:
            raise TenantError(
                f"invalid origin: {origin!r}: {why} (expected https://host[:port])", "origins"
            ) from None
        if normal not in result:
            result.append(normal)
    return result


def _steps(steps: Iterable[str]) -> list[str]:
    """A journey's steps checked: distinct keys of 1 to 128 characters, in order."""
    if isinstance(steps, str):
        raise TenantError("steps must be a list of step keys, not one string", "steps")
    steps = list(steps)
    if len(steps) > MAX_STEPS:
        raise TenantError(f"at most {MAX_STEPS} steps", "steps")
    for step in steps:
        if not isinstance(step, str) or not 0 < len(step) <= MAX_STEP_LENGTH:
            raise TenantError(f"invalid step {step!r} (1 to {MAX_STEP_LENGTH} characters)", "steps")
    if len(set(steps)) != len(steps):
        raise TenantError("steps must not repeat", "steps")
    return steps


def _labels(labels: Mapping[str, str]) -> dict[str, str]:
    """A journey's labels checked: step or field keys of 1 to 128 characters, each with a
    label of 1 to 100 characters (spaces around it removed)."""
    if not isinstance(labels, Mapping):
        raise TenantError("labels must map step or field keys to labels", "labels")
    if len(labels) > MAX_LABELS:
        raise TenantError(f"at most {MAX_LABELS} labels", "labels")
    checked = {}
    for key, label in labels.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_LABELLED_KEY_LENGTH:
            raise TenantError(
                f"invalid labelled key {key!r} (1 to {MAX_LABELLED_KEY_LENGTH} characters)",
                "labels",
            )
        text = label.strip() if isinstance(label, str) else ""
        if not 0 < len(text) <= MAX_LABEL_LENGTH:
            raise TenantError(
                f"invalid label {label!r} for {key!r} (1 to {MAX_LABEL_LENGTH} characters)",
                "labels",
            )
        checked[key] = text
    return checked


def _optional(optional: Iterable[str], steps: list[str]) -> set[str]:
    """Optional steps checked: each one of the journey's steps."""
    if isinstance(optional, str):
        raise TenantError("optional must be a list of step keys, not one string", "optional")
    marked = set(optional)
    unknown = sorted(marked - set(steps))
    if unknown:
        raise TenantError(f"optional step {unknown[0]!r} is not one of the steps", "optional")
    return marked


def create_journey(
    org: Organization | str,
    slug: str,
    *,
    origins: Iterable[str] = (),
    steps: Iterable[str] = (),
) -> Journey:
    """Create a journey in ``org``, with a new public key (``pk_...``).

    ``origins`` are the pages' origins allowed to send its events (``https://host[:port]``;
    none: every origin); ``steps`` its steps in order, the reports' funnel.
    """
    org = _org(org)
    slug, allowed, steps = _slug(slug, "journey"), _origins(origins), _steps(steps)
    try:
        with database.atomic():
            journey = Journey.create(
                organization=org,
                slug=slug,
                public_key="pk_" + secrets.token_hex(12),
                allowed_origins=allowed,
            )
            if steps:
                JourneySteps.create(journey=journey, steps=steps)
    except IntegrityError:
        raise TenantError(f"journey {slug!r} already exists in {org.slug!r}", "slug") from None
    journey.organization = org
    return journey


def get_journey(org: Organization | str, slug: str) -> Journey:
    """The journey ``slug`` names in ``org``."""
    org = _org(org)
    journey = tenants.get_journey(org, slug)
    journey.organization = org
    return journey


def list_journeys(org: Organization | str) -> list[Journey]:
    """The journeys of ``org``, by slug."""
    org = _org(org)
    journeys = list(Journey.select().where(Journey.organization == org).order_by(Journey.slug))
    for journey in journeys:
        journey.organization = org
    return journeys


def update_journey(
    org: Organization | str,
    slug: str,
    *,
    origins: Iterable[str] | None = None,
    steps: Iterable[str] | None = None,
    labels: Mapping[str, str] | None = None,
    optional: Iterable[str] | None = None,
) -> Journey:
    """Replace a journey's allowed origins, its steps, the labels of its step and field keys,
    its optional steps, or several (origins and steps as :func:`create_journey` takes them,
    labels as ``{key: label}``, which the dashboard shows instead of the keys; an empty one
    clears it; ``optional``: the steps, of its steps, that a session may skip); None leaves one
    as it is (new steps keep the optional marks of those still among them). All are checked
    before any is changed."""
    journey = get_journey(org, slug)
    new_origins = None if origins is None else _origins(origins)
    new_steps = None if steps is None else _steps(steps)
    new_labels = None if labels is None else _labels(labels)
    kept_steps = journey.configured_steps() if new_steps is None else new_steps
    marked = journey.optional_steps() if optional is None else _optional(optional, kept_steps)
    new_optional = [step for step in kept_steps if step in marked]
    if optional is not None or new_steps is not None:
        new_steps = kept_steps
    with database.atomic():
        if new_labels is not None:
            JourneyLabels.delete().where(JourneyLabels.journey == journey.id).execute()
            if new_labels:
                JourneyLabels.create(journey=journey, labels=new_labels)
        if new_origins is not None:
            journey.allowed_origins = new_origins
            journey.save()
        if new_steps is not None:
            JourneySteps.delete().where(JourneySteps.journey == journey.id).execute()
            if new_steps:
                JourneySteps.create(journey=journey, steps=new_steps, optional=new_optional or None)
            # Drop-offs and where sessions came from depend on the steps: rolled up again.
            rollups.forget(_state().database, journey.id)
    if new_steps is not None:
        roll(_state().database, rolling(_state().settings))
    tenants.changed(current_database())
    return journey


# -- secret keys -----------------------------------------------------------------------------


def _scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    if isinstance(scopes, str):
        raise TenantError("scopes must be a list of scopes, not one string", "scopes")
    chosen = tuple(dict.fromkeys(scopes))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown or not chosen:
        raise TenantError(
            f"invalid scopes {list(chosen)!r}: choose one or more of {', '.join(SCOPES)}",
            "scopes",
        )
    return tuple(s for s in SCOPES if s in chosen)


def create_key(org: Organization | str, scopes: Iterable[str] = SCOPES) -> str:
    """Create a secret key for ``org`` and return it (``sk_<lookup>_<secret>``).

    ``scopes`` are what it may do, of :data:`SCOPES`: ``ingest`` (send events through the
    Events API), ``read`` (the report API, the dashboard and its share links), ``admin`` (the
    management API). Give a key only what its holder needs. This is the only time the secret
    is seen: only its hash is kept.
    """
    org = _org(org)
    chosen = _scopes(scopes)
    lookup = secrets.token_hex(6)
    secret = f"sk_{lookup}_{secrets.token_urlsafe(24).replace('_', '-')}"
    ApiKey.create(
        organization=org,
        lookup=lookup,
        secret_hash=tenants.hash_secret(secret),
        scopes=" ".join(chosen),
    )
    return secret


def list_keys(org: Organization | str) -> list[ApiKey]:
    """The secret keys of ``org``, oldest first, revoked ones included: each with its
    ``lookup`` (the part after ``sk_``), ``scope_list()`` (None for a key created before
    scopes, which has them all), ``created_at`` and ``revoked_at`` (None while active)."""
    org = _org(org)
    return list(
        ApiKey.select().where(ApiKey.organization == org).order_by(ApiKey.created_at, ApiKey.id)
    )


def revoke_key(org: Organization | str, lookup: str) -> int:
    """Revoke the active key of ``org`` whose lookup (``sk_<lookup>_...``) is ``lookup``, its
    dashboard sign-ins and the share links made with it; return how many links it revoked."""
    org = _org(org)
    key = ApiKey.get_or_none(
        ApiKey.organization == org, ApiKey.lookup == lookup, ApiKey.revoked_at.is_null()
    )
    if key is None:
        raise TenantError(f"no active key {lookup!r} in organization {org.slug!r}", "lookup")
    now = utcnow()
    with database.atomic():
        ApiKey.update(revoked_at=now).where(ApiKey.id == key.id).execute()
        DashboardSession.delete().where(DashboardSession.api_key == key.id).execute()
        return (
            ShareLink.update(revoked_at=now)
            .where(ShareLink.api_key == key.id, ShareLink.revoked_at.is_null())
            .execute()
        )


# -- usage -----------------------------------------------------------------------------------


def usage(org: Organization | str) -> dict[str, Any]:
    """What ``org`` has used, as metered for its quota: events and requests accepted per
    calendar month (UTC), and this month's against the quota, by journey.

    ``{"org": slug, "monthlyQuota": n or None, "months": {"YYYY-MM": {"events": n,
    "requests": n}, ...} (oldest first), "thisMonth": {"period": "YYYY-MM", "events": n,
    "requests": n, "quota": n or None, "remaining": n or None (never below 0), "journeys":
    [{"journeyKey": slug, "events": n, "requests": n}, ...]}}``: every journey of the
    organization, most events first. Journeys are metered since schema version 13: in the month
    of that upgrade their events add up to less than the organization's.
    """
    org = _org(org)
    period = utcnow().strftime("%Y-%m")
    months = {
        row.period: {"events": row.events, "requests": row.requests}
        for row in Usage.select().where(Usage.organization == org).order_by(Usage.period)
    }
    metered = {
        journey_id: (events, requests)
        for journey_id, events, requests in JourneyUsage.select(
            JourneyUsage.journey, JourneyUsage.events, JourneyUsage.requests
        )
        .join(Journey)
        .where(Journey.organization == org, JourneyUsage.period == period)
        .tuples()
    }
    journeys = [
        {
            "journeyKey": journey.slug,
            "events": metered.get(journey.id, (0, 0))[0],
            "requests": metered.get(journey.id, (0, 0))[1],
        }
        for journey in list_journeys(org)
    ]
    journeys.sort(key=lambda row: (-row["events"], row["journeyKey"]))
    current = months.get(period, {"events": 0, "requests": 0})
    quota = org.monthly_quota
    return {
        "org": org.slug,
        "monthlyQuota": quota,
        "months": months,
        "thisMonth": {
            "period": period,
            **current,
            "quota": quota,
            "remaining": None if quota is None else max(quota - current["events"], 0),
            "journeys": journeys,
        },
    }


# -- events ----------------------------------------------------------------------------------


def application_key(application: object) -> str:
    """The key of the application the site names ``application`` (a saved form's id): ``ak_``
    and an HMAC of it under the installation's secret, as ``journey_embed(...,
    application=...)`` renders it. Send it as ``applicationKey`` (:func:`store_events`'s
    ``context``); the id itself is never stored."""
    return applications.application_key(_state().application_secret(), application)


def store_events(
    org: Organization | str,
    journey: str,
    events: Iterable[Mapping[str, Any]],
    *,
    context: Mapping[str, Any] | None = None,
) -> Stored:
    """Store events of the journey from the site's own code, as ``POST /api/ingest`` would.

    ``events`` are journey events (``docs/formats/journey.md``: ``_tag``, ``id``, ``ts``,
    ``sessionId``, ``clientId``, ``url`` and the tag's own keys); ``schemaVersion``,
    ``orgKey`` and ``journeyKey`` are filled in when missing. ``context`` is the batch's
    context (``language``, ``deviceClass``, ``applicationKey`` from :func:`application_key`,
    ...). They go through the ingest flow (validation,
    privacy, the quota, one transaction) without its origin and rate-limit checks.

    Returns :class:`flask_journey.ingest.Stored`: events written (a retry writes none) and the
    ``(index, message)`` of each invalid event, which is not stored while the valid ones are.
    Raises :class:`TenantError` for an unknown organization or journey, and the
    :class:`flask_journey.outcomes.Refusal` of a batch refused whole (malformed, past the
    quota, storage unavailable), having stored nothing.
    """
    found = get_journey(org, journey)
    keys = {"orgKey": found.organization.slug, "journeyKey": found.slug}
    batch = {
        "schemaVersion": 1,
        "context": {**(context or {}), **keys},
        "events": [{"schemaVersion": 1, **keys, **event} for event in events],
    }
    return store_batch(_state(), batch)


def has_events(org: Organization | str, journey: str) -> bool:
    """Whether the journey has stored any event."""
    found = get_journey(org, journey)
    return Event.select().where(Event.journey == found).exists()


def event_counts(org: Organization | str, journey: str) -> dict[str, Any]:
    """What the journey has stored, counted from its raw events, over all time.

    ``{"events": n, "sessions": n, "byType": {type: events}, "steps": {step: {"sessions":
    sessions with a step_view of it, "dropoffs": its dropoff_signal events}}}``. For rates,
    funnels and date ranges use :func:`report`.
    """
    found = get_journey(org, journey)
    events = Event.select().where(Event.journey == found)
    by_type = dict(events.select(Event.type, fn.COUNT(Event.id)).group_by(Event.type).tuples())
    reached = (
        events.select(Event.step_key, fn.COUNT(Event.session_id.distinct()))
        .where(Event.type == "step_view", Event.step_key.is_null(False))
        .group_by(Event.step_key)
        .tuples()
    )
    dropoffs = (
        events.select(Event.step_key, fn.COUNT(Event.id))
        .where(Event.type == "dropoff_signal", Event.step_key.is_null(False))
        .group_by(Event.step_key)
        .tuples()
    )
    steps: dict[str, dict[str, int]] = {}
    for key, rows in (("sessions", reached), ("dropoffs", dropoffs)):
        for step, count in rows:
            steps.setdefault(step, {"sessions": 0, "dropoffs": 0})[key] = count
    return {
        "events": sum(by_type.values()),
        "sessions": events.select(fn.COUNT(Event.session_id.distinct())).scalar() or 0,
        "byType": dict(sorted(by_type.items())),
        "steps": steps,
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def _tenant_filter(query: Any, org: Organization | str | None, journey: str | None) -> Any:
    """``query`` (joined to Journey and Organization) narrowed to an organization or journey."""
    if journey is not None and org is None:
        raise TenantError("a journey is named within its organization: give both", "journey")
    if org is not None:
        query = query.where(Organization.id == _org(org).id)
    if journey is not None:
        assert org is not None  # checked above
        query = query.where(Journey.id == get_journey(org, journey).id)
    return query


def _events(org: Organization | str | None, journey: str | None) -> Any:
    query = Event.select(Event, Journey, Organization).join(Journey).join(Organization)
    return _tenant_filter(query, org, journey)


#: The keys of :func:`export_events`' rows: the tenant's slugs, then every stored column.
EXPORT_FIELDS = ("org", "journey", "wire_format", *FIELDS, "received_at")
EXPORT_CHUNK = 1000


def count_events(org: Organization | str | None = None, journey: str | None = None) -> int:
    """How many events are stored (of ``org``, of its ``journey``): the rows
    :func:`export_events` yields."""
    return _events(org, journey).count()


def export_events(
    org: Organization | str | None = None, journey: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every stored event (of ``org``, of its ``journey``) in storage order, read a chunk at a
    time, as a dict with the keys of :data:`EXPORT_FIELDS` (times as ISO 8601 UTC text)."""
    return _export_rows(_events(org, journey))


def _export_rows(query: Any) -> Iterator[dict[str, Any]]:
    last = 0
    while True:
        chunk = list(query.where(Event.id > last).order_by(Event.id).limit(EXPORT_CHUNK))
        if not chunk:
            return
        for event in chunk:
            row = {name: getattr(event, name, None) for name in EXPORT_FIELDS[2:]}
            row["org"] = event.journey.organization.slug
            row["journey"] = event.journey.slug
            row["occurred_at"] = _iso(event.occurred_at)
            row["received_at"] = _iso(event.received_at)
            yield {name: row[name] for name in EXPORT_FIELDS}
        last = chunk[-1].id


def stats(org: Organization | str | None = None, journey: str | None = None) -> dict[str, Any]:
    """What is stored, by ``"org/journey"`` (of ``org``, of its ``journey``): ``{"events": n,
    "byType": {type: n}, "sessions": n, "folded": {kind: n}, "refusals": {reason: n}}``;
    ``folded`` counts the values its reports fold into (other), ``refusals`` the events refused
    by reason (only for journeys that refused some)."""
    query = (
        _events(org, journey)
        .select(Organization.slug, Journey.slug, Journey.id, Event.type, fn.COUNT(Event.id))
        .group_by(Organization.slug, Journey.slug, Journey.id, Event.type)
        .order_by(Organization.slug, Journey.slug, Event.type)
        .tuples()
    )
    result: dict[str, Any] = {}
    ids: dict[str, int] = {}
    for org_slug, journey_slug, journey_id, type_, count in query:
        entry = result.setdefault(f"{org_slug}/{journey_slug}", {"events": 0, "byType": {}})
        entry["events"] += count
        entry["byType"][type_] = count
        ids[f"{org_slug}/{journey_slug}"] = journey_id
    sessions = (
        _events(org, journey)
        .select(Organization.slug, Journey.slug, fn.COUNT(Event.session_id.distinct()))
        .group_by(Organization.slug, Journey.slug)
        .tuples()
    )
    for org_slug, journey_slug, count in sessions:
        result[f"{org_slug}/{journey_slug}"]["sessions"] = count
    state = _state()
    for name, journey_id in ids.items():
        result[name]["folded"] = folded(state.database, journey_id)
    refused = (
        _tenant_filter(RefusalCount.select().join(Journey).join(Organization), org, journey)
        .select(Organization.slug, Journey.slug, RefusalCount.reason, fn.SUM(RefusalCount.count))
        .group_by(Organization.slug, Journey.slug, RefusalCount.reason)
        .tuples()
    )
    for org_slug, journey_slug, reason, count in refused:
        entry = result.setdefault(
            f"{org_slug}/{journey_slug}", {"events": 0, "byType": {}, "sessions": 0}
        )
        entry.setdefault("refusals", {})[reason] = int(count)
    return result


#: Events :func:`purge` deletes per transaction, by default.
PURGE_CHUNK = 5000


def retention_cutoff() -> dt.datetime:
    """The time before which ``JOURNEY_RETENTION_DAYS`` says events are deleted; a
    :class:`TenantError` when it is not set."""
    days = _state().settings.retention_days
    if days is None:
        raise TenantError("JOURNEY_RETENTION_DAYS is not set", "retention")
    return utcnow() - dt.timedelta(days=days)


def _old_events(before: dt.datetime, org: Organization | str | None) -> tuple[Any, Any]:
    old = Event.select(Event.id).where(Event.received_at < before)
    journeys = None
    if org is not None:
        journeys = Journey.select(Journey.id).where(Journey.organization == _org(org))
        old = old.where(Event.journey.in_(journeys))
    return old, journeys


def count_old_events(before: dt.datetime, org: Organization | str | None = None) -> int:
    """How many events (of ``org``) were received before ``before``: those :func:`purge`
    deletes."""
    return _old_events(before, org)[0].count()


def purge(
    before: dt.datetime,
    *,
    org: Organization | str | None = None,
    chunk: int = PURGE_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Delete the events (of ``org``) received before ``before`` (naive UTC), ``chunk`` per
    transaction so that ingest is never held up, with what the summaries and identities keep
    of them; return how many events were deleted. ``progress`` is called with each chunk's
    count."""
    state = _state()
    old, journeys = _old_events(before, org)
    deleted = 0
    while True:
        limited = old.order_by(Event.id).limit(chunk)
        count = Event.delete().where(Event.id.in_(limited)).execute()
        deleted += count
        if progress is not None:
            progress(count)
        if count < chunk:
            break
    forget_before(state.database, before, journeys)
    identities.forget_before(state.database, before, journeys)
    return deleted


def demo_data(
    org: Organization | str,
    journey: str,
    *,
    sessions: int = 500,
    days: int = 60,
    seed: int = 12,
    fields: Mapping[str, Sequence[str | demo.DemoField]] | None = None,
    pages: Mapping[str, str] | None = None,
    base_url: str = "https://demo.invalid",
) -> int:
    """Store ``sessions`` simulated visitors of the journey, spread over the last ``days`` days,
    through the ingest pipeline, then :func:`refresh` the reports; return the events stored.

    They follow the journey's steps; ``fields`` maps a step to its fields, as keys or as
    :class:`flask_journey.demo.DemoField` with the validation errors each can have (default:
    those its stored events name, else made-up ones); a step's page is ``pages[step]`` (a path
    on ``base_url``'s host), else ``base_url/<step>``. Only a successful submission reaches
    the last step. The same ``seed`` stores the same sessions, once.
    """
    found = get_journey(org, journey)
    stored = demo.simulate(
        _state().database,
        tenants.tenant_of(found.organization, found),
        sessions=sessions,
        days=days,
        seed=seed,
        fields=fields,
        pages=pages,
        base_url=base_url,
    )
    refresh()
    return stored


# -- share links -----------------------------------------------------------------------------


def _signing_keys(state: JourneyState) -> SigningKeys:
    return SigningKeys(dashboard_secret_of(state.database))


def create_share(org: Organization | str, journey: str, expires: str = "30d") -> str:
    """A new read-only share link's token for the journey's dashboard, valid for ``expires``
    (``12h``, ``30d``, ``2w``; at most ``JOURNEY_SHARE_MAX_DAYS``). Only its hash is kept: this
    is the only time it is seen. The link is ``url_for("journey_dashboard.shared", token=...)``.
    """
    state = _state()
    if state.settings.dashboard_url is None:
        raise TenantError("the dashboard is switched off (JOURNEY_DASHBOARD_URL is None)")
    try:
        lifetime = shares.parse_duration(expires, state.settings.share_max_days)
    except ValueError as exc:
        raise TenantError(str(exc), "expires") from None
    found = get_journey(org, journey)
    return shares.create(found, _signing_keys(state).all(current_app.config), lifetime)


def list_shares(org: Organization | str, journey: str) -> list[dict[str, Any]]:
    """The journey's share links, never their tokens: ``{"lookup", "status"`` (``active``,
    ``revoked``, ``expired`` or ``unverifiable``), ``"createdAt", "expiresAt"`` (ISO 8601 UTC,
    or ``None``), ``"apiKey"`` (the lookup of the secret key whose sign-in made it, or
    ``None``)``}``, newest first."""
    fingerprints = _signing_keys(_state()).fingerprints(current_app.config)
    return [
        {
            "lookup": link.lookup,
            "status": shares.status(link, fingerprints),
            "createdAt": _iso(link.created_at),
            "expiresAt": _iso(link.expires_at),
            "apiKey": link.api_key.lookup if link.api_key else None,
        }
        for link in shares.links(get_journey(org, journey))
    ]


def revoke_share(org: Organization | str, journey: str, lookup: str) -> bool:
    """Revoke the journey's active share link whose lookup is ``lookup``; False if it has none."""
    _state()
    return shares.revoke(get_journey(org, journey), lookup)


# -- reports ---------------------------------------------------------------------------------


def report(
    org: Organization | str,
    journey: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    filters: Mapping[str, str] | None = None,
    breakdown: str | None = None,
    compare: bool = True,
) -> dict[str, Any]:
    """The journey's report as plain data: totals, the step funnel, field friction, segments,
    the trend (``docs/reports.md`` defines every number).

    ``start`` and ``end`` are days, both included, in ``JOURNEY_REPORT_TIMEZONE`` (default:
    the 30 days that end today); ``filters`` maps segments (``device``, ``browser``, ``os``,
    ``language``, ``country``, ``source``) to the value a session must have; ``breakdown``
    names a segment to break the numbers down by; ``compare`` adds the previous period under
    ``"previous"``.
    The summaries are refreshed first as the app's ``refresh_policy`` says (by default when
    they are older than ``JOURNEY_REPORT_MAX_STALENESS``); with ``JOURNEY_REPORT_DATABASE_URL``
    the report is read from that replica as it stands, never refreshed.
    """
    state = _state()
    found = get_journey(org, journey)
    try:
        return reports.report(
            state.report_database,
            found,
            state.settings,
            start=start,
            end=end,
            filters=filters,
            breakdown=breakdown,
            compare=compare,
            refresh_policy=state.refresh_policy,
        )
    except reports.ReportError as exc:
        raise TenantError(str(exc), exc.parameter) from None


def report_options(args: Mapping[str, str | None]) -> dict[str, Any]:
    """:func:`report`'s keyword arguments from text parameters as a query string or a command
    line gives them: ``from``, ``to`` (``YYYY-MM-DD``), ``compare`` (``true``/``false``),
    ``breakdown`` and the segment filters by name."""
    try:
        return reports.parse_options(args)
    except reports.ReportError as exc:
        raise TenantError(str(exc), exc.parameter) from None


def refresh(*, rebuild: bool = False, progress: Callable[[int], None] | None = None) -> Refreshed:
    """Bring the report summaries up to date with the stored events (``flask journey
    refresh``); with ``rebuild``, forget them and build them again.

    ``progress`` is called with the number of events read after each chunk. Returns the events
    read and the sessions summarised (``.events``, ``.sessions``).
    """
    state = _state()
    limits = Limits.of(state.settings)
    return (_rebuild if rebuild else _refresh)(
        state.database, limits=limits, progress=progress, rolling=rolling(state.settings)
    )


# -- the schema ------------------------------------------------------------------------------


def create_tables() -> bool:
    """Create flask-journey's tables in the app's database if it has none (True); on one that
    has them, check that it needs no migration (False). Raises
    :class:`flask_journey.migrations.SchemaOutdated` for one an earlier release created
    (``flask journey migrate`` upgrades it)."""
    return migrations.initialise(app_state().database)

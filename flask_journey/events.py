"""The ground floor: the canonical event and the tenant, as typed values.

Every wire format maps its events to :class:`CanonicalEvent` values; the store
(:mod:`flask_journey.store`) derives the columns it writes from the class's fields
(:data:`FIELDS`), the reports read stored rows by these names, and
:class:`flask_journey.models.Event` has a column for each. This module imports nothing of the
package: the adapters (:mod:`flask_journey.formats`) sit on it, below storage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class CanonicalEvent:
    """One event, whatever wire format it arrived in: the one declaration of its fields.

    All but ``event_id``, ``type`` and ``occurred_at`` (naive UTC) are optional. Each field is
    a column of the events table but ``user_agent`` (:data:`TRANSIENT`): the store reduces it to
    ``device_class``, ``browser`` and ``os`` where the event has none, and keeps nothing else of it.
    """

    event_id: str
    type: str
    occurred_at: dt.datetime
    name: str | None = None
    session_id: str | None = None
    client_id: str | None = None
    user_id: str | None = None
    instance_id: str | None = None
    url: str | None = None
    path: str | None = None
    referrer: str | None = None
    title: str | None = None
    step_key: str | None = None
    field_key: str | None = None
    error_type: str | None = None
    device_class: str | None = None
    browser: str | None = None
    os: str | None = None
    language: str | None = None
    country: str | None = None
    source: str | None = None
    schema_version: int | None = None
    embed_version: str | None = None
    category: str | None = None
    label: str | None = None
    value: float | None = None
    properties: Any = None
    user_agent: str | None = field(default=None, metadata={"stored": False})


#: The stored fields of a canonical event, in the order the store writes them.
FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(CanonicalEvent) if f.metadata.get("stored", True)
)

#: The fields that enrich an event as it is stored and are never stored themselves.
TRANSIENT: tuple[str, ...] = tuple(
    f.name for f in fields(CanonicalEvent) if not f.metadata.get("stored", True)
)


def utcnow() -> dt.datetime:
    """The current time as a naive UTC datetime, the form every column stores."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class TenantOrganization:
    """What a request needs of the organization it writes to."""

    id: int
    slug: str
    #: Overrides ``JOURNEY_RATELIMIT_DEFAULT`` for the organization's journeys; None: it does not.
    rate_limit: str | None = None
    #: Events per calendar month (UTC); None means no quota.
    monthly_quota: int | None = None


@dataclass(frozen=True, slots=True)
class TenantJourney:
    """What a request needs of the journey it writes to."""

    id: int
    slug: str
    public_key: str
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Tenant:
    """The organization and journey a request writes to, as plain values."""

    org: TenantOrganization
    journey: TenantJourney

"""The ground floor: the canonical event and the tenant, as typed values.

Every wire format maps its events to mappings keyed by the fields of :class:`CanonicalEvent`
(and :data:`TRANSIENT`); the store (:mod:`flask_journey.store`) derives the columns it writes
from them and refuses any other key, the reports read stored rows by these names, and
:class:`flask_journey.models.Event` has a column for each. This module imports nothing of the
package: the adapters (:mod:`flask_journey.formats`) sit on it, below storage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class CanonicalEvent:
    """One event, whatever wire format it arrived in: the one declaration of its fields.

    All but ``event_id``, ``type`` and ``occurred_at`` (naive UTC) are optional.
    """

    event_id: str
    type: str
    name: str | None = None
    occurred_at: dt.datetime | None = None
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


#: The fields of a canonical event, in the order the store writes them.
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CanonicalEvent))

#: Keys an adapter may add to an event's mapping that enrich it and are never stored.
TRANSIENT: tuple[str, ...] = ("user_agent",)

#: Every key an adapter's event mapping may have.
KEYS: frozenset[str] = frozenset(FIELDS + TRANSIENT)


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

"""A session's events summarised: the one row per session and per field that reports read.

Pure functions: :func:`summarise` takes one session's events, in order, and returns what
:class:`~flask_journey.models.SessionSummary` and :class:`~flask_journey.models.FieldSummary`
store. ``docs/reports.md`` defines each number.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

from .query import DIRECT, FIELD_TYPES, STARTER_TYPES, url_host, utm_source

#: The columns of a session's summary row (``journey_session``) that :class:`SessionRow` fills.
SESSION_COLUMNS = (
    "first_at",
    "last_at",
    "device_class",
    "browser",
    "os",
    "language",
    "country",
    "source",
    "started",
    "submitted",
    "completed",
    "ended",
    "steps",
    "last_step",
    "last_field",
)
#: The segment columns a session takes from its first event that has a value.
SEGMENT_COLUMNS = ("device_class", "browser", "os", "language", "country")


@dataclass
class Event:
    """The part of one stored event that summaries read."""

    id: int
    occurred_at: dt.datetime
    type: str
    step_key: str | None
    field_key: str | None
    error_type: str | None
    device_class: str | None
    browser: str | None
    os: str | None
    language: str | None
    country: str | None
    url: str | None
    referrer: str | None
    properties: Any
    instance_id: str | None = None

    def props(self) -> dict[str, Any]:
        """The event's properties as a dict (stored as JSON text on some backends)."""
        value = self.properties
        if isinstance(value, str):
            value = json.loads(value)
        return value if isinstance(value, dict) else {}


#: The columns of an event a summary is made from: the stored row's id and the canonical
#: event's fields (:class:`flask_journey.events.CanonicalEvent`) that :class:`Event` names.
EVENT_COLUMNS = tuple(f.name for f in fields(Event))


@dataclass
class FieldRow:
    """One field of one session, as :class:`~flask_journey.models.FieldSummary` stores it."""

    step_key: str
    field_key: str
    started: int = 0
    returned: int = 0
    errors: int = 0
    error_types: Counter = field(default_factory=Counter)
    seconds: float | None = None
    hesitation: float | None = None


@dataclass
class SessionRow:
    """One session, as :class:`~flask_journey.models.SessionSummary` stores it."""

    first_at: dt.datetime
    last_at: dt.datetime
    segments: dict[str, str | None]
    source: str
    started: int
    submitted: int
    completed: int
    ended: int
    #: ``[stepKey, viewed, seconds or None, [reasons], first view]`` (:func:`_steps`).
    steps: list[list[Any]]
    last_step: str | None
    last_field: str | None
    fields: list[FieldRow]


def _seconds(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds()


def _source(events: list[Event]) -> str:
    for event in events:
        found = utm_source(event.url)
        if found is None and event.properties and "utm" in str(event.properties):
            utm = event.props().get("utm")
            found = utm.get("source") if isinstance(utm, dict) else None
        if found:
            return str(found)
    for event in events:
        host = url_host(event.referrer)
        if host and host != url_host(event.url):
            return host
    return DIRECT


def _steps(events: list[Event]) -> list[list[Any]]:
    """``[stepKey, viewed, seconds or None, [drop-off reasons], first view]`` per step.

    Steps come in the order of their first view; steps with a drop-off signal but no view
    come last, ``viewed`` 0. ``first view`` is an ISO time (comparable as text).
    """
    steps: dict[str, list[Any]] = {}
    spent: dict[str, dt.timedelta] = {}
    reasons: dict[str, set[str]] = {}
    # When the next step view or success after each event occurs, found walking back once.
    following: list[dt.datetime | None] = [None] * len(events)
    upcoming = None
    for index in range(len(events) - 1, -1, -1):
        following[index] = upcoming
        if events[index].type in ("step_view", "submit_success"):
            upcoming = events[index].occurred_at
    for index, event in enumerate(events):
        if event.type == "step_view" and event.step_key:
            steps.setdefault(
                event.step_key,
                [event.step_key, 1, None, [], event.occurred_at.isoformat(timespec="microseconds")],
            )
            after = following[index]
            if after is not None:
                # Summed exactly, turned into seconds once: a sum of floats may round otherwise.
                spent[event.step_key] = spent.get(event.step_key, dt.timedelta()) + (
                    after - event.occurred_at
                )
        elif event.type == "dropoff_signal" and event.step_key:
            reason = event.props().get("reason") or "unknown"
            reasons.setdefault(event.step_key, set()).add(str(reason))
    for key, total in spent.items():
        steps[key][2] = total.total_seconds()
    for key in reasons:
        steps.setdefault(key, [key, 0, None, [], None])
    for key, entry in steps.items():
        entry[3] = sorted(reasons.get(key, ()))
    return list(steps.values())


def _fields(events: list[Event]) -> list[FieldRow]:
    rows: dict[tuple[str, str], FieldRow] = {}
    focused_at: dict[tuple[str, str], dt.datetime] = {}
    spent: dict[tuple[str, str], dt.timedelta] = {}
    first_focus: dict[tuple[str, str], dt.datetime] = {}
    runs: list[tuple[str, str]] = []
    for event in events:
        if event.type not in FIELD_TYPES or not event.field_key:
            continue
        key = (event.step_key or "", event.field_key)
        row = rows.get(key)
        if row is None:
            row = rows[key] = FieldRow(*key)
        if event.type in ("field_focus", "field_change"):
            row.started = 1
            if not runs or runs[-1] != key:
                runs.append(key)
        if event.type == "field_focus":
            focused_at[key] = event.occurred_at
            first_focus.setdefault(key, event.occurred_at)
        elif event.type == "field_blur":
            since = focused_at.pop(key, None)
            if since is not None:
                spent[key] = spent.get(key, dt.timedelta()) + (event.occurred_at - since)
        elif event.type == "field_change":
            if row.hesitation is None and key in first_focus:
                row.hesitation = _seconds(first_focus[key], event.occurred_at)
        else:
            row.errors += 1
            row.error_types[event.error_type or "unknown"] += 1
    for key, total in spent.items():
        rows[key].seconds = total.total_seconds()
    for key, occurrences in Counter(runs).items():
        if occurrences > 1:
            rows[key].returned = 1
    return list(rows.values())


def summarise(events: list[Event]) -> SessionRow:
    """The summary of one session, from all its events ordered by (occurred_at, id)."""
    types = {event.type for event in events}
    segments = {
        column: next((getattr(e, column) for e in events if getattr(e, column)), None)
        for column in SEGMENT_COLUMNS
    }
    last = next((e for e in reversed(events) if e.type in FIELD_TYPES and e.field_key), None)
    return SessionRow(
        first_at=events[0].occurred_at,
        last_at=events[-1].occurred_at,
        segments=segments,
        source=_source(events),
        started=int(not types.isdisjoint(STARTER_TYPES)),
        submitted=int("submit_attempt" in types),
        completed=int("submit_success" in types),
        ended=int(not types.isdisjoint(("session_end", "dropoff_signal"))),
        steps=_steps(events),
        last_step=(last.step_key or "") if last else None,
        last_field=last.field_key if last else None,
        fields=_fields(events),
    )

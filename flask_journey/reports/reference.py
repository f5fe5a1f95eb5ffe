"""The reference computation of a report: every number straight from the raw events.

Slow and obvious on purpose: all of a journey's events are read, grouped by session in
Python, and each definition of ``docs/reports.md`` is applied as written. It shares nothing
with the summaries, so the tests hold the fast computation (:mod:`.compute`) against it. The
journey's bounded vocabulary (:mod:`.vocabulary`) is admitted from all its events in id order,
its configured steps first, and every event folded to it before anything is counted.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from fractions import Fraction
from typing import Any

from peewee import Database

from ..db import using
from ..identities import EMAIL, USER, kind_of
from ..models import Event
from . import reference_forms
from .forms import period_changes
from .query import (
    DIRECT,
    FIELD_TYPES,
    NONE,
    OTHER_OUTCOMES,
    PAGEVIEW_TYPES,
    SEGMENTS,
    STARTER_TYPES,
    TOP_EVENTS,
    TOP_OUTCOMES,
    USER_STAGES,
    Query,
    median_seconds,
    rate,
    top,
    url_host,
    utm_source,
)
from .vocabulary import Limits, Vocabulary


@dataclass(frozen=True)
class _Event:
    id: int
    type: str
    name: str | None
    occurred_at: dt.datetime
    session_id: str | None
    url: str | None
    path: str | None
    referrer: str | None
    step_key: str | None
    field_key: str | None
    error_type: str | None
    device_class: str | None
    browser: str | None
    os: str | None
    language: str | None
    country: str | None
    category: str | None
    label: str | None
    value: float | None
    properties: dict[str, Any] | None
    client_id: str | None
    user_id: str | None
    instance_id: str | None

    @property
    def field(self) -> tuple[str, str | None] | None:
        """The field (key and step) this event is of, when it is a field event."""
        if self.type in FIELD_TYPES and self.field_key is not None:
            return self.field_key, self.step_key
        return None


#: The stored columns the reference reads: the row's id and canonical event fields
#: (:class:`flask_journey.events.CanonicalEvent`), as :class:`_Event` names them.
_COLUMNS = tuple(f.name for f in fields(_Event))


def compute(db: Database, query: Query, limits: Limits | None = None) -> dict[str, Any]:
    """The report ``query`` asks for, computed from the raw events of its journey, with its
    values beyond ``limits`` (default: the ``JOURNEY_MAX_*`` defaults) folded."""
    events = _events(db, query.journey_id)
    folded, ranks = _folded(events, query.steps, limits or Limits.default())
    report = _report(folded, query, events, ranks)
    report["changes"] = period_changes(report)
    return report


def _folded(
    events: list[_Event], configured: Iterable[str], limits: Limits
) -> tuple[list[_Event], dict[str, int]]:
    """The events (in id order) with their values folded to the journey's vocabulary, and the
    rank of each step in the order drop-offs are measured in: the configured steps, then the
    others as the vocabulary admitted them."""
    vocabulary = Vocabulary(limits, configured)
    for e in events:
        vocabulary.admit(
            e.type, e.step_key, e.field_key, e.error_type, e.properties, e.name, e.category, e.label
        )
    folded = []
    for e in events:
        f = vocabulary.fold(
            e.type, e.step_key, e.field_key, e.error_type, e.properties, e.name, e.category, e.label
        )
        properties = (
            e.properties if f.reason is None else {**(e.properties or {}), "reason": f.reason}
        )
        folded.append(
            replace(
                e,
                step_key=f.step_key,
                field_key=f.field_key,
                error_type=f.error_type,
                name=f.name,
                category=f.category,
                label=f.label,
                properties=properties,
            )
        )
    steps = [value for kind, value in vocabulary.added if kind == "step" and isinstance(value, str)]
    return folded, {step: n for n, step in enumerate(steps)}


#: The numbers read from log-scale buckets (:mod:`.rollup`): the report's are within
#: :data:`~.rollup.BOUND` of the exact ones the reference computes.
BUCKETED = frozenset(
    ("medianSeconds", "medianHesitationSeconds", "medianSecondsToFix", "p25", "p50", "p90")
)


def differences(report: Any, expected: Any, path: str = "", *, bound: float = 0.0) -> list[str]:
    """Where ``report`` differs from ``expected``: one ``path: value != expected`` line each.

    With ``bound``, a number of :data:`BUCKETED` (or of a field's ``timeInField``, from the
    same buckets) differs only when it is further than ``bound`` (relative, and a millisecond
    for rounding) from the expected one.
    """
    if isinstance(report, dict) and isinstance(expected, dict):
        return [
            line
            for key in dict.fromkeys([*report, *expected])
            for line in differences(
                report.get(key, "<missing>"),
                expected.get(key, "<missing>"),
                f"{path}.{key}",
                bound=bound,
            )
        ]
    if isinstance(report, list) and isinstance(expected, list) and len(report) == len(expected):
        return [
            line
            for n, (a, b) in enumerate(zip(report, expected, strict=True))
            for line in differences(a, b, f"{path}[{n}]", bound=bound)
        ]
    if (
        bound
        and (path.rsplit(".", 1)[-1] in BUCKETED or ".timeInField." in path)
        and isinstance(report, float)
        and isinstance(expected, float)
        and abs(report - expected) <= bound * abs(expected) + 0.001
    ):
        return []
    return [] if report == expected else [f"{path}: {report!r} != {expected!r}"]


def _events(db: Database, journey_id: int) -> list[_Event]:
    with using(db):
        rows = (
            Event.select(*(getattr(Event, c) for c in _COLUMNS))
            .where(Event.journey == journey_id)
            .order_by(Event.id)
            .dicts()
        )
        return [_Event(**row) for row in rows]


def _report(
    events: list[_Event], query: Query, raw: list[_Event], ranks: dict[str, int]
) -> dict[str, Any]:
    """The report of ``events`` (folded to the vocabulary); people and server actions are
    counted from the ``raw`` events, by the names they were sent with, as the summaries do."""
    start, end = query.bounds()
    by_session: dict[str, list[_Event]] = defaultdict(list)
    for event in events:
        if event.session_id is not None:
            by_session[event.session_id].append(event)
    sessions = []
    for session_events in by_session.values():
        session = _Session(sorted(session_events, key=lambda e: (e.occurred_at, e.id)), query)
        if start <= session.first_at < end and all(
            session.segments[name] == value for name, value in query.filters.items()
        ):
            sessions.append(session)

    report: dict[str, Any] = {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "timezone": query.timezone,
        "filters": dict(query.filters),
        "breakdown": query.breakdown,
        **_tables(sessions, query, ranks),
        "trend": _trend(sessions, query),
        "events": {**_other_events(events, query), "users": _users(raw, query)},
        "outcomes": _outcomes(raw, sessions),
        "segments": {
            name: dict(top(Counter(s.segments[name] for s in sessions))) for name in SEGMENTS
        },
        "breakdownValues": None,
        "previous": _report(events, query.previous(), raw, ranks) if query.compare else None,
    }
    if query.breakdown is not None:
        # Every value's funnel has the range's steps, in the range's order, to compare them.
        order = _journey_order(sessions, query.steps)
        counts = Counter(s.segments[query.breakdown] for s in sessions)
        report["breakdownValues"] = [
            {
                "value": value,
                **_tables(
                    [s for s in sessions if s.segments[query.breakdown] == value],
                    query,
                    ranks,
                    order,
                ),
            }
            for value, _ in top(counts)
        ]
    reference_forms.add(report, sessions, query, events)
    return report


class _Session:
    """One session's events in order, and the facts about it every table uses."""

    def __init__(self, events: list[_Event], query: Query) -> None:
        self.events = events
        self.first_at = events[0].occurred_at
        types = {e.type for e in events}
        self.started = bool(types & set(STARTER_TYPES))
        self.submitted = "submit_attempt" in types
        self.completed = "submit_success" in types
        self.closed = (
            "session_end" in types
            or "dropoff_signal" in types
            or query.now - events[-1].occurred_at >= query.idle
        )
        self.segments = {name: self._segment(name) for name in SEGMENTS}
        self.step_views = [e for e in events if e.type == "step_view" and e.step_key is not None]

    def _segment(self, name: str) -> str:
        if name == "source":
            return self._source()
        column = SEGMENTS[name]
        return next((getattr(e, column) for e in self.events if getattr(e, column)), NONE)

    def _source(self) -> str:
        for event in self.events:
            utm = (event.properties or {}).get("utm")
            found = utm_source(event.url) or (utm.get("source") if isinstance(utm, dict) else None)
            if found:
                return found
        for event in self.events:
            host = url_host(event.referrer)
            if host and host != url_host(event.url):
                return host
        return DIRECT


def _tables(
    sessions: list[_Session],
    query: Query,
    ranks: dict[str, int],
    order: list[str] | None = None,
) -> dict[str, Any]:
    """``totals``, ``steps`` and ``fields`` of a set of sessions.

    ``order`` is the steps' journey order; by default, that of these sessions. ``ranks`` give
    the order a session's furthest step is measured in.
    """
    if order is None:
        order = _journey_order(sessions, query.steps)
    positions = {step: n for n, step in enumerate(order, 1)}
    return {
        "totals": _totals(sessions),
        "steps": _steps(sessions, query, order, ranks),
        "fields": _fields(sessions, positions),
    }


def _totals(sessions: list[_Session]) -> dict[str, Any]:
    count = len(sessions)
    starters = sum(s.started for s in sessions)
    completions = sum(s.completed for s in sessions)
    return {
        "sessions": count,
        "starters": starters,
        "submitters": sum(s.submitted for s in sessions),
        "completions": completions,
        "abandons": sum(s.closed and s.started and not s.completed for s in sessions),
        "active": sum(not s.closed and not s.completed for s in sessions),
        "startRate": rate(starters, count),
        "completionRate": rate(completions, starters),
        "conversionRate": rate(completions, count),
    }


def _journey_order(sessions: list[_Session], configured: tuple[str, ...]) -> list[str]:
    """The configured steps in their order, then the others viewed, as sessions reach them."""
    positions: dict[str, list[int]] = defaultdict(list)
    for session in sessions:
        reached: list[str] = []
        for view in session.step_views:
            step = view.step_key
            assert step is not None  # a step_view names its step
            if step not in reached:
                reached.append(step)
        for position, step in enumerate(reached, 1):
            positions[step].append(position)
    known = list(configured)
    others = sorted(
        (step for step in positions if step not in configured),
        key=lambda step: (Fraction(sum(positions[step]), len(positions[step])), step),
    )
    return known + others


def _steps(
    sessions: list[_Session], query: Query, order: list[str], ranks: dict[str, int]
) -> list[dict[str, Any]]:
    position = {step: n for n, step in enumerate(order, 1)}

    def rank(step: str) -> tuple[int, str]:
        return ranks.get(step, len(ranks)), step

    rows: list[dict[str, Any]] = []
    for step in order:
        viewers = [s for s in sessions if any(v.step_key == step for v in s.step_views)]
        dropoffs = sum(
            s.closed
            and not s.completed
            and max((v.step_key or "" for v in s.step_views), key=rank) == step
            for s in viewers
        )
        reasons: Counter[str] = Counter()
        for session in sessions:
            reasons.update(
                {
                    (e.properties or {}).get("reason") or "unknown"
                    for e in session.events
                    if e.type == "dropoff_signal" and e.step_key == step
                }
            )
        rows.append(
            {
                "stepKey": step,
                "position": position[step],
                "configured": step in query.steps,
                "sessions": len(viewers),
                "shareOfSessions": rate(len(viewers), len(sessions)),
                "shareOfPrevious": rate(len(viewers), rows[-1]["sessions"]) if rows else None,
                "dropoffs": dropoffs,
                "dropoffReasons": dict(sorted(reasons.items())),
                "medianSeconds": median_seconds(_step_times(viewers, step)),
            }
        )
    return rows


def _step_times(sessions: Iterable[_Session], step: str) -> Iterable[float]:
    """Per session, the summed seconds from each view of ``step`` to the next view or success.

    Durations are summed exactly (as timedeltas) and turned into seconds once.
    """
    for session in sessions:
        measured: dt.timedelta | None = None
        events = session.events
        for n, event in enumerate(events):
            if event.type != "step_view" or event.step_key != step:
                continue
            following = next(
                (
                    e
                    for e in events[n + 1 :]
                    if (e.type == "step_view" and e.step_key is not None)
                    or e.type == "submit_success"
                ),
                None,
            )
            if following is not None:
                spent = following.occurred_at - event.occurred_at
                measured = spent if measured is None else measured + spent
        if measured is not None:
            yield measured.total_seconds()


def _fields(sessions: list[_Session], positions: dict[str, int]) -> list[dict[str, Any]]:
    own: dict[tuple[str, str | None], list[list[_Event]]] = defaultdict(list)
    returned: Counter[tuple[str, str | None]] = Counter()
    last_field: Counter[tuple[str, str | None]] = Counter()
    for session in sessions:
        by_field: dict[tuple[str, str | None], list[_Event]] = defaultdict(list)
        for event in session.events:
            if event.field is not None:
                by_field[event.field].append(event)
        for key, events in by_field.items():
            own[key].append(events)
        returned.update(_returns(session))
        fields = [e.field for e in session.events if e.field is not None]
        if fields and session.closed and not session.completed:
            last_field[fields[-1]] += 1
    abandons_total = sum(last_field.values())

    def order(key: tuple[str, str | None]) -> tuple[Any, ...]:
        field_key, step_key = key
        place = positions.get(step_key, len(positions) + 1) if step_key is not None else None
        return (place is None, place or 0, step_key or "", field_key)

    rows = []
    for key in sorted(own, key=order):
        field_key, step_key = key
        errors: Counter[str] = Counter()
        error_sessions = starters = 0
        times, hesitations = [], []
        for events in own[key]:
            kinds = {e.type for e in events}
            starters += bool(kinds & {"field_focus", "field_change"})
            if "validation_error" in kinds:
                error_sessions += 1
                errors.update(
                    e.error_type or "unknown" for e in events if e.type == "validation_error"
                )
            spent = _time_in_field(events)
            if spent is not None:
                times.append(spent)
            hesitation = _hesitation(events)
            if hesitation is not None:
                hesitations.append(hesitation)
        touched = len(own[key])
        rows.append(
            {
                "fieldKey": field_key,
                "stepKey": step_key,
                "sessions": touched,
                "starters": starters,
                "returns": returned[key],
                "errorSessions": error_sessions,
                "errors": dict(sorted(errors.items())),
                "errorRate": rate(error_sessions, touched),
                "abandons": last_field[key],
                "abandonShare": rate(last_field[key], abandons_total),
                "medianSeconds": median_seconds(times),
                "medianHesitationSeconds": median_seconds(hesitations),
            }
        )
    return rows


def _returns(session: _Session) -> set[tuple[str, str | None]]:
    """The fields that occur twice in the session's focus/change sequence, repeats merged."""
    touches = [
        e.field for e in session.events if e.type in ("field_focus", "field_change") and e.field
    ]
    sequence = [key for n, key in enumerate(touches) if n == 0 or touches[n - 1] != key]
    return {key for key, count in Counter(sequence).items() if count > 1}


def _time_in_field(own: list[_Event]) -> float | None:
    """The summed seconds of each focus paired with the field's next blur before its next focus."""
    total: dt.timedelta | None = None
    for n, event in enumerate(own):
        if event.type != "field_focus":
            continue
        for after in own[n + 1 :]:
            if after.type == "field_focus":
                break
            if after.type == "field_blur":
                spent = after.occurred_at - event.occurred_at
                total = spent if total is None else total + spent
                break
    return None if total is None else total.total_seconds()


def _hesitation(own: list[_Event]) -> float | None:
    """Seconds from the field's first focus to its first change after it."""
    focus = next((n for n, e in enumerate(own) if e.type == "field_focus"), None)
    if focus is None:
        return None
    change = next((e for e in own[focus + 1 :] if e.type == "field_change"), None)
    if change is None:
        return None
    return (change.occurred_at - own[focus].occurred_at).total_seconds()


def _trend(sessions: list[_Session], query: Query) -> dict[str, Any]:
    points: dict[str, dict[str, Any]] = {
        period: {"period": period, "sessions": 0, "starters": 0, "completions": 0}
        for period in query.periods()
    }
    for session in sessions:
        point = points[query.period(session.first_at)]
        point["sessions"] += 1
        point["starters"] += session.started
        point["completions"] += session.completed
    for point in points.values():
        point["completionRate"] = rate(point["completions"], point["starters"])
    return {"interval": "hour" if query.hourly else "day", "points": list(points.values())}


def _other_events(events: list[_Event], query: Query) -> dict[str, Any]:
    """Every event of the journey that occurred on a day of the range, local time."""
    periods = {period: 0 for period in query.periods()}
    in_range = []
    for event in events:
        if _in_events_range(event.occurred_at, query):
            in_range.append(event)
            periods[query.period(event.occurred_at)] += 1
    types = Counter((e.type, e.name) for e in in_range)
    views = [e for e in in_range if e.type in PAGEVIEW_TYPES]
    pages = Counter(e.path for e in views if e.path is not None)
    referrers = Counter(
        host
        for e in views
        if (host := url_host(e.referrer)) is not None and host != url_host(e.url)
    )
    forms = Counter(e.name for e in in_range if e.type == "form")
    custom: dict[tuple[Any, ...], list[Any]] = {}
    for event in in_range:
        if event.type == "custom":
            entry = custom.setdefault((event.name, event.category, event.label), [0, 0.0])
            entry[0] += 1
            entry[1] += event.value or 0.0
    return {
        "total": len(in_range),
        "types": [
            {"type": kind, "name": name, "count": count}
            for (kind, name), count in sorted(
                types.items(), key=lambda item: (-item[1], item[0][0], _nullable(item[0][1]))
            )
        ],
        "trend": [{"period": period, "count": count} for period, count in periods.items()],
        "pages": [{"path": path, "count": count} for path, count in top(pages, TOP_EVENTS)],
        "referrers": [{"host": host, "count": count} for host, count in top(referrers, TOP_EVENTS)],
        "forms": [
            {"formId": form, "count": count}
            for form, count in sorted(forms.items(), key=lambda i: (-i[1], _nullable(i[0])))
        ],
        "custom": [
            {"name": n, "category": c, "label": lb, "count": count, "valueSum": total}
            for (n, c, lb), (count, total) in sorted(
                custom.items(),
                key=lambda i: (-i[1][0], *(_nullable(part) for part in i[0])),
            )
        ],
    }


def _nullable(value: str | None) -> tuple[bool, str]:
    """A sort key putting None first, then strings in order."""
    return (value is not None, value or "")


def _in_events_range(at: dt.datetime, query: Query) -> bool:
    local_day = at.replace(tzinfo=dt.timezone.utc).astimezone(query.zone).date()
    return query.start <= local_day <= query.end


class _People:
    """Who is who, replaying every identify event in the order they were stored: the identities
    each names are one person, and a visitor is the first person identified from it."""

    def __init__(self, events: list[_Event]) -> None:
        self.parent: dict[tuple[str, str], tuple[str, str]] = {}
        self.visitors: dict[str, tuple[str, str]] = {}
        self.identifies: list[tuple[tuple[str, str], dt.datetime, bool]] = []
        for event in events:
            if event.type != "identify":
                continue
            names = []
            if event.user_id:
                names.append((kind_of(event.user_id), event.user_id))
            email = (event.properties or {}).get("email")
            if isinstance(email, str) and email and email != event.user_id:
                names.append((EMAIL, email))
            if not names:
                continue
            for name in names:
                self.parent.setdefault(name, name)
            for name in names[1:]:
                self.parent[self.find(name)] = self.find(names[0])
            if event.client_id and event.client_id not in self.visitors:
                self.visitors[event.client_id] = names[0]
            signed_up = any(kind == USER for kind, _ in names)
            self.identifies.append((names[0], event.occurred_at, signed_up))

    def find(self, name: tuple[str, str]) -> tuple[str, str]:
        while self.parent[name] != name:
            name = self.parent[name]
        return name

    def of(self, event: _Event) -> tuple[str, str] | None:
        """The person an event is of: its own user's, else the user it names, else its
        visitor's; None for an event of nobody known."""
        if event.user_id:
            name = (kind_of(event.user_id), event.user_id)
            return self.find(name) if name in self.parent else ("unlinked", event.user_id)
        if event.client_id in self.visitors:
            return self.find(self.visitors[event.client_id])
        return None


def _users(events: list[_Event], query: Query) -> dict[str, Any]:
    """Per person (however named), whether they had an identify or stage event in the range,
    and the stages they reached in it: discovered at their first identify, signed_up at their
    first identify naming a user id, the others at a stage event of that name."""
    people = _People(events)
    identified = set()
    reached: dict[str, set[tuple[str, str]]] = {stage: set() for stage in USER_STAGES}
    for event in events:
        if event.type not in ("identify", "stage") or not _in_events_range(
            event.occurred_at, query
        ):
            continue
        person = people.of(event)
        if person is None:
            continue
        identified.add(person)
        if event.type == "stage" and event.name in reached:
            reached[event.name].add(person)
    first: dict[tuple[str, str], dt.datetime] = {}
    first_signed_up: dict[tuple[str, str], dt.datetime] = {}
    for name, at, signed_up in people.identifies:
        person = people.find(name)
        first[person] = min(first.get(person, at), at)
        if signed_up:
            first_signed_up[person] = min(first_signed_up.get(person, at), at)
    reached["discovered"] = {p for p, at in first.items() if _in_events_range(at, query)}
    reached["signed_up"] = {p for p, at in first_signed_up.items() if _in_events_range(at, query)}
    return {
        "identified": len(identified),
        "stages": {stage: len(reached[stage]) for stage in USER_STAGES},
    }


def _outcomes(events: list[_Event], sessions: list[_Session]) -> list[dict[str, Any]]:
    """Each server-side action (a collect event's, or a named custom event's without a session)
    with the instance id of some session of the range: the sessions it followed, and how many
    of them completed. The :data:`TOP_OUTCOMES` most frequent, then the rest as one row."""
    followed: dict[str, list[_Session]] = defaultdict(list)
    for session in sessions:
        instances = {e.instance_id for e in session.events if e.instance_id is not None}
        if not instances:
            continue
        actions = {
            e.name
            for e in events
            if e.instance_id in instances
            and e.session_id is None
            and e.type in ("collect", "custom")
            and e.name is not None
        }
        for action in actions:
            followed[action].append(session)
    ranked = sorted(followed.items(), key=lambda item: (-len(item[1]), item[0]))
    rows = ranked[:TOP_OUTCOMES]
    others = {id(s): s for _, group in ranked[TOP_OUTCOMES:] for s in group}
    if others:
        rows.append((OTHER_OUTCOMES, list(others.values())))
    return [
        {
            "action": action,
            "sessions": len(group),
            "completedSessions": sum(s.completed for s in group),
        }
        for action, group in rows
    ]

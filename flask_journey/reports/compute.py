"""A report computed from the summaries: its cost follows the sessions in the range.

Totals, the funnel, the trend and breakdowns come from one read of the range's session rows,
field friction from one read of their session-field rows, the other events from the hourly
counts; the people (``events.users``) from the range's identify and stage events and the
identity links, the outcomes from the events that carry an instance id (both read through
partial indexes that hold only those events). Where only totals are wanted (the previous
period on the dashboard), and for the list of journeys' totals and trends, the database counts
them (the trend by stretches of UTC time that fit the report zone's periods). ``docs/reports.md``
defines every number; :mod:`.reference` computes the same from raw events."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from peewee import Database

from ..db import is_sqlite
from ..identities import LINKS_TABLE, RESOLVE_JOINS, RESOLVE_SQL
from ..models import Event, FieldSummary, HourlyCount, SessionSummary
from . import forms
from .query import (
    EPOCH,
    NONE,
    OTHER_OUTCOMES,
    SEGMENTS,
    TOP_EVENTS,
    TOP_OUTCOMES,
    USER_STAGES,
    Query,
    median_seconds,
    rate,
    top,
)
from .summary import SESSION_COLUMNS

_SESSION = SessionSummary._meta.table_name
_FIELD = FieldSummary._meta.table_name
_HOURLY = HourlyCount._meta.table_name
_EVENT = Event._meta.table_name
_SESSION_COLUMNS = (*SESSION_COLUMNS, "id")


@dataclass
class Session:
    """One session row of the range."""

    first_at: dt.datetime
    last_at: dt.datetime
    device_class: str | None
    browser: str | None
    os: str | None
    language: str | None
    country: str | None
    source: str | None
    started: int
    submitted: int
    completed: int
    ended: int
    steps: list[list[Any]]
    last_step: str | None
    last_field: str | None
    id: int
    closed: bool = False

    def segment(self, name: str) -> str:
        return getattr(self, SEGMENTS[name]) or NONE


def _time(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


class _Sql:
    """The WHERE clause that selects a query's sessions, with its parameters."""

    def __init__(self, db: Database, query: Query) -> None:
        self.db = db
        start, end = query.bounds()
        self.cutoff = self.time(query.now - query.idle)
        clauses = ["s.journey_id = {p}", "s.first_at >= {p}", "s.first_at < {p}"]
        self.params: list[Any] = [query.journey_id, self.time(start), self.time(end)]
        for name, value in sorted(query.filters.items()):
            column = SEGMENTS[name]
            if value == NONE:
                clauses.append(f"s.{column} IS NULL")
            else:
                clauses.append(f"s.{column} = {{p}}")
                self.params.append(value)
        self.where = " AND ".join(clauses).format(p=db.param)

    def time(self, value: dt.datetime) -> Any:
        return value.isoformat(" ", "microseconds") if is_sqlite(self.db) else value

    def run(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        return list(self.db.execute_sql(sql.format(p=self.db.param), list(params)).fetchall())


def compute(db: Database, query: Query, *, previous: str = "full") -> dict[str, Any]:
    """The report for ``query``, from the summaries (bring them up to date first).

    With ``query.compare``, the previous period's whole report, or only its range and totals
    when ``previous`` is ``"totals"``.
    """
    result = _period(db, query)
    if query.compare:
        before = query.previous()
        result["previous"] = _period(db, before) if previous == "full" else _totals_of(db, before)
    result["changes"] = forms.period_changes(result)
    return result


def compute_overview(db: Database, query: Query) -> dict[str, Any]:
    """The range's totals and trend, and the previous period's range and totals, all counted
    by the database."""
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "timezone": query.timezone,
        "totals": _totals_of(db, query)["totals"],
        "trend": _trend_of(_Sql(db, query), query),
        "previous": _totals_of(db, query.previous()),
    }


def _trend_of(sql: _Sql, query: Query) -> dict[str, Any]:
    """:func:`trend`, from the sessions, starters and completions the database counts by
    stretches of :meth:`Query.bucket_seconds`, each inside one period."""
    length = query.bucket_seconds()
    if is_sqlite(sql.db):
        bucket = f"CAST(strftime('%s', s.first_at) AS INTEGER) / {length}"
    else:
        bucket = f"FLOOR(EXTRACT(EPOCH FROM s.first_at) / {length})"
    points: dict[str, dict[str, Any]] = {
        period: {"period": period, "sessions": 0, "starters": 0, "completions": 0}
        for period in query.periods()
    }
    for number, count, starters, completions in sql.run(
        f"SELECT {bucket} AS b, COUNT(*), SUM(s.started), SUM(s.completed)"
        f" FROM {_SESSION} s WHERE {sql.where} GROUP BY b",
        sql.params,
    ):
        at = EPOCH + dt.timedelta(seconds=int(number) * length)
        point = points.get(query.period(at))
        if point is not None:
            point["sessions"] += count
            point["starters"] += starters
            point["completions"] += completions
    for point in points.values():
        point["completionRate"] = rate(point["completions"], point["starters"])
    return {"interval": "hour" if query.hourly else "day", "points": list(points.values())}


def _sessions(sql: _Sql, query: Query) -> list[Session]:
    """The range's session rows."""
    cutoff = query.now - query.idle
    sessions = []
    for row in sql.run(
        f"SELECT {', '.join(_SESSION_COLUMNS)} FROM {_SESSION} s WHERE {sql.where}", sql.params
    ):
        values = dict(zip(_SESSION_COLUMNS, row, strict=True))
        values.update(
            first_at=_time(row[0]), last_at=_time(row[1]), steps=json.loads(values["steps"])
        )
        session = Session(**values)
        session.closed = bool(session.ended) or session.last_at < cutoff
        sessions.append(session)
    return sessions


def _totals_of(db: Database, query: Query) -> dict[str, Any]:
    """The range and totals of ``query``'s sessions, counted by the database."""
    sql = _Sql(db, query)
    closed = "(s.ended <> 0 OR s.last_at < {p})"
    ((count, starters, submitters, completions, abandons, active),) = sql.run(
        "SELECT COUNT(*), SUM(s.started), SUM(s.submitted), SUM(s.completed),"
        f" SUM(CASE WHEN s.started <> 0 AND {closed} AND s.completed = 0 THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN NOT {closed} AND s.completed = 0 THEN 1 ELSE 0 END)"
        f" FROM {_SESSION} s WHERE {sql.where}",
        [sql.cutoff, sql.cutoff, *sql.params],
    )
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "totals": _totals(
            count, starters or 0, submitters or 0, completions or 0, abandons or 0, active or 0
        ),
    }


def _period(db: Database, query: Query) -> dict[str, Any]:
    sql = _Sql(db, query)
    sessions = _sessions(sql, query)
    order = step_order(query.steps, sessions)
    fields = _fields(sql, query, order, {session.id: session for session in sessions})
    result: dict[str, Any] = {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "timezone": query.timezone,
        "filters": dict(query.filters),
        "breakdown": query.breakdown,
        "totals": totals(sessions),
        "steps": funnel(sessions, order, set(query.steps)),
        "fields": fields.get(None, []),
        "trend": trend(query, sessions),
        "events": {**events(sql, query), "users": users(sql, query)},
        "outcomes": outcomes(sql, query),
        "segments": {
            name: dict(top(Counter(s.segment(name) for s in sessions))) for name in SEGMENTS
        },
        "breakdownValues": None,
        "previous": None,
    }
    if query.breakdown:
        groups: dict[str, list[Session]] = defaultdict(list)
        for session in sessions:
            groups[session.segment(query.breakdown)].append(session)
        result["breakdownValues"] = [
            {
                "value": value,
                "totals": totals(groups[value]),
                "steps": funnel(groups[value], order, set(query.steps)),
                "fields": fields.get(value, []),
            }
            for value, _ in top(Counter({v: len(g) for v, g in groups.items()}))
        ]
    forms.add_to_report(sql, query, sessions, result)
    return result


def step_order(configured: Iterable[str], sessions: list[Session]) -> list[str]:
    """The journey order: configured steps, then the others viewed, by where sessions reach them.

    A configured step is listed even when no session viewed it: that nobody got there is news.
    """
    positions: dict[str, list[int]] = defaultdict(list)
    first_view: dict[str, str] = {}
    for session in sessions:
        viewed = [step for step in session.steps if step[1]]
        for position, (key, _, _, _, at) in enumerate(viewed):
            positions[key].append(position)
            if key not in first_view or at < first_view[key]:
                first_view[key] = at
    listed = list(configured)
    others = sorted(
        (key for key in positions if key not in listed),
        key=lambda key: (sum(positions[key]) / len(positions[key]), first_view[key], key),
    )
    return listed + others


def totals(sessions: list[Session]) -> dict[str, Any]:
    return _totals(
        len(sessions),
        sum(s.started for s in sessions),
        sum(s.submitted for s in sessions),
        sum(s.completed for s in sessions),
        sum(1 for s in sessions if s.started and s.closed and not s.completed),
        sum(1 for s in sessions if not s.closed and not s.completed),
    )


def _totals(
    count: int, starters: int, submitters: int, completions: int, abandons: int, active: int
) -> dict[str, Any]:
    return {
        "sessions": count,
        "starters": starters,
        "submitters": submitters,
        "completions": completions,
        "abandons": abandons,
        "active": active,
        "startRate": rate(starters, count),
        "completionRate": rate(completions, starters),
        "conversionRate": rate(completions, count),
    }


def funnel(sessions: list[Session], order: list[str], configured: set[str]) -> list[dict]:
    position = {key: index for index, key in enumerate(order)}
    reached: Counter = Counter()
    dropped: Counter = Counter()
    reasons: dict[str, Counter] = defaultdict(Counter)
    seconds: dict[str, list[float]] = defaultdict(list)
    for session in sessions:
        furthest = None
        for key, viewed, spent, signalled, _ in session.steps:
            for reason in signalled:
                reasons[key][reason] += 1
            if not viewed or key not in position:
                continue
            reached[key] += 1
            if spent is not None:
                seconds[key].append(spent)
            if furthest is None or position[key] > position[furthest]:
                furthest = key
        if furthest is not None and session.closed and not session.completed:
            dropped[furthest] += 1
    rows = []
    previous = None
    for index, key in enumerate(order):
        rows.append(
            {
                "stepKey": key,
                "position": index + 1,
                "configured": key in configured,
                "sessions": reached[key],
                "shareOfSessions": rate(reached[key], len(sessions)),
                "shareOfPrevious": None
                if previous is None
                else rate(reached[key], reached[previous]),
                "dropoffs": dropped[key],
                "dropoffReasons": dict(sorted(reasons[key].items())),
                "medianSeconds": median_seconds(seconds[key]),
            }
        )
        previous = key
    return rows


def trend(query: Query, sessions: list[Session]) -> dict[str, Any]:
    points: dict[str, dict[str, Any]] = {
        period: {"period": period, "sessions": 0, "starters": 0, "completions": 0}
        for period in query.periods()
    }
    for session in sessions:
        point = points.get(query.period(session.first_at))
        if point is not None:
            point["sessions"] += 1
            point["starters"] += session.started
            point["completions"] += session.completed
    for point in points.values():
        point["completionRate"] = rate(point["completions"], point["starters"])
    return {"interval": "hour" if query.hourly else "day", "points": list(points.values())}


class _FieldTally:
    """One field's numbers as its session rows are read."""

    __slots__ = (
        "sessions",
        "starters",
        "returns",
        "error_sessions",
        "errors",
        "abandons",
        "seconds",
        "hesitation",
    )

    def __init__(self) -> None:
        self.sessions = self.starters = self.returns = self.error_sessions = self.abandons = 0
        self.errors: Counter = Counter()
        self.seconds: list[float] = []
        self.hesitation: list[float] = []

    def row(self, step: str, field: str) -> dict[str, Any]:
        return {
            "fieldKey": field,
            "stepKey": step or None,
            "sessions": self.sessions,
            "starters": self.starters,
            "returns": self.returns,
            "errorSessions": self.error_sessions,
            "errors": dict(sorted(self.errors.items())),
            "errorRate": rate(self.error_sessions, self.sessions),
            "abandons": self.abandons,
            "abandonShare": None,
            "medianSeconds": median_seconds(self.seconds),
            "medianHesitationSeconds": median_seconds(self.hesitation),
        }


def _fields(
    sql: _Sql, query: Query, order: list[str], sessions: dict[int, Session]
) -> dict[str | None, list[dict]]:
    """Field rows of the range (key None) and, with a breakdown, of each of its values.

    One read of the range's session-field rows (their sessions already read: ``sessions`` by
    row id); each is tallied for its field, and for its field and segment value.
    """
    tallies: dict[tuple, _FieldTally] = defaultdict(_FieldTally)
    error_types: dict[str, dict[str, int]] = {}  # the same few mixes of errors recur
    for session_id, step, field, started, returned, errors, types, seconds, hesitation in sql.run(
        "SELECT f.session_id, f.step_key, f.field_key, f.started, f.returned, f.errors,"
        f" f.error_types, f.seconds, f.hesitation FROM {_FIELD} f"
        f" JOIN {_SESSION} s ON s.id = f.session_id WHERE {sql.where}",
        sql.params,
    ):
        session = sessions[session_id]
        abandoned = (
            session.closed
            and not session.completed
            and session.last_field == field
            and session.last_step == step
        )
        groups: list[tuple[str | None, str, str]] = [(None, step, field)]
        if query.breakdown:
            groups.append((session.segment(query.breakdown), step, field))
        for key in groups:
            tally = tallies[key]
            tally.sessions += 1
            tally.starters += started
            tally.returns += returned
            tally.abandons += abandoned
            if errors:
                tally.error_sessions += 1
                counts = error_types.get(types)
                if counts is None:
                    counts = error_types[types] = json.loads(types)
                tally.errors.update(counts)
            if seconds is not None:
                tally.seconds.append(seconds)
            if hesitation is not None:
                tally.hesitation.append(hesitation)
    found: dict[str | None, list[dict]] = defaultdict(list)
    found[None] = []
    for (value, step, field), tally in tallies.items():
        found[value].append(tally.row(step, field))
    for rows in found.values():
        _finish(rows, order)
    return found


def _finish(rows: list[dict], order: list[str]) -> None:
    """Order field rows by step position then key, and set each one's share of abandons."""
    position = {key: index for index, key in enumerate(order)}
    total = sum(row["abandons"] for row in rows)
    for row in rows:
        row["abandonShare"] = rate(row["abandons"], total)
    rows.sort(
        key=lambda r: (
            position.get(r["stepKey"], len(order)),
            r["stepKey"] is None,
            r["stepKey"] or "",
            r["fieldKey"],
        )
    )


def events(sql: _Sql, query: Query) -> dict[str, Any]:
    """The range's events by type and name, pages, referrers, forms and custom events."""
    start, end = query.bounds()
    hour = dt.timedelta(hours=1)
    rows = sql.run(
        f"SELECT hour, kind, key1, key2, key3, count, value_sum FROM {_HOURLY}"
        " WHERE journey_id = {p} AND hour >= {p} AND hour < {p}",
        [query.journey_id, sql.time(start - hour), sql.time(end + hour)],
    )
    periods = {period: 0 for period in query.periods()}
    first, last = query.start.isoformat(), query.end.isoformat()
    types: Counter = Counter()
    pages: Counter = Counter()
    referrers: Counter = Counter()
    custom: dict[tuple, list[float]] = defaultdict(lambda: [0, 0.0])
    period_of: dict[Any, str] = {}  # many rows share an hour
    for at, kind, key1, key2, key3, count, value_sum in rows:
        period = period_of.get(at)
        if period is None:
            period = period_of[at] = query.period(_time(at))
        if not first <= period[:10] <= last:
            continue
        if kind == "type":
            types[(key1, key2 or None)] += count
            periods[period] = periods.get(period, 0) + count
        elif kind == "page":
            pages[key1 or None] += count
        elif kind == "referrer":
            referrers[key1] += count
        elif kind == "custom":
            entry = custom[(key1, key2 or None, key3 or None)]
            entry[0] += count
            entry[1] += value_sum
    forms = Counter({name: n for (kind, name), n in types.items() if kind == "form"})
    return {
        "total": sum(types.values()),
        "types": [
            {"type": kind, "name": name, "count": n}
            for (kind, name), n in sorted(
                types.items(), key=lambda i: (-i[1], i[0][0], i[0][1] or "")
            )
        ],
        "trend": [{"period": period, "count": n} for period, n in periods.items()],
        "pages": [{"path": path, "count": n} for path, n in _top(pages, TOP_EVENTS)],
        "referrers": [{"host": host, "count": n} for host, n in _top(referrers, TOP_EVENTS)],
        "forms": [{"formId": name, "count": n} for name, n in _top(forms, None)],
        "custom": [
            {
                "name": name,
                "category": category,
                "label": label,
                "count": n,
                "valueSum": round(total, 6),
            }
            for (name, category, label), (n, total) in sorted(
                custom.items(),
                key=lambda i: (-i[1][0], i[0][0], i[0][1] or "", i[0][2] or ""),
            )
        ],
    }


def _top(counts: Counter, limit: int | None) -> list[tuple[Any, int]]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0] or ""))
    return ranked[:limit] if limit is not None else ranked


def _in_events_range(query: Query, at: Any) -> bool:
    """Whether an event is among the range's other events: its UTC hour starts on a day of the
    range, local time."""
    hour = _time(at).replace(minute=0, second=0, microsecond=0)
    return query.start.isoformat() <= query.period(hour)[:10] <= query.end.isoformat()


def users(sql: _Sql, query: Query) -> dict[str, Any]:
    """The people of the range's identify and stage events, one per person however named
    (:mod:`flask_journey.identities`), and how many reached each stage in the range."""
    start, end = query.bounds()
    hour = dt.timedelta(hours=1)
    joins = RESOLVE_JOINS.format(links=LINKS_TABLE)
    identified: set[str] = set()
    reached: dict[str, set[str]] = {stage: set() for stage in USER_STAGES}
    for kind, name, at, user in sql.run(
        f"SELECT e.type, e.name, e.occurred_at, {RESOLVE_SQL} FROM {_EVENT} e{joins}"
        " WHERE e.journey_id = {p} AND e.type IN ('identify', 'stage')"
        " AND e.occurred_at >= {p} AND e.occurred_at < {p}",
        [query.journey_id, sql.time(start - hour), sql.time(end + hour)],
    ):
        if user is None or not _in_events_range(query, at):
            continue
        identified.add(user)
        if kind == "stage" and name in reached:
            reached[name].add(user)
    for user, discovered, signed_up in sql.run(
        "SELECT user_key, MIN(linked_at), MIN(CASE WHEN kind = 'user' THEN linked_at END)"
        f" FROM {LINKS_TABLE} WHERE journey_id = {{p}} AND kind IN ('user', 'email')"
        " GROUP BY user_key",
        [query.journey_id],
    ):
        if _in_events_range(query, discovered):
            reached["discovered"].add(user)
        if signed_up is not None and _in_events_range(query, signed_up):
            reached["signed_up"].add(user)
    return {
        "identified": len(identified),
        "stages": {stage: len(reached[stage]) for stage in USER_STAGES},
    }


def outcomes(sql: _Sql, query: Query) -> list[dict[str, Any]]:
    """The server-side actions joined to the range's sessions by their instance ids: for each,
    the sessions it followed and how many of them completed.

    Two steps, each on its own index: the journey's server-side actions that carry an instance
    id (the partial index of events with one), then the range's sessions whose events carry
    those ids. A journey without such actions costs one empty index read; a single join let
    SQLite's planner, which keeps no statistics, loop over every event of the journey.
    """
    actions: dict[str, set[str]] = defaultdict(set)
    for instance, action in sql.run(
        f"SELECT DISTINCT instance_id, name FROM {_EVENT}"
        " WHERE instance_id IS NOT NULL AND journey_id = {p} AND session_id IS NULL"
        " AND type IN ('collect', 'custom') AND name IS NOT NULL",
        [query.journey_id],
    ):
        actions[instance].add(action)
    by_action: dict[str, set[tuple[int, int]]] = defaultdict(set)
    instances = sorted(actions)
    for start in range(0, len(instances), _IDS_PER_QUERY):
        part = instances[start : start + _IDS_PER_QUERY]
        marks = ", ".join(["{p}"] * len(part))
        for instance, session, completed in sql.run(
            f"SELECT DISTINCT w.instance_id, s.id, s.completed FROM {_EVENT} w"
            f" JOIN {_SESSION} s ON s.journey_id = w.journey_id AND s.session_id = w.session_id"
            f" WHERE w.instance_id IN ({marks}) AND w.journey_id = {{p}}"
            f" AND w.session_id IS NOT NULL AND {sql.where}",
            [*part, query.journey_id, *sql.params],
        ):
            for action in actions[instance]:
                by_action[action].add((session, completed))
    return outcome_rows(by_action)


#: Instance ids per ``IN (...)`` list: within every backend's limit on bound parameters.
_IDS_PER_QUERY = 500


def outcome_rows(by_action: dict[str, set[tuple[Any, int]]]) -> list[dict[str, Any]]:
    """``outcomes`` from each action's ``(session, completed)`` pairs: the most frequent
    :data:`TOP_OUTCOMES` actions, then the sessions of all the others as one row."""
    ranked = sorted(by_action, key=lambda action: (-len(by_action[action]), action))
    rows = [(action, by_action[action]) for action in ranked[:TOP_OUTCOMES]]
    rest = {pair for action in ranked[TOP_OUTCOMES:] for pair in by_action[action]}
    if rest:
        rows.append((OTHER_OUTCOMES, rest))
    return [
        {
            "action": action,
            "sessions": len(pairs),
            "completedSessions": sum(1 for _, completed in pairs if completed),
        }
        for action, pairs in rows
    ]

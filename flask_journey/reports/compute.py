"""A report computed from the rollups: its cost follows the days of its range and the
journey's vocabulary, not its traffic.

Totals, the funnel, field friction, the trend and breakdowns are added up from the rollups
(:mod:`.rollups`) with the sessions still open; the other events come from the hourly counts,
the people (``events.users``) from the range's identify and stage events and the identity links,
the outcomes from the events that carry an instance id (both read through partial indexes that
hold only those events). ``docs/reports.md`` defines every number; :mod:`.reference` computes
the same from raw events.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from peewee import Database

from ..identities import LINKS_TABLE, RESOLVE_JOINS, RESOLVE_SQL
from ..models import Event, HourlyCount, SessionSummary
from . import forms, rollups
from .query import (
    OTHER_OUTCOMES,
    TOP_EVENTS,
    TOP_OUTCOMES,
    USER_STAGES,
    Query,
    Where,
    db_time,
    rate,
    stored_time,
)
from .rollup import NO_BUCKET, Histogram
from .rollups import Sums

_SESSION = SessionSummary._meta.table_name
_HOURLY = HourlyCount._meta.table_name
_EVENT = Event._meta.table_name


class _Sql:
    """The WHERE clause that selects a query's sessions (:class:`.rollups.Where`), with its
    parameters, and a way to run SQL with it."""

    def __init__(self, db: Database, query: Query) -> None:
        self.db = db
        where = Where(db, query)
        self.where = where.sql.format(p=db.param)
        self.params = where.params

    def time(self, value: dt.datetime) -> Any:
        return db_time(self.db, value)

    def run(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        return list(self.db.execute_sql(sql.format(p=self.db.param), list(params)).fetchall())


def compute(db: Database, query: Query, *, previous: str = "full") -> dict[str, Any]:
    """The report for ``query``, from the rollups (bring them up to date first).

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
    """The range's totals and trend, and the previous period's range and totals."""
    found, _ = rollups.sums(db, query, kinds=_TREND_KINDS)
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "timezone": query.timezone,
        "totals": totals(found),
        "trend": trend(query, found),
        "previous": _totals_of(db, query.previous()),
    }


_TREND_KINDS = ("total", "hour")


def _totals_of(db: Database, query: Query) -> dict[str, Any]:
    found, _ = rollups.sums(db, query, kinds=("total",))
    return {"from": query.start.isoformat(), "to": query.end.isoformat(), "totals": totals(found)}


def _period(db: Database, query: Query) -> dict[str, Any]:
    sql = _Sql(db, query)
    found, groups = rollups.sums(db, query, query.breakdown)
    order = step_order(query.steps, found)
    result: dict[str, Any] = {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "timezone": query.timezone,
        "filters": dict(query.filters),
        "breakdown": query.breakdown,
        "totals": totals(found),
        "steps": funnel(found, order, query),
        "fields": fields(found, order),
        "trend": trend(query, found),
        "events": {**events(sql, query), "users": users(sql, query)},
        "outcomes": outcomes(sql, query),
        "segments": rollups.segment_counts(db, query, found),
        "breakdownValues": None,
        "previous": None,
    }
    if query.breakdown:
        result["breakdownValues"] = [
            {
                "value": value,
                "totals": totals(group),
                "steps": funnel(group, order, query),
                "fields": fields(group, order),
            }
            for value, group in groups.items()
        ]
    forms.add_to_report(sql, query, found, groups, result)
    return result


def step_order(configured: Iterable[str], found: Sums) -> list[str]:
    """The journey order: configured steps, then the others viewed, by where sessions reach
    them on average (then by key).

    A configured step is listed even when no session viewed it: that nobody got there is news.
    """
    listed = list(configured)
    reached = {k1: n for k1, k2, _, n in found.counts("step") if k2 == "reach"}
    others = sorted(
        (key for key in reached if key not in listed),
        key=lambda key: (Fraction(found.n("step", key, "position"), reached[key]), key),
    )
    return listed + others


def totals(found: Sums) -> dict[str, Any]:
    return _totals(
        *(
            found.n("total", metric)
            for metric in (
                "sessions",
                "starters",
                "submitters",
                "completions",
                "abandons",
                "active",
            )
        )
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


def funnel(found: Sums, order: list[str], query: Query) -> list[dict]:
    """The step rows, with the branch-aware numbers of :func:`.forms.branch_rows`."""
    sessions = found.n("total", "sessions")
    reasons: dict[str, dict[str, int]] = defaultdict(dict)
    for step, reason, _, n in found.counts("reason"):
        reasons[step][reason] = n
    times = found.histograms("step_time")
    rows = []
    for index, key in enumerate(order):
        reached = found.n("step", key, "reach")
        rows.append(
            {
                "stepKey": key,
                "position": index + 1,
                "configured": key in query.steps,
                "sessions": reached,
                "shareOfSessions": rate(reached, sessions),
                "shareOfPrevious": None,
                "dropoffs": found.n("step", key, "dropoffs"),
                "dropoffReasons": dict(sorted(reasons[key].items())),
                "medianSeconds": times[(key, "", "")].median() if (key, "", "") in times else None,
            }
        )
    forms.branch_rows(rows, found, query.optional)
    return rows


def trend(query: Query, found: Sums) -> dict[str, Any]:
    """Sessions, starters and completions by local day, or local hour for short ranges."""
    points: dict[str, dict[str, Any]] = {
        period: {"period": period, "sessions": 0, "starters": 0, "completions": 0}
        for period in query.periods()
    }
    for day, kinds in found.days.items():
        if query.hourly:
            for (hour, metric, _, _), (n, _, _) in kinds.get("hour", {}).items():
                point = points.get(f"{day}T{hour}:00")
                if point is not None:
                    point[metric] += int(n)
        else:
            point = points.get(day)
            if point is not None:
                for metric in ("sessions", "starters", "completions"):
                    entry = kinds.get("total", {}).get((metric, "", "", NO_BUCKET))
                    point[metric] += int(entry[0]) if entry else 0
    for point in points.values():
        point["completionRate"] = rate(point["completions"], point["starters"])
    return {"interval": "hour" if query.hourly else "day", "points": list(points.values())}


def fields(found: Sums, order: list[str]) -> list[dict]:
    """The field rows, ordered by their step's position, then key."""
    numbers: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for step, field, metric, n in found.counts("field"):
        numbers[(step, field)][metric] = n
    errors: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for step, field, error_type, n in found.counts("error"):
        errors[(step, field)][error_type] = n
    times: dict[tuple[str, str], Histogram] = defaultdict(Histogram)
    for (step, field, _), histogram in found.histograms("field_time").items():
        times[(step, field)].merge(histogram)
    hesitation = found.histograms("hesitation")
    rows = []
    for (step, field), counts in numbers.items():
        if not counts.get("sessions"):
            continue
        pause = hesitation.get((step, field, ""))
        rows.append(
            {
                "fieldKey": field,
                "stepKey": step or None,
                "sessions": counts["sessions"],
                "starters": counts.get("starters", 0),
                "returns": counts.get("returns", 0),
                "errorSessions": counts.get("errorSessions", 0),
                "errors": dict(sorted(errors[(step, field)].items())),
                "errorRate": rate(counts.get("errorSessions", 0), counts["sessions"]),
                "abandons": counts.get("abandons", 0),
                "abandonShare": None,
                "medianSeconds": times[(step, field)].median(),
                "medianHesitationSeconds": pause.median() if pause else None,
            }
        )
    _finish(rows, order)
    return rows


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
    """The range's events by type and name, pages, referrers, forms and custom events, added up
    by the database from the counts kept by local hour and day of the rollups' time zone (exact
    for reports in that zone): a day's row for each whole day of a range in that zone, else the
    rows of its hours."""
    start, end = query.bounds()
    periods = {period: 0 for period in query.periods()}
    types: Counter = Counter()
    pages: Counter = Counter()
    referrers: Counter = Counter()
    custom: dict[tuple, list[float]] = defaultdict(lambda: [0, 0.0])
    by_day = not query.hourly and rollups.zone_of(sql.db) == query.timezone
    where = "journey_id = {p} AND grain = {p} AND hour >= {p} AND hour < {p}"
    span = [query.journey_id, "d" if by_day else "h", sql.time(start), sql.time(end)]
    for at, count in sql.run(
        f"SELECT hour, SUM(count) FROM {_HOURLY} WHERE {where} AND kind = 'type' GROUP BY hour",
        span,
    ):
        period = query.period(stored_time(at))
        periods[period] = periods.get(period, 0) + int(count)
    for kind, key1, key2, key3, count, value_sum in sql.run(
        f"SELECT kind, key1, key2, key3, SUM(count), SUM(value_sum) FROM {_HOURLY}"
        f" WHERE {where} AND kind IN ('type', 'custom') GROUP BY kind, key1, key2, key3",
        span,
    ):
        if kind == "type":
            types[(key1, key2 or None)] += int(count)
        else:
            entry = custom[(key1, key2 or None, key3 or None)]
            entry[0] += int(count)
            entry[1] += float(value_sum)
    for kind, found in (("page", pages), ("referrer", referrers)):
        # The most frequent first: a few more than are shown, ties settled below.
        for key1, count in sql.run(
            f"SELECT key1, SUM(count) AS c FROM {_HOURLY} WHERE {where} AND kind = {{p}}"
            f" GROUP BY key1 ORDER BY c DESC LIMIT {10 * TOP_EVENTS}",
            [*span, kind],
        ):
            found[(key1 or None) if kind == "page" else key1] += int(count)
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
    """Whether an event is among the range's other events: it occurred on a day of the range,
    local time."""
    start, end = query.bounds()
    return start <= stored_time(at) < end


def users(sql: _Sql, query: Query) -> dict[str, Any]:
    """The people of the range's identify and stage events, one per person however named
    (:mod:`flask_journey.identities`), and how many reached each stage in the range."""
    start, end = query.bounds()
    joins = RESOLVE_JOINS.format(links=LINKS_TABLE)
    identified: set[str] = set()
    reached: dict[str, set[str]] = {stage: set() for stage in USER_STAGES}
    for kind, name, user in sql.run(
        f"SELECT e.type, e.name, {RESOLVE_SQL} FROM {_EVENT} e{joins}"
        " WHERE e.journey_id = {p} AND e.type IN ('identify', 'stage')"
        " AND e.occurred_at >= {p} AND e.occurred_at < {p}",
        [query.journey_id, sql.time(start), sql.time(end)],
    ):
        if user is None:
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

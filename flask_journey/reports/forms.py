"""Answers for real forms: a funnel that follows branches, what follows a validation error,
applications across sessions, how long completing takes, and which differences are real.

:func:`summarise` takes one session's events, in order, and returns what
:class:`~flask_journey.models.SessionForm` stores: the session's path through the steps, for
each field and error type it saw whether it recovered, its application key and how long it took
to complete. :func:`add_to_report` reads those rows for a report's sessions and adds, to each
step row, ``exits``, ``exitRate``, ``transitions`` and the ``previousStep`` its
``shareOfPrevious`` is measured against, and to the report ``errorOutcomes``, ``behaviour``,
``applications`` and ``completionTime``; :func:`period_changes` gives ``changes``.
``docs/reports.md`` defines each number; :mod:`.reference_forms` computes the same from raw
events.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..applications import KEY
from ..models import FieldSummary, SessionForm, SessionSummary
from . import stats
from .query import Query, median_seconds, rate
from .summary import Event

#: How many next steps a step row's ``transitions`` lists; the rest are one ``(other)`` entry.
TOP_TRANSITIONS = 10
#: How many rows ``errorOutcomes`` lists.
TOP_ERROR_OUTCOMES = 20
#: The ends of a path, as ``transitions`` names them, and the entry that sums the rest.
COMPLETED = "(completed)"
EXIT = "(exit)"
OTHER = "(other)"

_FORM = SessionForm._meta.table_name
_SESSION = SessionSummary._meta.table_name
_FIELD = FieldSummary._meta.table_name


@dataclass
class FormRow:
    """One session, as :class:`~flask_journey.models.SessionForm` stores it."""

    #: The step keys viewed, in time order, a view of the step just viewed left out.
    path: list[str]
    #: ``[stepKey or '', fieldKey, errorType, recovered, last, seconds to fix or None]``.
    errors: list[list[Any]]
    #: The application key of the first event that names one (None: none does).
    application: str | None = None
    #: Seconds from the first event to the first submit_success (None: not completed).
    completion_seconds: float | None = None


def summarise(events: list[Event]) -> FormRow:
    """A session's path and error outcomes, from all its events ordered by (occurred_at, id).

    For each field and error type: ``recovered`` is 1 when, after the error's last occurrence,
    the field changed and then a step other than the field's was viewed or the form was
    completed; ``last`` is 1 when it was the last validation error of the session; the seconds
    to fix run from its first occurrence to the field's next change (None without one).
    """
    path: list[str] = []
    for event in events:
        if (
            event.type == "step_view"
            and event.step_key
            and (not path or path[-1] != event.step_key)
        ):
            path.append(event.step_key)
    first: dict[tuple[str, str, str], int] = {}
    latest: dict[tuple[str, str, str], int] = {}
    last_error = None
    for index, event in enumerate(events):
        if event.type == "validation_error" and event.field_key:
            key = (event.step_key or "", event.field_key, event.error_type or "unknown")
            first.setdefault(key, index)
            latest[key] = index
            last_error = key
    errors = []
    for key, start in first.items():
        step, field = key[0], key[1]
        fix = _next_change(events, latest[key], step, field)
        recovered = fix is not None and any(
            e.type == "submit_success" or (e.type == "step_view" and e.step_key not in (None, step))
            for e in events[fix + 1 :]
        )
        fixed = _next_change(events, start, step, field)
        seconds = (
            None
            if fixed is None
            else (events[fixed].occurred_at - events[start].occurred_at).total_seconds()
        )
        errors.append([step, field, key[2], int(recovered), int(key == last_error), seconds])
    success = next((e for e in events if e.type == "submit_success"), None)
    took = None
    if success is not None:
        took = (success.occurred_at - events[0].occurred_at).total_seconds()
    return FormRow(path, errors, _application(events), took)


def _application(events: list[Event]) -> str | None:
    """The first application key an event names (a value of another shape is no key)."""
    for event in events:
        if event.properties and "applicationKey" in str(event.properties):
            found = event.props().get("applicationKey")
            if isinstance(found, str) and KEY.match(found):
                return found
    return None


def _next_change(events: list[Event], after: int, step: str, field: str) -> int | None:
    """The index of the first change of the field after index ``after``."""
    for index in range(after + 1, len(events)):
        event = events[index]
        if (
            event.type == "field_change"
            and event.field_key == field
            and (event.step_key or "") == step
        ):
            return index
    return None


def stored(row: FormRow) -> tuple[str, str, str | None, float | None]:
    """A row's ``path``, ``errors``, ``application`` and ``completion_seconds`` columns."""
    return (
        json.dumps(row.path, separators=(",", ":")),
        json.dumps(row.errors, separators=(",", ":")),
        row.application,
        row.completion_seconds,
    )


class ReportSql(Protocol):
    """The range's sessions as SQL (:class:`flask_journey.reports.compute._Sql`)."""

    where: str
    params: list[Any]
    cutoff: Any

    def run(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]: ...


@dataclass(frozen=True)
class Walk:
    """A session's path, and how it ended: ``exited`` when it is closed and not completed."""

    path: Sequence[str]
    completed: bool
    exited: bool


def branch_rows(rows: list[dict[str, Any]], walks: Iterable[Walk], optional: Iterable[str]) -> None:
    """Add ``optional``, ``exits``, ``exitRate``, ``transitions`` and ``previousStep`` to the
    step rows of a funnel, and measure ``shareOfPrevious`` against ``previousStep``."""
    skip = set(optional)
    exits: Counter = Counter()
    moves: dict[str, Counter] = defaultdict(Counter)
    came: dict[str, Counter] = defaultdict(Counter)
    for walk in walks:
        path = list(walk.path)
        if not path:
            continue
        pairs = set(zip(path, path[1:], strict=False))
        if walk.completed:
            pairs.add((path[-1], COMPLETED))
        elif walk.exited:
            pairs.add((path[-1], EXIT))
            exits[path[-1]] += 1
        for here, there in pairs:
            moves[here][there] += 1
        for step in dict.fromkeys(path):
            before = path[: path.index(step)]
            source = next((s for s in reversed(before) if s not in skip and s != step), None)
            if source is not None:
                came[step][source] += 1
    sessions = {row["stepKey"]: row["sessions"] for row in rows}
    position = {row["stepKey"]: row["position"] for row in rows}
    for row in rows:
        step = row["stepKey"]
        sources = came.get(step)
        previous = None
        if sources:
            previous = min(sources, key=lambda s: (-sources[s], position.get(s, len(rows) + 1), s))
        row["optional"] = step in skip
        row["exits"] = exits[step]
        row["exitRate"] = rate(exits[step], row["sessions"])
        row["transitions"] = _transitions(moves.get(step, Counter()))
        row["previousStep"] = previous
        row["shareOfPrevious"] = (
            None if previous is None else rate(came[step][previous], sessions.get(previous, 0))
        )


def _transitions(counts: Counter) -> list[dict[str, Any]]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    rows = [{"to": to, "sessions": n} for to, n in ranked[:TOP_TRANSITIONS]]
    rest = sum(n for _, n in ranked[TOP_TRANSITIONS:])
    if rest:
        rows.append({"to": OTHER, "sessions": rest})
    return rows


@dataclass
class _Outcome:
    sessions: int = 0
    recovered: int = 0
    abandoned: int = 0

    def __post_init__(self) -> None:
        self.fixes: list[float] = []


def error_outcome_rows(
    seen: Iterable[tuple[bool, list[list[Any]]]], clean: dict[tuple[str, str], tuple[int, int]]
) -> list[dict[str, Any]]:
    """``errorOutcomes`` from each session's (abandoned, error entries) and, per field
    ``(stepKey or '', fieldKey)``, its error-free sessions and how many of them abandoned."""
    outcomes: dict[tuple[str, str, str], _Outcome] = defaultdict(_Outcome)
    for abandoned, entries in seen:
        for step, field, error_type, recovered, last, seconds in entries:
            outcome = outcomes[(step, field, error_type)]
            outcome.sessions += 1
            outcome.recovered += recovered
            outcome.abandoned += bool(abandoned and last)
            if seconds is not None:
                outcome.fixes.append(seconds)
    rows: list[dict[str, Any]] = []
    for (step, field, error_type), outcome in outcomes.items():
        count, abandons = clean.get((step, field), (0, 0))
        expected = outcome.sessions * abandons / count if count else 0
        rows.append(
            {
                "stepKey": step or None,
                "fieldKey": field,
                "errorType": error_type,
                "sessions": outcome.sessions,
                "recovered": outcome.recovered,
                "abandonedAfter": outcome.abandoned,
                "excessAbandons": round(outcome.abandoned - expected, 2),
                "medianSecondsToFix": median_seconds(outcome.fixes),
            }
        )
    rows.sort(
        key=lambda r: (
            -r["excessAbandons"],
            -r["sessions"],
            r["stepKey"] or "",
            r["fieldKey"],
            r["errorType"],
        )
    )
    return rows[:TOP_ERROR_OUTCOMES]


def add_to_report(
    sql: ReportSql, query: Query, sessions: list[Any], result: dict[str, Any]
) -> None:
    """Add the branch-aware funnel's numbers to ``result``'s step rows (and each breakdown
    value's) and ``errorOutcomes`` to ``result``, for ``sessions``, the range's session rows."""
    by_id = {session.id: session for session in sessions}
    paths: dict[int, list[str]] = {}
    took: dict[int, float] = {}
    seen = []
    for session_id, path, errors, seconds in sql.run(
        f"SELECT f.session_id, f.path, f.errors, f.completion_seconds FROM {_FORM} f"
        f" JOIN {_SESSION} s ON s.id = f.session_id WHERE {sql.where}",
        sql.params,
    ):
        paths[session_id] = json.loads(path)
        if seconds is not None:
            took[session_id] = seconds
        if errors != "[]":
            seen.append((_abandoned(by_id[session_id]), json.loads(errors)))

    def walks(group: Iterable[Any]) -> Iterator[Walk]:
        for session in group:
            completed = bool(session.completed)
            yield Walk(paths.get(session.id, []), completed, session.closed and not completed)

    branch_rows(result["steps"], walks(sessions), query.optional)
    groups: dict[str, list[Any]] = defaultdict(list)
    if query.breakdown:
        for session in sessions:
            groups[session.segment(query.breakdown)].append(session)
        for group in result["breakdownValues"] or []:
            branch_rows(group["steps"], walks(groups[group["value"]]), query.optional)
    closed = "(s.ended <> 0 OR s.last_at < {p})"
    clean = {
        (step, field): (count, abandons or 0)
        for step, field, count, abandons in sql.run(
            "SELECT f.step_key, f.field_key, COUNT(*),"
            f" SUM(CASE WHEN s.started <> 0 AND {closed} AND s.completed = 0 THEN 1 ELSE 0 END)"
            f" FROM {_FIELD} f JOIN {_SESSION} s ON s.id = f.session_id"
            f" WHERE f.errors = 0 AND {sql.where} GROUP BY f.step_key, f.field_key",
            [sql.cutoff, *sql.params],
        )
    }
    result["errorOutcomes"] = error_outcome_rows(seen, clean)
    result["behaviour"] = _behaviour(sql, by_id)
    applications = _applications(sql, query, by_id, took)
    result["applications"] = application_numbers(applications, query)
    result["completionTime"] = completion_time(
        [(s.first_at, took[s.id]) for s in sessions if s.id in took],
        [times for times in (_application_seconds(a) for a in applications) if times],
        {row["stepKey"]: step_seconds(sessions, row["stepKey"]) for row in result["steps"]},
        query,
    )
    for group in result["breakdownValues"] or []:
        members = groups[group["value"]]
        group["completionTime"] = completion_time(
            [(s.first_at, took[s.id]) for s in members if s.id in took],
            None,
            {row["stepKey"]: step_seconds(members, row["stepKey"]) for row in group["steps"]},
            query,
        )


def _behaviour(sql: ReportSql, sessions: dict[int, Any]) -> list[dict[str, Any]]:
    """``behaviour`` from the session-field rows of the report's abandoners and completers."""
    fields: dict[tuple[str, str], tuple[Group, Group]] = defaultdict(lambda: (Group(), Group()))
    for step, field, returned, errors, seconds, session_id in sql.run(
        "SELECT f.step_key, f.field_key, f.returned, f.errors, f.seconds, f.session_id"
        f" FROM {_FIELD} f JOIN {_SESSION} s ON s.id = f.session_id WHERE {sql.where}",
        sql.params,
    ):
        session = sessions[session_id]
        if session.completed or _abandoned(session):
            group = fields[(step, field)][1 if session.completed else 0]
            group.add(bool(returned), bool(errors), seconds)
    return behaviour_rows(fields)


def _abandoned(session: Any) -> bool:
    return bool(session.started and session.closed and not session.completed)


@dataclass(frozen=True)
class Visit:
    """One session of an application: when it began and ended, whether it completed, and the
    seconds from its first event to its first ``submit_success``."""

    first_at: dt.datetime
    last_at: dt.datetime
    completed: bool
    seconds: float | None = None


def application_numbers(applications: Iterable[list[Visit]], query: Query) -> dict[str, Any]:
    """``applications`` from each application's sessions, in order (an application of the
    report: its first session is one of the report's)."""
    started = completed = saved = abandoned = visits = 0
    days: list[float] = []
    for sessions in applications:
        started += 1
        done = next((n for n, visit in enumerate(sessions) if visit.completed), None)
        if done is not None:
            completed += 1
            visits += done + 1
            took = sessions[done].last_at - sessions[0].first_at
            days.append(took.total_seconds() / 86400)
        elif query.now - max(visit.last_at for visit in sessions) < query.application_idle:
            saved += 1
        else:
            abandoned += 1
    return {
        "started": started,
        "completed": completed,
        "saved": saved,
        "abandoned": abandoned,
        "completionRate": rate(completed, started),
        "sessionsPerCompletion": round(visits / completed, 4) if completed else None,
        "daysToComplete": {"p50": percentile(days, 50), "p90": percentile(days, 90)},
    }


def percentile(values: list[float], p: int) -> float | None:
    """The nearest-rank ``p``-th percentile (the smallest value with at least ``p`` % of the
    values at or below it), rounded to 3 decimals; None without values."""
    if not values:
        return None
    ranked = sorted(values)
    return round(ranked[max(math.ceil(p * len(ranked) / 100), 1) - 1], 3)


def _applications(
    sql: ReportSql, query: Query, sessions: dict[int, Any], took: dict[int, float]
) -> list[list[Visit]]:
    """The applications of the report's sessions: each session's application, with all its
    sessions, or the session alone when it names none."""
    grouped: dict[str, list[tuple[dt.datetime, int, Visit]]] = defaultdict(list)
    for application, pk, first_at, last_at, completed, seconds in sql.run(
        "SELECT a.application, t.id, t.first_at, t.last_at, t.completed, a.completion_seconds"
        f" FROM {_FORM} a"
        f" JOIN {_SESSION} t ON t.id = a.session_id WHERE t.journey_id = {{p}}"
        f" AND a.application IN (SELECT f.application FROM {_FORM} f"
        f" JOIN {_SESSION} s ON s.id = f.session_id WHERE {sql.where}"
        " AND f.application IS NOT NULL)",
        [query.journey_id, *sql.params],
    ):
        first, last = _time(first_at), _time(last_at)
        visit = Visit(first, last, bool(completed), seconds)
        grouped[application].append((first, pk, visit))
    named = {pk for visits in grouped.values() for _, pk, _ in visits}
    found = [
        [visit for _, _, visit in sorted(visits, key=lambda v: v[:2])]
        for visits in grouped.values()
        if min(visits, key=lambda v: v[:2])[1] in sessions
    ]
    found.extend(
        [Visit(s.first_at, s.last_at, bool(s.completed), took.get(pk))]
        for pk, s in sessions.items()
        if pk not in named
    )
    return found


def _application_seconds(visits: list[Visit]) -> tuple[dt.datetime, float] | None:
    """When an application began, and the seconds to its completion (None: not completed)."""
    done = next((visit for visit in visits if visit.completed), None)
    if done is None or done.seconds is None:
        return None
    took = (done.first_at - visits[0].first_at).total_seconds() + done.seconds
    return visits[0].first_at, took


#: The upper bounds of the ``completionTime`` histogram's buckets, in seconds (a log scale:
#: 10 s, 30 s, 1 min, 2 min, 5 min, 10 min, 30 min, 1 h, 2 h, 6 h, 1 day, 1 week); a last
#: bucket without bound holds the rest.
BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400, 604800)


def distribution(values: list[float]) -> dict[str, Any]:
    """``count``, ``p25``, ``p50``, ``p90`` and the ``histogram`` of some durations."""
    counts = [0] * (len(BUCKETS) + 1)
    for value in values:
        counts[next((n for n, b in enumerate(BUCKETS) if value <= b), len(BUCKETS))] += 1
    return {
        "count": len(values),
        "p25": percentile(values, 25),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "histogram": [
            {"upToSeconds": bound, "count": n}
            for bound, n in zip((*BUCKETS, None), counts, strict=True)
        ],
    }


def completion_time(
    sessions: list[tuple[dt.datetime, float]],
    applications: list[tuple[dt.datetime, float]] | None,
    steps: dict[str, list[float]],
    query: Query,
) -> dict[str, Any]:
    """``completionTime``: the distributions of the completed sessions' and applications'
    ``(start, seconds)``, each step's p50 and p90, and the weekly median of the sessions'."""
    weeks: dict[str, list[float]] = defaultdict(list)
    for start, seconds in sessions:
        day = start.replace(tzinfo=dt.timezone.utc).astimezone(query.zone).date()
        weeks[(day - dt.timedelta(days=day.weekday())).isoformat()].append(seconds)
    found: dict[str, Any] = {
        "sessions": distribution([seconds for _, seconds in sessions]),
        "steps": [
            {"stepKey": key, "p50": percentile(values, 50), "p90": percentile(values, 90)}
            for key, values in steps.items()
        ],
        "weeks": [
            {"week": week, "completions": len(values), "p50": percentile(values, 50)}
            for week, values in sorted(weeks.items())
        ],
    }
    if applications is not None:
        found["applications"] = distribution([seconds for _, seconds in applications])
    return found


def step_seconds(sessions: Iterable[Any], step: str) -> list[float]:
    """The time each session spent on a step, as the funnel's ``medianSeconds`` measures it."""
    return [
        entry[2]
        for session in sessions
        for entry in session.steps
        if entry[0] == step and entry[2] is not None
    ]


def _time(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


@dataclass
class Group:
    """The sessions of one group (abandoners or completers) that had a field."""

    sessions: int = 0
    returns: int = 0
    errors: int = 0

    def __post_init__(self) -> None:
        self.seconds: list[float] = []

    def add(self, returned: bool, errored: bool, seconds: float | None) -> None:
        self.sessions += 1
        self.returns += returned
        self.errors += errored
        if seconds is not None:
            self.seconds.append(seconds)


def behaviour_rows(fields: dict[tuple[str, str], tuple[Group, Group]]) -> list[dict[str, Any]]:
    """``behaviour``: per field ``(stepKey or '', fieldKey)``, its abandoners compared with its
    completers on return rate, error rate (two-proportion z-test, or Fisher's exact test where
    an expected count is under 5) and time in field (Mann-Whitney U), each ``significant``
    after Benjamini-Hochberg over every test of every field where both groups have at least
    :data:`~.stats.MIN_GROUP` sessions."""
    rows: list[dict[str, Any]] = []
    tested: list[tuple[dict[str, Any], float]] = []
    for (step, field), (left, done) in sorted(fields.items()):
        enough = min(left.sessions, done.sessions) >= stats.MIN_GROUP
        row: dict[str, Any] = {
            "stepKey": step or None,
            "fieldKey": field,
            "abandoners": left.sessions,
            "completers": done.sessions,
        }
        for key, x1, x2 in (
            ("returnRate", left.returns, done.returns),
            ("errorRate", left.errors, done.errors),
        ):
            entry = _proportions(x1, left.sessions, x2, done.sessions)
            row[key] = entry
            if enough and entry["pValue"] is not None:
                tested.append((entry, entry["pValue"]))
        a, b = median_seconds(left.seconds), median_seconds(done.seconds)
        p = (
            stats.mann_whitney(left.seconds, done.seconds)
            if left.seconds and done.seconds
            else None
        )
        row["timeInField"] = {
            "abandoners": a,
            "completers": b,
            "difference": None if a is None or b is None else round(a - b, 3),
            "pValue": None if p is None else round(p, 6),
            "test": "mann-whitney",
            "significant": False,
        }
        if enough and p is not None:
            tested.append((row["timeInField"], p))
        rows.append(row)
    mark(tested)
    return rows


def _proportions(x1: int, n1: int, x2: int, n2: int) -> dict[str, Any]:
    """Two rates, their difference and the p-value of a test that they differ (none where a
    rate is not a share of its sessions: completions of sessions that never started)."""
    if not n1 or not n2 or x1 > n1 or x2 > n2:
        return {
            "abandoners": rate(x1, n1),
            "completers": rate(x2, n2),
            "difference": None if not n1 or not n2 else round(x1 / n1 - x2 / n2, 4),
            "pValue": None,
            "test": None,
            "significant": False,
        }
    p, test = stats.proportions(x1, n1, x2, n2)
    return {
        "abandoners": rate(x1, n1),
        "completers": rate(x2, n2),
        "difference": round(x1 / n1 - x2 / n2, 4),
        "pValue": round(p, 6),
        "test": test,
        "significant": False,
    }


def mark(tested: list[tuple[dict[str, Any], float]]) -> None:
    """Set ``significant`` on each tested entry, by Benjamini-Hochberg over all of them."""
    for (entry, _), found in zip(
        tested, stats.benjamini_hochberg([p for _, p in tested]), strict=True
    ):
        entry["significant"] = found


def period_changes(report: dict[str, Any]) -> dict[str, Any] | None:
    """``changes``: the completion rate and each step's exit rate against the previous period,
    each with the p-value of a test that they differ and ``significant`` after
    Benjamini-Hochberg over all of them (where both periods have at least
    :data:`~.stats.MIN_GROUP` starters, or sessions at the step)."""
    before = report.get("previous")
    if not before:
        return None
    tested: list[tuple[dict[str, Any], float]] = []

    def change(x1: int, n1: int, x2: int, n2: int, **named: Any) -> dict[str, Any]:
        found = _proportions(x1, n1, x2, n2)
        entry = {
            **named,
            "now": found.pop("abandoners"),
            "before": found.pop("completers"),
            **found,
        }
        if min(n1, n2) >= stats.MIN_GROUP and entry["pValue"] is not None:
            tested.append((entry, entry["pValue"]))
        return entry

    now, then = report["totals"], before["totals"]
    found: dict[str, Any] = {
        "completionRate": change(
            now["completions"], now["starters"], then["completions"], then["starters"]
        ),
        "exitRates": [],
    }
    earlier = {row["stepKey"]: row for row in before.get("steps") or []}
    for row in report["steps"]:
        old = earlier.get(row["stepKey"])
        if old is not None and "exits" in old:
            found["exitRates"].append(
                change(
                    row["exits"],
                    row["sessions"],
                    old["exits"],
                    old["sessions"],
                    stepKey=row["stepKey"],
                )
            )
    mark(tested)
    return found

"""Answers for real forms: a funnel that follows branches, what follows a validation error,
applications across sessions, how long completing takes, and which differences are real.

:func:`summarise` takes one session's events, in order, and returns what
:class:`~flask_journey.models.SessionForm` stores: the session's path through the steps, for
each field and error type it saw whether it recovered, its application key and how long it took
to complete (:mod:`.rollup` sums them). :func:`branch_rows` adds, to each step row, ``exits``,
``exitRate``, ``transitions`` and the ``previousStep`` its ``shareOfPrevious`` is measured
against, and :func:`add_to_report` adds ``errorOutcomes``, ``behaviour``, ``applications`` and
``completionTime`` to the report, from its sums (the applications a site named from their
sessions); :func:`period_changes` gives ``changes``.
``docs/reports.md`` defines each number; :mod:`.reference_forms` computes the same from raw
events.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..applications import KEY, instance_key
from ..models import SessionForm, SessionSummary
from . import stats
from .query import Query, local_midnight, rate, stored_time
from .rollup import BINS, Histogram, coarse
from .rollups import Sums
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
    """The first application key an event names (a value of another shape is no key), else
    the key of the first instance id an event carries."""
    for event in events:
        if event.properties and "applicationKey" in str(event.properties):
            found = event.props().get("applicationKey")
            if isinstance(found, str) and KEY.match(found):
                return found
    return next((instance_key(e.instance_id) for e in events if e.instance_id), None)


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

    def run(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]: ...

    def time(self, value: dt.datetime) -> Any: ...


def branch_rows(rows: list[dict[str, Any]], found: Sums, optional: Iterable[str]) -> None:
    """Add ``optional``, ``exits``, ``exitRate``, ``transitions`` and ``previousStep`` to the
    step rows of a funnel, and measure ``shareOfPrevious`` against ``previousStep``."""
    skip = set(optional)
    moves: dict[str, Counter] = defaultdict(Counter)
    for here, there, _, n in found.counts("move"):
        moves[here][there] = n
    came: dict[str, Counter] = defaultdict(Counter)
    for step, source, _, n in found.counts("came"):
        came[step][source] = n
    sessions = {row["stepKey"]: row["sessions"] for row in rows}
    position = {row["stepKey"]: row["position"] for row in rows}
    for row in rows:
        step = row["stepKey"]
        sources = came.get(step)
        previous = None
        if sources:
            previous = min(sources, key=lambda s: (-sources[s], position.get(s, len(rows) + 1), s))
        exits = found.n("step", step, "exits")
        row["optional"] = step in skip
        row["exits"] = exits
        row["exitRate"] = rate(exits, row["sessions"])
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


def error_outcome_rows(found: Sums) -> list[dict[str, Any]]:
    """``errorOutcomes``: per field and error type, its sessions, how many recovered, how many
    abandoned after it and how many more than the field's error-free sessions would have."""
    outcomes: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    for step, field, entry, n in found.counts("outcome"):
        error_type, metric = entry.rsplit("\x1f", 1)
        outcomes[(step, field, error_type)][metric] = n
    rows: list[dict[str, Any]] = []
    for (step, field, error_type), numbers in outcomes.items():
        if not numbers.get("sessions"):
            continue
        count = found.n("field", step, field, "clean")
        abandons = found.n("field", step, field, "cleanAbandons")
        expected = numbers["sessions"] * abandons / count if count else 0
        rows.append(
            {
                "stepKey": step or None,
                "fieldKey": field,
                "errorType": error_type,
                "sessions": numbers["sessions"],
                "recovered": numbers.get("recovered", 0),
                "abandonedAfter": numbers.get("abandoned", 0),
                "excessAbandons": round(numbers.get("abandoned", 0) - expected, 2),
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
    del rows[TOP_ERROR_OUTCOMES:]
    fixes = found.histograms("fix_time")
    for row in rows:
        fix = fixes.get((row["stepKey"] or "", row["fieldKey"], row["errorType"]))
        row["medianSecondsToFix"] = fix.median() if fix else None
    return rows


def add_to_report(
    sql: ReportSql,
    query: Query,
    found: Sums,
    groups: dict[str, Sums],
    result: dict[str, Any],
) -> None:
    """Add ``errorOutcomes``, ``behaviour``, ``applications`` and ``completionTime`` to
    ``result`` (and each breakdown value's ``completionTime``), from the report's sums."""
    result["errorOutcomes"] = error_outcome_rows(found)
    result["behaviour"] = _behaviour(found)
    named = _named_applications(sql, query, found)
    result["applications"] = _application_numbers(sql, query, found, named)
    finished = [times for times in (_application_seconds(a) for a in named) if times]
    result["completionTime"] = _completion_time(found, finished, result["steps"], query)
    for group in result["breakdownValues"] or []:
        group["completionTime"] = _completion_time(
            groups[group["value"]], None, group["steps"], query
        )


def _behaviour(found: Sums) -> list[dict[str, Any]]:
    """``behaviour`` from the abandoners' and completers' sums of each field."""
    fields: dict[tuple[str, str], tuple[Group, Group]] = defaultdict(lambda: (Group(), Group()))
    for step, field, entry, n in found.counts("behaviour"):
        group, metric = entry.split("\x1f")
        setattr(fields[(step, field)][group == "c"], metric, n)
    for (step, field, group), histogram in found.histograms("field_time").items():
        if group != "o" and (step, field) in fields:
            fields[(step, field)][group == "c"].times.merge(histogram)
    return behaviour_rows(fields)


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


def _application_numbers(
    sql: ReportSql, query: Query, found: Sums, named: list[list[Visit]]
) -> dict[str, Any]:
    """:func:`application_numbers`: the applications the site named, from their sessions, and
    the sessions that name none (applications of one session) from the sums, with how many of
    those are still saved counted by the database."""
    numbers = application_numbers(named, query)
    single, done = found.n("single", "sessions"), found.n("single", "completed")
    saved = _saved_singles(sql, query, found)
    started = numbers["started"] + single
    completed = numbers["completed"] + done
    visits = round((numbers["sessionsPerCompletion"] or 0) * numbers["completed"]) + done
    days = Histogram()
    for visits_of in named:
        finish = next((visit for visit in visits_of if visit.completed), None)
        if finish is not None:
            seconds = (finish.last_at - visits_of[0].first_at).total_seconds()
            days.add_value(seconds)
    histogram = found.histograms("single_days").get(("", "", ""))
    exact = numbers["daysToComplete"]
    if histogram is not None:
        days.merge(histogram)
        exact = {"p50": days.percentile(50, scale=86400), "p90": days.percentile(90, scale=86400)}
    return {
        "started": started,
        "completed": completed,
        "saved": numbers["saved"] + (saved or 0),
        "abandoned": numbers["abandoned"] + single - done - (saved or 0),
        "completionRate": rate(completed, started),
        "sessionsPerCompletion": round(visits / completed, 4) if completed else None,
        # Exact when every completed application was named (their sessions are read).
        "daysToComplete": exact,
    }


def _saved_singles(sql: ReportSql, query: Query, found: Sums) -> int:
    """The uncompleted sessions naming no application with an event less than
    ``JOURNEY_APPLICATION_IDLE_DAYS`` ago: those that began after the local day that many days
    ago from the sums, those of that day and before counted by the database."""
    cutoff = query.now - query.application_idle
    day = cutoff.replace(tzinfo=dt.timezone.utc).astimezone(query.zone).date()
    saved = 0.0
    for when, kinds in found.days.items():
        if dt.date.fromisoformat(when) > day:
            counts = kinds.get("single", {})
            saved += sum(
                n for (metric, _, _, _), (n, _, _) in counts.items() if metric == "sessions"
            )
            saved -= sum(
                n for (metric, _, _, _), (n, _, _) in counts.items() if metric == "completed"
            )
    if query.start <= day:
        ((older,),) = sql.run(
            f"SELECT COUNT(*) FROM {_SESSION} s JOIN {_FORM} f ON f.session_id = s.id"
            f" WHERE {sql.where} AND s.first_at < {{p}} AND f.application IS NULL"
            " AND s.completed = 0 AND s.last_at > {p}",
            [
                *sql.params,
                sql.time(local_midnight(day + dt.timedelta(days=1), query.zone)),
                sql.time(cutoff),
            ],
        )
        saved += older or 0
    return int(saved)


def percentile(values: list[float], p: int) -> float | None:
    """The nearest-rank ``p``-th percentile (the smallest value with at least ``p`` % of the
    values at or below it), rounded to 3 decimals; None without values."""
    if not values:
        return None
    ranked = sorted(values)
    return round(ranked[max(math.ceil(p * len(ranked) / 100), 1) - 1], 3)


def _named_applications(sql: ReportSql, query: Query, found: Sums) -> list[list[Visit]]:
    """The applications the site named whose first session is one of the report's, each with
    all its sessions in order (none to read when every session of the report names none)."""
    if found.n("total", "sessions") == found.n("single", "sessions"):
        return []
    ours = {
        row[0]
        for row in sql.run(
            f"SELECT s.id FROM {_SESSION} s JOIN {_FORM} f ON f.session_id = s.id"
            f" WHERE {sql.where} AND f.application IS NOT NULL",
            sql.params,
        )
    }
    if not ours:
        return []
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
        first, last = stored_time(first_at), stored_time(last_at)
        grouped[application].append((first, pk, Visit(first, last, bool(completed), seconds)))
    return [
        [visit for _, _, visit in sorted(visits, key=lambda v: v[:2])]
        for visits in grouped.values()
        if min(visits, key=lambda v: v[:2])[1] in ours
    ]


def _application_seconds(visits: list[Visit]) -> tuple[dt.datetime, float] | None:
    """When an application began, and the seconds to its completion (None: not completed)."""
    done = next((visit for visit in visits if visit.completed), None)
    if done is None or done.seconds is None:
        return None
    took = (done.first_at - visits[0].first_at).total_seconds() + done.seconds
    return visits[0].first_at, took


#: The upper bounds of the ``completionTime`` histogram's buckets, in seconds.
BUCKETS = BINS


def distribution(values: list[float]) -> dict[str, Any]:
    """``count``, ``p25``, ``p50``, ``p90`` and the ``histogram`` of some durations."""
    counts = [0] * (len(BUCKETS) + 1)
    for value in values:
        counts[coarse(value)] += 1
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


def _completion_time(
    found: Sums,
    applications: list[tuple[dt.datetime, float]] | None,
    steps: list[dict[str, Any]],
    query: Query,
) -> dict[str, Any]:
    """:func:`completion_time` from the sums: the sessions' distribution and weekly medians
    from their buckets, the applications' from the sessions naming none and those named."""
    times = found.histograms("step_time")
    empty = Histogram()
    weeks: dict[str, Histogram] = defaultdict(Histogram)
    for day, kinds in found.days.items():
        local = dt.date.fromisoformat(day)
        week = (local - dt.timedelta(days=local.weekday())).isoformat()
        for (_, _, _, index), (n, total, squares) in kinds.get("completion_time", {}).items():
            weeks[week].add(index, n, total, squares)
    found_times: dict[str, Any] = {
        "sessions": _distribution(
            found.histograms("completion_time").get(("", "", ""), empty),
            {int(k1): n for k1, _, _, n in found.counts("completion_bin")},
        ),
        "steps": [
            {
                "stepKey": row["stepKey"],
                "p50": times.get((row["stepKey"], "", ""), empty).percentile(50),
                "p90": times.get((row["stepKey"], "", ""), empty).percentile(90),
            }
            for row in steps
        ],
        "weeks": [
            {"week": week, "completions": histogram.count, "p50": histogram.percentile(50)}
            for week, histogram in sorted(weeks.items())
            if histogram.count
        ],
    }
    if applications is not None:
        single = found.histograms("single_time").get(("", "", ""))
        if single is None:
            found_times["applications"] = distribution([seconds for _, seconds in applications])
        else:
            histogram = Histogram()
            histogram.merge(single)
            bins = Counter({int(k1): n for k1, _, _, n in found.counts("single_bin")})
            for _, seconds in applications:
                histogram.add_value(seconds)
                bins[coarse(seconds)] += 1
            found_times["applications"] = _distribution(histogram, bins)
    return found_times


def _distribution(histogram: Histogram, bins: Mapping[int, int]) -> dict[str, Any]:
    """:func:`distribution` of durations given by their buckets and coarse bins."""
    return {
        "count": histogram.count,
        "p25": histogram.percentile(25),
        "p50": histogram.percentile(50),
        "p90": histogram.percentile(90),
        "histogram": [
            {"upToSeconds": bound, "count": bins.get(n, 0)}
            for n, bound in enumerate((*BUCKETS, None))
        ],
    }


@dataclass
class Group:
    """The sessions of one group (abandoners or completers) that had a field."""

    sessions: int = 0
    returns: int = 0
    errors: int = 0

    def __post_init__(self) -> None:
        #: Their times in the field, by log-scale bucket (:mod:`.rollup`).
        self.times = Histogram()

    def add(self, returned: bool, errored: bool, seconds: float | None) -> None:
        self.sessions += 1
        self.returns += returned
        self.errors += errored
        if seconds is not None:
            self.times.add_value(seconds)


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
        a, b = left.times.median(), done.times.median()
        p = (
            stats.mann_whitney_counts(left.times.counts(), done.times.counts())
            if left.times.count and done.times.count
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

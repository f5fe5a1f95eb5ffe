"""The reference for :mod:`.forms`: the branch-aware funnel and the error outcomes, computed
slowly from each session's raw (folded) events, as ``docs/reports.md`` defines them."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

from ..applications import KEY, instance_key
from .forms import (
    COMPLETED,
    EXIT,
    OTHER,
    TOP_ERROR_OUTCOMES,
    TOP_TRANSITIONS,
    Group,
    Visit,
    application_numbers,
    behaviour_rows,
    completion_time,
)
from .query import FIELD_TYPES, Query, rate


class _Event(Protocol):
    type: str
    step_key: str | None
    field_key: str | None
    error_type: str | None
    occurred_at: Any


class _Session(Protocol):
    events: list[Any]
    started: bool
    completed: bool
    closed: bool
    segments: dict[str, str]


def add(report: dict[str, Any], sessions: list[Any], query: Query, events: list[Any]) -> None:
    """Add what :func:`flask_journey.reports.forms.add_to_report` adds, from raw events:
    ``sessions`` are the report's, ``events`` all of the journey's."""
    _steps(report["steps"], sessions, query.optional)
    for group in report.get("breakdownValues") or []:
        members = [s for s in sessions if s.segments[query.breakdown] == group["value"]]
        _steps(group["steps"], members, query.optional)
    report["errorOutcomes"] = _error_outcomes(sessions)
    report["behaviour"] = _behaviour(sessions)
    applications = _applications(sessions, events)
    report["applications"] = application_numbers(applications, query)
    report["completionTime"] = _completion_time(sessions, applications, report["steps"], query)
    for group in report.get("breakdownValues") or []:
        members = [s for s in sessions if s.segments[query.breakdown] == group["value"]]
        group["completionTime"] = _completion_time(members, None, group["steps"], query)


def _behaviour(sessions: list[Any]) -> list[dict[str, Any]]:
    from .reference import _returns, _time_in_field  # the field table's own measures

    fields: dict[tuple[str, str], tuple[Group, Group]] = defaultdict(lambda: (Group(), Group()))
    for session in sessions:
        if not (session.completed or _abandoned(session)):
            continue
        returned = _returns(session)
        own: dict[tuple[str, str | None], list[Any]] = defaultdict(list)
        for event in session.events:
            if event.field is not None:
                own[event.field].append(event)
        for (field, step), events in own.items():
            group = fields[(step or "", field)][1 if session.completed else 0]
            group.add(
                (field, step) in returned,
                any(e.type == "validation_error" for e in events),
                _time_in_field(events),
            )
    return behaviour_rows(fields)


def _completion_time(
    sessions: list[Any],
    applications: list[list[Visit]] | None,
    steps: list[dict[str, Any]],
    query: Query,
) -> dict[str, Any]:
    from .reference import _step_times  # the funnel's own measure of a step's time

    done = []
    for session in sessions:
        success = next((e for e in session.events if e.type == "submit_success"), None)
        if success is not None:
            took = (success.occurred_at - session.events[0].occurred_at).total_seconds()
            done.append((session.first_at, took))
    finished = None
    if applications is not None:
        finished = []
        for visits in applications:
            completing = [visit for visit in visits if visit.completed]
            if completing and completing[0].seconds is not None:
                since = (completing[0].first_at - visits[0].first_at).total_seconds()
                finished.append((visits[0].first_at, since + completing[0].seconds))
    times = {row["stepKey"]: list(_step_times(sessions, row["stepKey"])) for row in steps}
    return completion_time(done, finished, times, query)


def _applications(sessions: list[Any], events: list[Any]) -> list[list[Visit]]:
    """Every session of the journey with its application; those whose first session is one of
    the report's, each with all its sessions in order."""
    by_session: dict[str, list[Any]] = defaultdict(list)
    for event in events:
        if event.session_id is not None:
            by_session[event.session_id].append(event)
    visits: dict[str, tuple[Any, Visit]] = {}
    for session_id, own in by_session.items():
        own.sort(key=lambda e: (e.occurred_at, e.id))
        application = next(
            (
                e.properties["applicationKey"]
                for e in own
                if isinstance((e.properties or {}).get("applicationKey"), str)
                and KEY.match(e.properties["applicationKey"])
            ),
            next((instance_key(e.instance_id) for e in own if e.instance_id), None),
        )
        success = next((e for e in own if e.type == "submit_success"), None)
        seconds = None
        if success is not None:
            seconds = (success.occurred_at - own[0].occurred_at).total_seconds()
        visits[session_id] = (
            application or ("session", session_id),
            Visit(own[0].occurred_at, own[-1].occurred_at, success is not None, seconds),
        )
    groups: dict[Any, list[tuple[Any, str]]] = defaultdict(list)
    for session_id, (application, visit) in visits.items():
        groups[application].append((visit.first_at, session_id))
    ours = {s.events[0].session_id for s in sessions}
    applications = []
    for members in groups.values():
        members.sort()
        if members[0][1] in ours:
            applications.append([visits[session_id][1] for _, session_id in members])
    return applications


def _views(session: _Session) -> list[tuple[int, str]]:
    """(index, step) of each step view that is not a view of the step viewed just before."""
    found: list[tuple[int, str]] = []
    for index, event in enumerate(session.events):
        viewed = event.type == "step_view" and event.step_key
        if viewed and (not found or found[-1][1] != event.step_key):
            found.append((index, event.step_key))
    return found


def _abandoned(session: _Session) -> bool:
    return session.started and session.closed and not session.completed


def _steps(rows: list[dict[str, Any]], sessions: Iterable[_Session], optional: Iterable[str]):
    skip = set(optional)
    sessions = list(sessions)
    by_key = {row["stepKey"]: row for row in rows}
    for row in rows:
        step = row["stepKey"]
        exits = 0
        nexts: Counter[str] = Counter()
        sources: Counter[str] = Counter()
        for session in sessions:
            views = [key for _, key in _views(session)]
            if step not in views:
                continue
            exited = session.closed and not session.completed
            if views[-1] == step and exited:
                exits += 1
            following = {views[n + 1] for n in range(len(views) - 1) if views[n] == step}
            if views[-1] == step:
                if session.completed:
                    following.add(COMPLETED)
                elif exited:
                    following.add(EXIT)
            nexts.update(following)
            earlier = views[: views.index(step)]
            candidates = [key for key in earlier if key not in skip and key != step]
            if candidates:
                sources[candidates[-1]] += 1
        ranked = sorted(nexts.items(), key=lambda item: (-item[1], item[0]))
        transitions = [{"to": key, "sessions": n} for key, n in ranked[:TOP_TRANSITIONS]]
        if ranked[TOP_TRANSITIONS:]:
            transitions.append(
                {"to": OTHER, "sessions": sum(n for _, n in ranked[TOP_TRANSITIONS:])}
            )
        previous = None
        if sources:
            best = max(sources.values())
            previous = next(r["stepKey"] for r in rows if sources.get(r["stepKey"]) == best)
        row["optional"] = step in skip
        row["exits"] = exits
        row["exitRate"] = rate(exits, row["sessions"])
        row["transitions"] = transitions
        row["previousStep"] = previous
        row["shareOfPrevious"] = (
            None if previous is None else rate(sources[previous], by_key[previous]["sessions"])
        )


def _error_outcomes(sessions: list[_Session]) -> list[dict[str, Any]]:
    keys = sorted(
        {
            (e.step_key or "", e.field_key, e.error_type or "unknown")
            for s in sessions
            for e in s.events
            if e.type == "validation_error" and e.field_key
        }
    )
    rows = [_error_outcome(sessions, *key) for key in keys]
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


def _error_outcome(
    sessions: list[_Session], step: str, field: str, error_type: str
) -> dict[str, Any]:
    def on_field(event: _Event) -> bool:
        return event.field_key == field and (event.step_key or "") == step

    def is_error(event: _Event) -> bool:
        return (
            event.type == "validation_error"
            and on_field(event)
            and (event.error_type or "unknown") == error_type
        )

    seen = recovered = abandoned = 0
    fixes: list[float] = []
    for session in sessions:
        events = session.events
        hits = [n for n, e in enumerate(events) if is_error(e)]
        if not hits:
            continue
        seen += 1
        changes = [n for n, e in enumerate(events) if e.type == "field_change" and on_field(e)]
        after_first = [n for n in changes if n > hits[0]]
        if after_first:
            fixes.append(
                (events[after_first[0]].occurred_at - events[hits[0]].occurred_at).total_seconds()
            )
        after_last = [n for n in changes if n > hits[-1]]
        if after_last and any(
            e.type == "submit_success"
            or (e.type == "step_view" and e.step_key is not None and e.step_key != step)
            for e in events[after_last[0] + 1 :]
        ):
            recovered += 1
        errors = [e for e in events if e.type == "validation_error" and e.field_key]
        if _abandoned(session) and is_error(errors[-1]):
            abandoned += 1
    clean = [
        s
        for s in sessions
        if any(e.type in FIELD_TYPES and on_field(e) for e in s.events)
        and not any(e.type == "validation_error" and on_field(e) for e in s.events)
    ]
    count, clean_abandons = len(clean), sum(_abandoned(s) for s in clean)
    expected = seen * clean_abandons / count if count else 0
    return {
        "stepKey": step or None,
        "fieldKey": field,
        "errorType": error_type,
        "sessions": seen,
        "recovered": recovered,
        "abandonedAfter": abandoned,
        "excessAbandons": round(abandoned - expected, 2),
        "medianSecondsToFix": round(statistics.median(fixes), 3) if fixes else None,
    }

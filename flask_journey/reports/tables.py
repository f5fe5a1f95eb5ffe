"""A report as tables: CSV for scripts and spreadsheets, aligned text for a terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import spreadsheet
from ..display import visible

#: The tables a report can be written as, and the columns of each.
TABLES: dict[str, tuple[str, ...]] = {
    "totals": (
        "period",
        "from",
        "to",
        "sessions",
        "starters",
        "submitters",
        "completions",
        "abandons",
        "active",
        "startRate",
        "completionRate",
        "conversionRate",
    ),
    "steps": (
        "stepKey",
        "position",
        "configured",
        "sessions",
        "shareOfSessions",
        "shareOfPrevious",
        "previousStep",
        "optional",
        "dropoffs",
        "dropoffReasons",
        "exits",
        "exitRate",
        "transitions",
        "medianSeconds",
    ),
    "fields": (
        "stepKey",
        "fieldKey",
        "sessions",
        "starters",
        "returns",
        "errorSessions",
        "errors",
        "errorRate",
        "abandons",
        "abandonShare",
        "medianSeconds",
        "medianHesitationSeconds",
    ),
    "trend": ("period", "sessions", "starters", "completions", "completionRate"),
    "breakdown": (
        "value",
        "stepKey",
        "position",
        "sessions",
        "shareOfSessions",
        "shareOfPrevious",
        "dropoffs",
        "medianSeconds",
    ),
    "events": ("type", "name", "count"),
    "outcomes": ("action", "sessions", "completedSessions"),
    "errorOutcomes": (
        "stepKey",
        "fieldKey",
        "errorType",
        "sessions",
        "recovered",
        "abandonedAfter",
        "excessAbandons",
        "medianSecondsToFix",
    ),
    "applications": (
        "started",
        "completed",
        "saved",
        "abandoned",
        "completionRate",
        "sessionsPerCompletion",
        "daysToCompleteP50",
        "daysToCompleteP90",
    ),
    "completionTime": ("of", "upToSeconds", "count", "p25", "p50", "p90"),
    "behaviour": (
        "stepKey",
        "fieldKey",
        "measure",
        "abandoners",
        "completers",
        "difference",
        "pValue",
        "test",
        "significant",
    ),
}
DEFAULT_TABLE = "steps"


def rows(report: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The rows of one table of a report (see :data:`TABLES`)."""
    if table == "totals":
        periods = [("current", report)]
        if report.get("previous"):
            periods.append(("previous", report["previous"]))
        return [
            {"period": name, "from": part["from"], "to": part["to"], **part["totals"]}
            for name, part in periods
        ]
    if table == "trend":
        return list(report["trend"]["points"])
    if table == "events":
        return list(report["events"]["types"])
    if table == "breakdown":
        return [
            {"value": group["value"], **step}
            for group in report.get("breakdownValues") or []
            for step in group["steps"]
        ]
    if table == "steps":
        return [{**step, "transitions": _next_steps(step)} for step in report["steps"]]
    if table == "applications":
        numbers = report["applications"]
        days = numbers["daysToComplete"]
        return [{**numbers, "daysToCompleteP50": days["p50"], "daysToCompleteP90": days["p90"]}]
    if table == "completionTime":
        return [
            {"of": of, **found, **bucket}
            for of in ("sessions", "applications")
            if (found := report["completionTime"].get(of))
            for bucket in found["histogram"]
        ]
    if table == "behaviour":
        return [
            {
                "stepKey": row["stepKey"],
                "fieldKey": row["fieldKey"],
                "measure": measure,
                **row[measure],
            }
            for row in report["behaviour"]
            for measure in ("returnRate", "errorRate", "timeInField")
        ]
    return list(report[table])


def _next_steps(step: dict[str, Any]) -> dict[str, int]:
    """A step row's transitions as ``{next step: sessions}``."""
    return {move["to"]: move["sessions"] for move in step.get("transitions", [])}


def to_csv(report: dict[str, Any], table: str = DEFAULT_TABLE) -> str:
    """One table of a report as CSV text with a header row (:mod:`flask_journey.spreadsheet`:
    no cell a spreadsheet would run as a formula)."""
    return spreadsheet.to_csv(TABLES[table], rows(report, table))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _counts(value: dict[str, int]) -> str:
    return ", ".join(f"{key} {count}" for key, count in value.items()) or "-"


def _aligned(headers: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *body, strict=True)]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        parts = [str(first).ljust(widths[0])]
        parts += [str(cell).rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in body)]


Column = tuple[str, str, Callable[[Any], str]]

_STEP_COLUMNS: list[Column] = [
    ("Step", "stepKey", str),
    ("Sessions", "sessions", str),
    ("Of all", "shareOfSessions", _percent),
    ("From", "previousStep", lambda v: v or "-"),
    ("Of from", "shareOfPrevious", _percent),
    ("Dropped", "dropoffs", str),
    ("Exits", "exits", str),
    ("Exit rate", "exitRate", _percent),
    ("Median time", "medianSeconds", _seconds),
    ("Drop-off reasons", "dropoffReasons", _counts),
]
_TRANSITION_COLUMNS: list[Column] = [
    ("Step", "stepKey", str),
    ("Sessions", "sessions", str),
    ("Went on to", "next", _counts),
]
_ERROR_COLUMNS: list[Column] = [
    ("Step", "stepKey", lambda v: v or "-"),
    ("Field", "fieldKey", str),
    ("Error", "errorType", str),
    ("Sessions", "sessions", str),
    ("Recovered", "recovered", str),
    ("Abandoned after", "abandonedAfter", str),
    ("Excess abandons", "excessAbandons", lambda v: f"{v:.2f}"),
    ("Time to fix", "medianSecondsToFix", _seconds),
]
_FIELD_COLUMNS: list[Column] = [
    ("Step", "stepKey", lambda v: v or "-"),
    ("Field", "fieldKey", str),
    ("Starters", "starters", str),
    ("Returns", "returns", str),
    ("Error sessions", "errorSessions", str),
    ("Error rate", "errorRate", _percent),
    ("Abandons", "abandons", str),
    ("Of abandons", "abandonShare", _percent),
    ("Time in field", "medianSeconds", _seconds),
    ("Errors", "errors", _counts),
]
_OUTCOME_COLUMNS: list[Column] = [
    ("Server action", "action", str),
    ("Sessions", "sessions", str),
    ("Completed", "completedSessions", str),
]


def _table(title: str, columns: list[Column], items: list[dict[str, Any]]) -> list[str]:
    title = visible(title)
    if not items:
        return [title, "  (none)"]
    body = [[visible(render(item[key])) for _, key, render in columns] for item in items]
    return [title, *_aligned([header for header, _, _ in columns], body)]


def _change(now: int, before: int | None) -> str:
    if before is None:
        return ""
    if not before:
        return " (previous 0)"
    return f" ({(now - before) / before * 100:+.0f}%)"


def _applications(numbers: dict[str, Any]) -> list[str]:
    days = numbers["daysToComplete"]
    per = numbers["sessionsPerCompletion"]
    return [
        f"{'Applications:':<13}{numbers['started']:>8} started, {numbers['completed']} completed "
        f"({_percent(numbers['completionRate'])}), {numbers['saved']} saved, "
        f"{numbers['abandoned']} abandoned",
        f"{'':<13}{'-' if per is None else f'{per:.2f}'} sessions per completion; days to "
        f"complete: median {_days(days['p50'])}, 90th percentile {_days(days['p90'])}",
    ]


def _completion_time(times: dict[str, Any]) -> list[str]:
    lines = []
    for label, key in (("Completion:", "sessions"), ("Applications:", "applications")):
        found = times.get(key)
        if found:
            lines.append(
                f"{label:<13}{found['count']:>8} {key} completed in: 25% within "
                f"{_seconds(found['p25'])}, 50% within {_seconds(found['p50'])}, 90% within "
                f"{_seconds(found['p90'])}"
            )
    return lines


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def to_text(report: dict[str, Any]) -> str:
    """A report as a person reads it in a terminal: totals, the funnel and where each step's
    sessions went next, the fields, the error outcomes, the server-side outcomes.

    What a sender wrote (step and field keys, drop-off reasons, error types, segment values)
    is shown through :func:`flask_journey.display.visible`: no escape sequence reaches the
    terminal and no newline forges a row.
    """
    totals = report["totals"]
    before = (report.get("previous") or {}).get("totals") or {}
    filters = ", ".join(f"{k}={v}" for k, v in report["filters"].items())
    lines = [
        visible(
            f"{report['orgKey']}/{report['journeyKey']}  {report['from']} to {report['to']} "
            f"({report['timezone']}){'  ' + filters if filters else ''}"
        ),
        "",
    ]
    for label, key in (
        ("Sessions", "sessions"),
        ("Starters", "starters"),
        ("Submitters", "submitters"),
        ("Completions", "completions"),
        ("Abandons", "abandons"),
        ("Active", "active"),
    ):
        lines.append(f"{label + ':':<13}{totals[key]:>8}{_change(totals[key], before.get(key))}")
    lines.append(
        f"{'Rates:':<13}start {_percent(totals['startRate'])}, completion "
        f"{_percent(totals['completionRate'])}, conversion {_percent(totals['conversionRate'])}"
    )
    if "applications" in report:
        lines += ["", *_applications(report["applications"])]
    if "completionTime" in report:
        lines += ["", *_completion_time(report["completionTime"])]
    lines += ["", *_table("Steps", _STEP_COLUMNS, report["steps"])]
    moves = [{**step, "next": _next_steps(step)} for step in report["steps"]]
    lines += ["", *_table("Transitions", _TRANSITION_COLUMNS, moves)]
    lines += ["", *_table("Fields", _FIELD_COLUMNS, report["fields"])]
    lines += ["", *_table("Error outcomes", _ERROR_COLUMNS, report.get("errorOutcomes", []))]
    lines += ["", *_table("Server outcomes", _OUTCOME_COLUMNS, report["outcomes"])]
    for group in report.get("breakdownValues") or []:
        lines += [
            "",
            *_table(
                f"{report['breakdown']} = {group['value']}: {group['totals']['sessions']} "
                f"sessions, {group['totals']['completions']} completions",
                _STEP_COLUMNS,
                group["steps"],
            ),
        ]
    return "\n".join(lines) + "\n"

"""What a journey's report says in words: the lines of "What to fix first", error types a
person reads, and the anchors that link a line to its detail (pure).

A report with the numbers of real forms (docs/reports.md: a step's ``exits`` and
``exitRate``, ``errorOutcomes``, and ``changes``: the completion rate's and each step's exit
rate's change against the previous period) is read through them, by the report's own keys; a
report without them through drop-offs, error sessions and the size of a change.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

#: The browser's constraint-validation keys (``ValidityState``) in words.
ERROR_WORDS = {
    "valueMissing": "left empty",
    "typeMismatch": "wrong format",
    "patternMismatch": "doesn't match the pattern",
    "tooShort": "too short",
    "tooLong": "too long",
    "rangeUnderflow": "out of range",
    "rangeOverflow": "out of range",
    "stepMismatch": "step mismatch",
    "badInput": "bad input",
    "customError": "custom",
}
#: A headline rate that moved at least this many percentage points is worth a line.
LARGE_CHANGE_POINTS = 5.0
#: The headline rates a fix-first line may name, in the order they are considered.
RATES = (
    ("completionRate", "Completion rate"),
    ("conversionRate", "Conversion"),
    ("startRate", "Start rate"),
)


def error_words(error_type: str) -> str | None:
    """``error_type`` in words, or None for a type the browser does not define."""
    return ERROR_WORDS.get(error_type)


def step_anchor(position: int) -> str:
    """The id of a step's row in the funnel."""
    return f"step-{position}"


def field_anchor(step_key: str | None, field_key: str) -> str:
    """The id of a field's row in the field table: the same whatever the table's order."""
    name = f"{step_key or ''}/{field_key}"
    return f"field-{zlib.crc32(name.encode()):08x}"


def error_anchor(step_key: str | None, field_key: str, error_type: str) -> str:
    """The id of an error's row in the error outcomes table."""
    name = f"{step_key or ''}/{field_key}/{error_type}"
    return f"error-{zlib.crc32(name.encode()):08x}"


@dataclass(frozen=True)
class Line:
    """One line of "What to fix first": its parts (text, and the keys shown as a sender wrote
    them, isolated on the page) and the anchor of its detail."""

    kind: str  # step, field, error or change
    anchor: str
    parts: tuple[tuple[str, str], ...]  # ("text", ...) or ("key", ...) or ("error", type)


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _amount(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.1f}"


def losses(steps: list[Mapping[str, Any]]) -> str:
    """The number a step's losses are counted by: ``exits`` when the report has them (a
    branching form loses people at its last step, not at the furthest in journey order), else
    ``dropoffs``."""
    return "exits" if any("exits" in step for step in steps) else "dropoffs"


def worst_step(steps: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The step with the most exits (or drop-offs, see :func:`losses`; the first of equals),
    or None without any."""
    lost = losses(steps)
    counted = [s for s in steps if _number(s[lost]) and s[lost] > 0]
    return max(counted, key=lambda s: s[lost], default=None)


def fix_first(report: Mapping[str, Any]) -> list[Line]:
    """The lines that answer "where do people get stuck" in ``report``, most important first:
    the step with the most exits and its exit rate (or, in a report without exits, the most
    drop-offs and drop-offs ÷ sessions that reached it), the field with the most abandons, the
    error with the most excess abandons (or, without ``errorOutcomes``, the field whose errors
    were seen in the most sessions and its most frequent error), and every change against the
    previous period that is significant (``changes``; without them, every headline rate that
    moved by at least :data:`LARGE_CHANGE_POINTS`). A number hidden from a shared view (not a
    number) is never the basis of a line."""
    lines = [
        _step_line(report["steps"]),
        _field_line(report["fields"]),
        _outcome_line(report.get("errorOutcomes")) or _error_line(report["fields"]),
    ]
    found = [line for line in lines if line is not None]
    changes = report.get("changes")
    if changes is not None:
        return found + _significant_lines(report["steps"], changes)
    return found + _large_changes(report)


def _step_line(steps: list[Mapping[str, Any]]) -> Line | None:
    step = worst_step(steps)
    if step is None:
        return None
    if losses(steps) == "exits":
        rate, verb = step.get("exitRate"), "Most exits at step "
        count = f": {step['exits']} sessions left the form there"
    else:
        rate, verb = None, "Most drop-offs at step "
        count = f": {step['dropoffs']} sessions"
        if _number(step["sessions"]) and step["sessions"]:
            rate = step["dropoffs"] / step["sessions"]
    parts: list[tuple[str, str]] = [("text", verb), ("key", step["stepKey"]), ("text", count)]
    if _number(rate) and _number(step["sessions"]):
        parts.append(("text", f", {_percent(rate)} of the {step['sessions']} that reached it."))
    else:
        parts.append(("text", "."))
    return Line("step", step_anchor(step["position"]), tuple(parts))


def _of_step(step_key: str | None) -> tuple[tuple[str, str], ...]:
    return (("text", " (step "), ("key", step_key), ("text", ")")) if step_key else ()


def _field_line(fields: list[Mapping[str, Any]]) -> Line | None:
    abandoned = [f for f in fields if _number(f["abandons"]) and f["abandons"] > 0]
    if not abandoned:
        return None
    field = max(abandoned, key=lambda f: f["abandons"])
    share = field["abandonShare"]
    return Line(
        "field",
        field_anchor(field["stepKey"], field["fieldKey"]),
        (
            ("text", "Most abandons at field "),
            ("key", field["fieldKey"]),
            *_of_step(field["stepKey"]),
            (
                "text",
                f": {field['abandons']} sessions left the form there"
                + (f", {_percent(share)} of all abandons." if _number(share) else "."),
            ),
        ),
    )


def _outcome_line(outcomes: list[Mapping[str, Any]] | None) -> Line | None:
    costly = [o for o in outcomes or () if _number(o["excessAbandons"]) and o["excessAbandons"] > 0]
    if not costly:
        return None
    worst = max(costly, key=lambda o: o["excessAbandons"])
    left = (
        f"{worst['abandonedAfter']} of the {worst['sessions']} sessions that saw it left the "
        "form after it, "
    )
    return Line(
        "error",
        error_anchor(worst["stepKey"], worst["fieldKey"], worst["errorType"]),
        (
            ("text", "Most abandons caused by an error: "),
            ("error", worst["errorType"]),
            ("text", " at field "),
            ("key", worst["fieldKey"]),
            *_of_step(worst["stepKey"]),
            (
                "text",
                f": {left}{_amount(worst['excessAbandons'])} more than the field's "
                "error-free sessions predict.",
            ),
        ),
    )


def _error_line(fields: list[Mapping[str, Any]]) -> Line | None:
    failing = [f for f in fields if _number(f["errorSessions"]) and f["errorSessions"] > 0]
    if not failing:
        return None
    field = max(failing, key=lambda f: f["errorSessions"])
    counted = {t: n for t, n in field["errors"].items() if _number(n)}
    parts: list[tuple[str, str]] = [
        ("text", "Most errors at field "),
        ("key", field["fieldKey"]),
        ("text", f": seen in {field['errorSessions']} sessions"),
    ]
    if counted:
        kind = max(counted, key=lambda t: counted[t])
        parts += [("text", ", mostly "), ("error", kind), ("text", ".")]
    else:
        parts.append(("text", "."))
    return Line("error", field_anchor(field["stepKey"], field["fieldKey"]), tuple(parts))


def _moved(change: Mapping[str, Any]) -> str:
    """How a significant change moved, in words: "fell from 40.0% to 31.0%"."""
    then, now = change.get("before"), change.get("now")
    if not (_number(then) and _number(now)):
        return "changed"
    verb = "rose" if now > then else "fell"
    return f"{verb} from {_percent(then)} to {_percent(now)}"


def _p_value(change: Mapping[str, Any]) -> str:
    p = change.get("pValue")
    if not _number(p):
        return ""
    return f" (p = {p:.3f})" if p >= 0.001 else " (p < 0.001)"


def exit_changes(changes: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """Each step's exit-rate change against the previous period (``changes.exitRates``), by
    step key; {} without ``changes``."""
    return {change["stepKey"]: change for change in (changes or {}).get("exitRates") or ()}


def _significant_lines(steps: list[Mapping[str, Any]], changes: Mapping[str, Any]) -> list[Line]:
    lines: list[Line] = []
    for key, label in RATES:
        change = changes.get(key)
        if change and change.get("significant"):
            text = (
                f"{label} {_moved(change)} against the previous period, a significant "
                f"change{_p_value(change)}."
            )
            lines.append(Line("change", f"headline-{key}", (("text", text),)))
    by_step = exit_changes(changes)
    for step in steps:
        change = by_step.get(step["stepKey"])
        if change and change.get("significant"):
            lines.append(
                Line(
                    "change",
                    step_anchor(step["position"]),
                    (
                        ("text", "Exit rate at step "),
                        ("key", step["stepKey"]),
                        (
                            "text",
                            f" {_moved(change)} against the previous period, a significant "
                            f"change{_p_value(change)}.",
                        ),
                    ),
                )
            )
    return lines


def _large_changes(report: Mapping[str, Any]) -> list[Line]:
    lines: list[Line] = []
    before = (report.get("previous") or {}).get("totals")
    if not before:
        return lines
    for key, label in RATES:
        now, then = report["totals"][key], before[key]
        if not (_number(now) and _number(then)):
            continue
        points = round((now - then) * 100, 1)
        if abs(points) >= LARGE_CHANGE_POINTS:
            lines.append(
                Line(
                    "change",
                    f"headline-{key}",
                    (
                        (
                            "text",
                            f"{label} changed by {points:+.1f} points against the "
                            f"previous period ({_percent(then)} to {_percent(now)}).",
                        ),
                    ),
                )
            )
    return lines

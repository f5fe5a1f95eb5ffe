"""What a journey's report says in words: the lines of "What to fix first", error types a
person reads, and the anchors that link a line to its detail (pure).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Line:
    """One line of "What to fix first": its parts (text, and the keys shown as a sender wrote
    them, isolated on the page) and the anchor of its detail."""

    kind: str  # step, field, error or change
    anchor: str
    parts: tuple[tuple[str, str], ...]  # ("text", ...) or ("key", ...) or ("error", type)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def worst_step(steps: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The step with the most drop-offs (the first of equals), or None without drop-offs."""
    counted = [s for s in steps if _number(s["dropoffs"]) and s["dropoffs"] > 0]
    return max(counted, key=lambda s: s["dropoffs"], default=None)


def fix_first(report: Mapping[str, Any]) -> list[Line]:
    """The lines that answer "where do people get stuck" in ``report``, most important first:
    the step with the most drop-offs and its drop-off rate (drop-offs ÷ sessions that reached
    it), the field with the most abandons, the field whose errors were seen in the most
    sessions and its most frequent error, and every headline rate that moved by at least
    :data:`LARGE_CHANGE_POINTS` against the previous period. A number hidden from a shared
    view (not a number) is never the basis of a line."""
    lines: list[Line] = []
    step = worst_step(report["steps"])
    if step is not None:
        parts: list[tuple[str, str]] = [
            ("text", "Most drop-offs at step "),
            ("key", step["stepKey"]),
            ("text", f": {step['dropoffs']} sessions"),
        ]
        if _number(step["sessions"]) and step["sessions"]:
            parts.append(
                (
                    "text",
                    f", {_percent(step['dropoffs'] / step['sessions'])} of the "
                    f"{step['sessions']} that reached it.",
                )
            )
        else:
            parts.append(("text", "."))
        lines.append(Line("step", step_anchor(step["position"]), tuple(parts)))
    fields = report["fields"]
    abandoned = [f for f in fields if _number(f["abandons"]) and f["abandons"] > 0]
    if abandoned:
        field = max(abandoned, key=lambda f: f["abandons"])
        share = field["abandonShare"]
        lines.append(
            Line(
                "field",
                field_anchor(field["stepKey"], field["fieldKey"]),
                (
                    ("text", "Most abandons at field "),
                    ("key", field["fieldKey"]),
                    *(
                        (("text", " (step "), ("key", field["stepKey"]), ("text", ")"))
                        if field["stepKey"]
                        else ()
                    ),
                    (
                        "text",
                        f": {field['abandons']} sessions left the form there"
                        + (f", {_percent(share)} of all abandons." if _number(share) else "."),
                    ),
                ),
            )
        )
    failing = [f for f in fields if _number(f["errorSessions"]) and f["errorSessions"] > 0]
    if failing:
        field = max(failing, key=lambda f: f["errorSessions"])
        counted = {t: n for t, n in field["errors"].items() if _number(n)}
        parts = [
            ("text", "Most errors at field "),
            ("key", field["fieldKey"]),
            ("text", f": seen in {field['errorSessions']} sessions"),
        ]
        if counted:
            kind = max(counted, key=lambda t: counted[t])
            parts += [("text", ", mostly "), ("error", kind), ("text", ".")]
        else:
            parts.append(("text", "."))
        lines.append(Line("error", field_anchor(field["stepKey"], field["fieldKey"]), tuple(parts)))
    before = (report.get("previous") or {}).get("totals")
    if before:
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

"""The geometry of the dashboard's inline SVG charts, and the small numbers beside them (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Change:
    """A number against the previous period's: text such as ``+12%`` and its direction."""

    text: str
    direction: str  # up, down, flat or none
    label: str


def change(now: float | None, before: float | None, *, rate: bool = False) -> Change | None:
    """How ``now`` differs from ``before``; rates change in percentage points."""
    if before is None or now is None:
        return None
    if rate:
        points = (now - before) * 100
        direction = "flat" if abs(points) < 0.05 else ("up" if points > 0 else "down")
        text = f"{points:+.1f} pt"
        return Change(text, direction, f"{text} against the previous period")
    if not before:
        if not now:
            return Change("±0", "flat", "no change against the previous period")
        return Change("new", "up", "none in the previous period")
    percent = (now - before) / before * 100
    direction = "flat" if abs(percent) < 0.5 else ("up" if percent > 0 else "down")
    text = f"{percent:+.0f}%"
    return Change(text, direction, f"{text} against the previous period")


def polyline(
    values: Sequence[float], width: float, height: float, top: float | None = None, pad: float = 2
) -> str:
    """The ``points`` of an SVG polyline drawing ``values`` left to right in the box."""
    if not values:
        return ""
    top = max(values) if top is None else top
    top = top or 1
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    inner = height - 2 * pad
    return " ".join(
        f"{pad + i * step:.1f},{pad + inner - (value / top) * inner:.1f}"
        for i, value in enumerate(values)
    )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def lengths(values: Sequence[Any], top: float | None = None) -> list[float]:
    """Each value's bar length, in percent of ``top`` (default: the largest value); a value
    that is not a number (a count hidden from a shared view, a rate without one) has none."""
    numbers = [value for value in values if _number(value)]
    top = (max(numbers, default=0) if top is None else top) or 1
    return [round(100 * value / top, 2) if _number(value) else 0.0 for value in values]


def nice_top(value: float) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1
    power = 1
    while power * 10 <= value:
        power *= 10
    for factor in (1, 2, 5, 10):
        if factor * power >= value:
            return factor * power
    return 10 * power


@dataclass(frozen=True)
class TrendPoint:
    """One period of the trend: the report's numbers, its completion rate, and where it is drawn
    (a column for the sessions, a dot for the rate; ``dot_y`` is None without starters)."""

    period: str
    sessions: int
    starters: int
    completions: int
    completion_rate: float | None
    x: float
    bar_width: float
    bar_height: float
    dot_x: float
    dot_y: float | None


@dataclass(frozen=True)
class Trend:
    """The trend chart: sessions as columns against ``top``, the completion rate (completions
    / starters, as the report defines it) as a line on a 0-100% axis."""

    points: list[TrendPoint]
    top: int
    width: float
    height: float
    rate_path: str

    @property
    def rates(self) -> list[float]:
        """The periods' completion rates, leaving out periods without starters."""
        return [p.completion_rate for p in self.points if p.completion_rate is not None]


def trend(points: Sequence[Mapping[str, Any]], width: float, height: float) -> Trend:
    """The trend chart of the report's ``trend.points`` in a ``width`` x ``height`` plot; the
    rate line is broken across periods without starters (they have no rate)."""
    top = nice_top(max((p["sessions"] for p in points), default=0))
    slot = width / max(len(points), 1)
    bar_width = max(slot * 0.7, 1.0)
    drawn: list[TrendPoint] = []
    path: list[str] = []
    pen_down = False
    for i, point in enumerate(points):
        completion_rate = point["completionRate"]
        dot_x = i * slot + slot / 2
        dot_y = None if completion_rate is None else height - completion_rate * height
        if dot_y is None:
            pen_down = False
        else:
            path.append(f"{'L' if pen_down else 'M'}{dot_x:.1f},{dot_y:.1f}")
            pen_down = True
        drawn.append(
            TrendPoint(
                period=point["period"],
                sessions=point["sessions"],
                starters=point["starters"],
                completions=point["completions"],
                completion_rate=completion_rate,
                x=i * slot + (slot - bar_width) / 2,
                bar_width=bar_width,
                bar_height=height * point["sessions"] / top,
                dot_x=dot_x,
                dot_y=dot_y,
            )
        )
    return Trend(drawn, top, width, height, " ".join(path))

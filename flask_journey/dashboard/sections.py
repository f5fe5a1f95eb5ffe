"""The journey page's sections on the numbers of real forms (docs/reports.md): a step's
transitions in words, the applications' cards, the error outcomes worst first, and the
completion-time histogram's geometry (pure).

Each section is built only from a report that has its numbers, so the page shows it when the
report carries them and leaves it out otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import answers
from .charts import nice_top

#: A transition's destinations that are not steps, in words.
DESTINATIONS = {
    "(completed)": "Completed the form",
    "(exit)": "Left the form",
    "(other)": "Other steps",
}
#: The applications' cards: key, label, and how the value is shown (count, rate or number).
APPLICATION_CARDS = (
    ("started", "Started", "count"),
    ("completed", "Completed", "count"),
    ("saved", "Saved, may return", "count"),
    ("abandoned", "Abandoned", "count"),
    ("completionRate", "Completion rate", "rate"),
    ("sessionsPerCompletion", "Sessions per completion", "number"),
)
#: The histogram's plot and its margins for the axes' labels (SVG units): the trend's, without
#: its right axis.
HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT = 640, 180
HISTOGRAM_MARGINS = {"left": 80, "right": 24, "top": 24, "bottom": 44}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def destination(to: str) -> str | None:
    """A transition's destination in words, or None for a step (shown by its label)."""
    return DESTINATIONS.get(to)


def application_cards(applications: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The applications' headline cards; the last gives the days to complete (p50 and p90)."""
    cards = [
        {"key": key, "label": label, "kind": kind, "value": applications.get(key)}
        for key, label, kind in APPLICATION_CARDS
    ]
    days = applications.get("daysToComplete") or {}
    cards.append(
        {
            "key": "daysToComplete",
            "label": "Days to complete",
            "kind": "days",
            "value": days.get("p50"),
            "p90": days.get("p90"),
        }
    )
    return cards


def error_outcomes(outcomes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The error outcomes worst first (most excess abandons; a number hidden from a shared
    view after every number), each with its anchor and the share of its sessions that
    recovered (None where a count is hidden)."""

    def worst(outcome: Mapping[str, Any]) -> tuple[bool, float]:
        excess = outcome["excessAbandons"]
        return (True, excess) if _number(excess) else (False, 0)

    ranked = sorted(outcomes, key=worst, reverse=True)
    return [
        {
            **outcome,
            "anchor": answers.error_anchor(
                outcome["stepKey"], outcome["fieldKey"], outcome["errorType"]
            ),
            "recoveredShare": outcome["recovered"] / outcome["sessions"]
            if _number(outcome["recovered"])
            and _number(outcome["sessions"])
            and outcome["sessions"]
            else None,
        }
        for outcome in ranked
    ]


def span(seconds: float | None) -> str:
    """A time taken in words, in the unit that reads best: ``45 s``, ``12.5 min``, ``3.2 h``,
    ``4.5 d``; ``–`` for none (or one hidden from a shared view)."""
    if seconds is None or not _number(seconds):
        return "–"
    for size, unit, below in ((1, "s", 90), (60, "min", 90 * 60), (3600, "h", 48 * 3600)):
        if seconds < below:
            return f"{seconds / size:.1f} {unit}" if size > 1 else f"{seconds:.0f} s"
    return f"{seconds / 86400:.1f} d"


def duration(seconds: float | None) -> str:
    """A bucket's bound in words: ``30 s``, ``2 min``, ``1.5 h``, ``3 d``."""
    if seconds is None:
        return "longer"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= 2 * size or (unit != "d" and seconds >= size and seconds % size == 0):
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


@dataclass(frozen=True)
class Bar:
    """One bucket of the histogram: its label (``≤ 2 min``, the last ``> 1 h``), its count as
    the report gives it, and where its column is drawn."""

    label: str
    count: Any
    x: float
    width: float
    height: float


@dataclass(frozen=True)
class Histogram:
    """A completion-time histogram: columns of equal width, one per bucket (the buckets are
    log-scale, so equal widths draw time on a log axis), against ``top``."""

    bars: list[Bar]
    top: int
    width: float
    height: float
    total: int

    @property
    def ticks(self) -> list[tuple[float, str, str]]:
        """The x axis's labels (x, text, text-anchor): under the first bucket's left edge, the
        middle bucket's centre and the last bucket's right edge."""
        if not self.bars:
            return []
        first, middle, last = self.bars[0], self.bars[len(self.bars) // 2], self.bars[-1]
        ticks = [(first.x, first.label, "start")]
        if middle is not first and middle is not last:
            ticks.append((middle.x + middle.width / 2, middle.label, "middle"))
        if last is not first:
            ticks.append((last.x + last.width, last.label, "end"))
        return ticks


def histogram(buckets: Sequence[Mapping[str, Any]], width: float, height: float) -> Histogram:
    """The histogram of ``buckets`` (``[{upToSeconds, count}]``, None for the last, open
    bucket) in a ``width`` x ``height`` plot; a count hidden from a shared view is
    drawn as nothing (its table says ``< 10``)."""
    counts = [b["count"] if _number(b["count"]) else 0 for b in buckets]
    top = nice_top(max(counts, default=0))
    slot = width / max(len(buckets), 1)
    bars = []
    previous = None
    for i, (bucket, count) in enumerate(zip(buckets, counts, strict=True)):
        bound = bucket["upToSeconds"]
        label = f"≤ {duration(bound)}" if bound is not None else f"> {duration(previous)}"
        bars.append(
            Bar(
                label=label,
                count=bucket["count"],
                x=i * slot + slot * 0.1,
                width=slot * 0.8,
                height=height * count / top,
            )
        )
        previous = bound
    return Histogram(bars, top, width, height, sum(counts))


def completion_times(times: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The completion-time distributions in the report, sessions first then applications:
    each with its title, its percentiles and its histogram."""
    shown = []
    for key, title in (("sessions", "Sessions"), ("applications", "Applications")):
        found = times.get(key)
        if not found:
            continue
        shown.append(
            {
                "key": key,
                "title": title,
                "percentiles": [
                    ("A quarter", span(found.get("p25"))),
                    ("half", span(found.get("p50"))),
                    ("90%", span(found.get("p90"))),
                ],
                "chart": histogram(found.get("histogram") or [], HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT),
                "margins": HISTOGRAM_MARGINS,
            }
        )
    return shown


#: The measures ``behaviour`` compares a field's abandoners and completers on.
BEHAVIOUR_MEASURES = ("returnRate", "errorRate", "timeInField")


def different_fields(
    behaviour: Sequence[Mapping[str, Any]] | None,
) -> set[tuple[str | None, str]]:
    """The fields, ``(stepKey, fieldKey)``, whose abandoners and completers differ significantly
    on some measure of the report's ``behaviour``; none without it."""
    return {
        (row.get("stepKey"), row["fieldKey"])
        for row in behaviour or ()
        if any((row.get(measure) or {}).get("significant") for measure in BEHAVIOUR_MEASURES)
    }


def sections(report: Mapping[str, Any]) -> dict[str, Any]:
    """What the page's new sections show, each None when the report does not carry it."""
    return {
        "applications": application_cards(report["applications"])
        if report.get("applications")
        else None,
        "error_outcomes": error_outcomes(report["errorOutcomes"])
        if report.get("errorOutcomes") is not None
        else None,
        "completion_times": completion_times(report["completionTime"])
        if report.get("completionTime")
        else None,
        "exits": answers.losses(report["steps"]) == "exits",
        "destinations": DESTINATIONS,
        "exit_changes": answers.exit_changes(report.get("changes")),
        "different_fields": different_fields(report.get("behaviour")),
    }

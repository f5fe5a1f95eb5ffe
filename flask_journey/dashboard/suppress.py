"""Small numbers hidden from a shared view, so that a share link never identifies anyone (pure).

A share link (and a page shown inside a frame) shows every count from 1 to ``minimum - 1`` as
the text ``"< minimum"``, and hides (None) every rate or median computed from such a count,
whether it is the rate's numerator or its denominator: ``completionRate`` with 3 completions of
50 starters would give the 3 back. A 0 is shown: it identifies nobody. ``docs/reports.md``
defines each number and what it is computed from; :func:`suppress` follows those definitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The counts of a report's totals.
TOTAL_COUNTS = ("sessions", "starters", "submitters", "completions", "abandons", "active")
#: Each headline rate and the counts it is computed from.
TOTAL_RATES = {
    "startRate": ("starters", "sessions"),
    "completionRate": ("completions", "starters"),
    "conversionRate": ("completions", "sessions"),
}
FIELD_COUNTS = ("sessions", "starters", "returns", "errorSessions", "abandons")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Suppressor:
    def __init__(self, minimum: int) -> None:
        self.minimum = minimum
        self.hidden = f"< {minimum}"

    def small(self, value: Any) -> bool:
        return _is_count(value) and 0 < value < self.minimum

    def count(self, value: Any) -> Any:
        return self.hidden if self.small(value) else value

    def derived(self, value: Any, *sources: Any) -> Any:
        return None if any(self.small(source) for source in sources) else value

    def counts(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {key: self.count(value) for key, value in values.items()}

    def totals(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        out = {**totals, **{key: self.count(totals[key]) for key in TOTAL_COUNTS}}
        for rate, sources in TOTAL_RATES.items():
            out[rate] = self.derived(totals[rate], *(totals[key] for key in sources))
        return out

    def steps(self, steps: list[Mapping[str, Any]], sessions: Any) -> list[dict[str, Any]]:
        rows = []
        before = None
        for step in steps:
            reached = step["sessions"]
            rows.append(
                {
                    **step,
                    "sessions": self.count(reached),
                    "shareOfSessions": self.derived(step["shareOfSessions"], reached, sessions),
                    "shareOfPrevious": self.derived(step["shareOfPrevious"], reached, before),
                    "dropoffs": self.count(step["dropoffs"]),
                    "dropoffReasons": self.counts(step["dropoffReasons"]),
                    "medianSeconds": self.derived(step["medianSeconds"], reached),
                }
            )
            before = reached
        return rows

    def fields(self, fields: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        abandons = sum(field["abandons"] for field in fields)
        return [
            {
                **field,
                **{key: self.count(field[key]) for key in FIELD_COUNTS},
                "errors": self.counts(field["errors"]),
                "errorRate": self.derived(
                    field["errorRate"], field["errorSessions"], field["sessions"]
                ),
                "abandonShare": self.derived(field["abandonShare"], field["abandons"], abandons),
                "medianSeconds": self.derived(
                    field["medianSeconds"], field["sessions"], field["starters"]
                ),
                "medianHesitationSeconds": self.derived(
                    field["medianHesitationSeconds"], field["sessions"], field["starters"]
                ),
            }
            for field in fields
        ]

    def trend(self, trend: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **trend,
            "points": [
                {
                    **point,
                    "sessions": self.count(point["sessions"]),
                    "starters": self.count(point["starters"]),
                    "completions": self.count(point["completions"]),
                    "completionRate": self.derived(
                        point["completionRate"], point["completions"], point["starters"]
                    ),
                }
                for point in trend["points"]
            ],
        }

    def rows(self, rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{**row, "count": self.count(row["count"])} for row in rows]

    def events(self, events: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **events,
            "total": self.count(events["total"]),
            **{key: self.rows(events[key]) for key in ("types", "trend", "pages", "referrers")},
            "forms": self.rows(events["forms"]),
            "custom": [
                {
                    **row,
                    "count": self.count(row["count"]),
                    "valueSum": self.derived(row["valueSum"], row["count"]),
                }
                for row in events["custom"]
            ],
        }

    def report(self, report: Mapping[str, Any]) -> dict[str, Any]:
        sessions = report["totals"]["sessions"]
        out = {
            **report,
            "totals": self.totals(report["totals"]),
            "steps": self.steps(report["steps"], sessions),
            "fields": self.fields(report["fields"]),
            "trend": self.trend(report["trend"]),
            "events": self.events(report["events"]),
            "segments": {
                name: self.counts(values) for name, values in (report["segments"] or {}).items()
            },
            "hiddenBelow": self.minimum,
        }
        if report.get("breakdownValues") is not None:
            out["breakdownValues"] = [
                {
                    **group,
                    "totals": self.totals(group["totals"]),
                    "steps": self.steps(group["steps"], group["totals"]["sessions"]),
                    "fields": self.fields(group["fields"]),
                }
                for group in report["breakdownValues"]
            ]
        previous = report.get("previous")
        if previous is not None:
            if "steps" in previous:
                out["previous"] = self.report(previous)
            else:
                out["previous"] = {**previous, "totals": self.totals(previous["totals"])}
        return out


def suppress(report: Mapping[str, Any], minimum: int) -> dict[str, Any]:
    """``report`` (a journey's full report, as :func:`flask_journey.reports.report` returns it)
    with every count from 1 to ``minimum - 1`` written ``"< minimum"`` and the rates and
    medians computed from one set to None; ``hiddenBelow`` says ``minimum``."""
    return _Suppressor(minimum).report(report)

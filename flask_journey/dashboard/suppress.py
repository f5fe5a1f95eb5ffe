"""Small numbers hidden from a shared view, so that a share link never identifies anyone (pure).

A share link (and a page shown inside a frame) shows every count from 1 to ``minimum - 1`` as
the text ``"< minimum"``, and hides (None) every rate or median computed from such a count,
whether it is the rate's numerator or its denominator: ``completionRate`` with 3 completions of
50 starters would give the 3 back. A 0 is shown: it identifies nobody. ``docs/reports.md``
defines each number and what it is computed from; :func:`suppress` follows those definitions.

The numbers of real forms (a step's ``exits``, ``exitRate`` and ``transitions``,
``applications``, ``errorOutcomes``, ``completionTime``, ``behaviour``, ``changes``) are hidden
by the same rule where the report has them, read by the report's own keys. A number
anywhere in the report that this module does not name (the server actions' ``outcomes``, the
people of ``events.users``, a number added later) is hidden by default: a whole number as a
count, any other number as computed from the counts of its row and of the objects that hold it.
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
#: Whole numbers that count no one.
NOT_COUNTS = frozenset({"position", "upToSeconds"})


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

    def loose(self, value: Any, *sources: Any) -> Any:
        """``value`` with every whole number under it hidden as a count and every other number
        as computed from ``sources`` and the counts of the objects that hold it."""
        if isinstance(value, Mapping):
            own = [v for k, v in value.items() if _is_count(v) and k not in NOT_COUNTS]
            return {
                key: item if key in NOT_COUNTS else self.loose(item, *sources, *own)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.loose(item, *sources) for item in value]
        if _is_count(value):
            return self.count(value)
        if isinstance(value, float):
            return self.derived(value, *sources)
        return value

    def changes(self, part: Mapping[str, Any]) -> dict[str, Any]:
        """``changes`` against the previous period: the completion rate's hidden as the totals'
        own rate is, now and before; each step's exit rate as the step's, now (and before,
        where the report holds the previous period's steps)."""
        changes, previous = part["changes"], part.get("previous") or {}
        out = self.loose(changes)
        periods = (part, previous)
        if changes.get("completionRate") is not None:
            counts = [
                (period.get("totals") or {}).get(key)
                for period in periods
                for key in TOTAL_RATES["completionRate"]
            ]
            out["completionRate"] = self.loose(changes["completionRate"], *counts)
        steps = [{row["stepKey"]: row for row in period.get("steps") or ()} for period in periods]

        def counts_at(step_key: str) -> list[Any]:
            found = [by_key.get(step_key) or {} for by_key in steps]
            return [step.get(key) for step in found for key in ("exits", "sessions")]

        out["exitRates"] = [
            self.loose(change, *counts_at(change["stepKey"]))
            for change in changes.get("exitRates") or ()
        ]
        return out

    def applications(self, applications: Mapping[str, Any]) -> dict[str, Any]:
        started, completed = applications.get("started"), applications.get("completed")
        out = self.loose(applications, started)
        out["completionRate"] = self.derived(applications.get("completionRate"), completed, started)
        for key in ("sessionsPerCompletion", "daysToComplete"):
            if key in applications:
                out[key] = self.loose(applications[key], completed)
        return out

    def outcomes(self, outcomes: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        rows = []
        for outcome in outcomes:
            sessions = outcome["sessions"]
            row = self.loose(outcome, sessions)
            row["excessAbandons"] = self.derived(
                outcome["excessAbandons"], sessions, outcome["abandonedAfter"]
            )
            row["medianSecondsToFix"] = self.derived(
                outcome["medianSecondsToFix"], sessions, outcome["recovered"]
            )
            rows.append(row)
        return rows

    def times(self, times: Mapping[str, Any]) -> dict[str, Any]:
        """Each distribution's percentiles hidden when it counts fewer than the minimum."""
        out = {}
        for key, distribution in times.items():
            if not isinstance(distribution, Mapping):
                out[key] = self.loose(distribution)
                continue
            counted = sum(
                bucket["count"]
                for bucket in distribution.get("histogram") or ()
                if _is_count(bucket["count"])
            )
            out[key] = self.loose(distribution, counted)
        return out

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
                    **self.loose(step, reached, step.get("exits")),
                    "sessions": self.count(reached),
                    "shareOfSessions": self.derived(step["shareOfSessions"], reached, sessions),
                    "shareOfPrevious": self.derived(step["shareOfPrevious"], reached, before),
                    "dropoffs": self.count(step["dropoffs"]),
                    "dropoffReasons": self.counts(step["dropoffReasons"]),
                    "medianSeconds": self.derived(step["medianSeconds"], reached),
                }
            )
            if "exitRate" in step:
                rows[-1]["exitRate"] = self.derived(step["exitRate"], step["exits"], reached)
            before = reached
        return rows

    def fields(self, fields: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        abandons = sum(field["abandons"] for field in fields)
        return [
            {
                **self.loose(field, field["sessions"], field["abandons"]),
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
            **self.loose(events),
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
            # Every part named below replaces this; any other (the server actions'
            # ``outcomes``, a number added later) is hidden by default.
            **self.loose(report),
            "totals": self.totals(report["totals"]),
            "steps": self.steps(report["steps"], sessions),
            "fields": self.fields(report["fields"]),
            "trend": self.trend(report["trend"]),
            "events": self.events(report["events"]),
            "segments": {
                name: self.counts(values) for name, values in (report["segments"] or {}).items()
            },
            "hiddenBelow": self.minimum,
            **self.forms(report),
        }
        if report.get("breakdownValues") is not None:
            out["breakdownValues"] = [
                {
                    **group,
                    "totals": self.totals(group["totals"]),
                    "steps": self.steps(group["steps"], group["totals"]["sessions"]),
                    "fields": self.fields(group["fields"]),
                    **self.forms(group),
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

    def forms(self, part: Mapping[str, Any]) -> dict[str, Any]:
        """The numbers of real forms in a report or one of its breakdown's groups."""
        out: dict[str, Any] = {}
        if part.get("applications") is not None:
            out["applications"] = self.applications(part["applications"])
        if part.get("errorOutcomes") is not None:
            out["errorOutcomes"] = self.outcomes(part["errorOutcomes"])
        if part.get("completionTime") is not None:
            out["completionTime"] = self.times(part["completionTime"])
        if part.get("changes") is not None:
            out["changes"] = self.changes(part)
        return out


def suppress(report: Mapping[str, Any], minimum: int) -> dict[str, Any]:
    """``report`` (a journey's full report, as :func:`flask_journey.reports.report` returns it)
    with every count from 1 to ``minimum - 1`` written ``"< minimum"`` and the rates and
    medians computed from one set to None; ``hiddenBelow`` says ``minimum``."""
    return _Suppressor(minimum).report(report)

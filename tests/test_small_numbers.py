"""Small numbers on a shared view: over random reports, no count from 1 to the minimum less one
survives, nor any rate or median computed from one (docs/reports.md's definitions)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flask_journey.dashboard.suppress import suppress

count = st.integers(min_value=0, max_value=40)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median(n: int) -> float | None:
    return 12.5 if n else None


@st.composite
def totals(draw: Any) -> dict[str, Any]:
    sessions, starters, completions = draw(count), draw(count), draw(count)
    return {
        "sessions": sessions,
        "starters": starters,
        "submitters": draw(count),
        "completions": completions,
        "abandons": draw(count),
        "active": draw(count),
        "startRate": _rate(starters, sessions),
        "completionRate": _rate(completions, starters),
        "conversionRate": _rate(completions, sessions),
    }


@st.composite
def steps(draw: Any, sessions: int) -> list[dict[str, Any]]:
    rows, before = [], None
    for position in range(1, draw(st.integers(0, 5)) + 1):
        reached = draw(count)
        rows.append(
            {
                "stepKey": f"step-{position}",
                "position": position,
                "configured": draw(st.booleans()),
                "sessions": reached,
                "shareOfSessions": _rate(reached, sessions),
                "shareOfPrevious": None if before is None else _rate(reached, before),
                "dropoffs": draw(count),
                "dropoffReasons": draw(st.dictionaries(st.sampled_from(["leave", "idle"]), count)),
                "medianSeconds": _median(reached),
            }
        )
        before = reached
    return rows


@st.composite
def fields(draw: Any) -> list[dict[str, Any]]:
    rows = []
    for n in range(draw(st.integers(0, 5))):
        sessions, errors = draw(count), draw(count)
        rows.append(
            {
                "fieldKey": f"field-{n}",
                "stepKey": draw(st.sampled_from([None, "step-1"])),
                "sessions": sessions,
                "starters": draw(count),
                "returns": draw(count),
                "errorSessions": errors,
                "errors": draw(st.dictionaries(st.sampled_from(["valueMissing", "x"]), count)),
                "errorRate": _rate(errors, sessions),
                "abandons": draw(count),
                "abandonShare": None,
                "medianSeconds": _median(sessions),
                "medianHesitationSeconds": _median(sessions),
            }
        )
    abandons = sum(row["abandons"] for row in rows)
    for row in rows:
        row["abandonShare"] = _rate(row["abandons"], abandons)
    return rows


@st.composite
def reports(draw: Any) -> dict[str, Any]:
    total = draw(totals())
    points = []
    for day in range(draw(st.integers(0, 4))):
        starters, completions = draw(count), draw(count)
        points.append(
            {
                "period": f"2024-01-0{day + 1}",
                "sessions": draw(count),
                "starters": starters,
                "completions": completions,
                "completionRate": _rate(completions, starters),
            }
        )
    rows = st.lists(st.fixed_dictionaries({"name": st.just("n"), "count": count}), max_size=3)
    breakdown = draw(st.booleans())
    groups = []
    for value in ("mobile", "desktop") if breakdown else ():
        group = draw(totals())
        groups.append(
            {
                "value": value,
                "totals": group,
                "steps": draw(steps(group["sessions"])),
                "fields": draw(fields()),
            }
        )
    return {
        "from": "2024-01-01",
        "to": "2024-01-04",
        "totals": total,
        "steps": draw(steps(total["sessions"])),
        "fields": draw(fields()),
        "trend": {"interval": "day", "points": points},
        "events": {
            "total": draw(count),
            "types": draw(rows),
            "trend": draw(rows),
            "pages": draw(rows),
            "referrers": draw(rows),
            "forms": draw(rows),
            "custom": [
                {**row, "valueSum": 3.5 * row["count"]}
                for row in draw(
                    st.lists(st.fixed_dictionaries({"name": st.just("c"), "count": count}))
                )
            ],
            "users": {
                "identified": draw(count),
                "stages": draw(st.dictionaries(st.sampled_from(["discovered", "paid"]), count)),
            },
        },
        "outcomes": draw(
            st.lists(
                st.fixed_dictionaries(
                    {"action": st.just("lead"), "sessions": count, "completedSessions": count}
                ),
                max_size=3,
            )
        ),
        "segments": {"device": draw(st.dictionaries(st.sampled_from(["mobile", "tv"]), count))},
        "breakdown": "device" if breakdown else None,
        "breakdownValues": groups if breakdown else None,
        "previous": draw(st.one_of(st.none(), totals().map(lambda t: {"totals": t}))),
    }


def _numbers(value: Any, key: str = "") -> list[tuple[str, Any]]:
    """Every (key, value) leaf under ``value``."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _numbers(v, k)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _numbers(item, key)]
    return [(key, value)]


#: What each derived number is computed from (docs/reports.md): counts of its own row, and of
#: the row before it or of the whole (``@``: the report's or group's totals' sessions; ``^``:
#: the step before's sessions; ``Σ``: the field rows' abandons together); a source a row does
#: not have is left out.
SOURCES = {
    "startRate": ("starters", "sessions"),
    "completionRate": ("completions", "starters"),
    "conversionRate": ("completions", "sessions"),
    "shareOfSessions": ("sessions", "@"),
    "shareOfPrevious": ("sessions", "^"),
    "errorRate": ("errorSessions", "sessions"),
    "abandonShare": ("abandons", "Σ"),
    # A step's median time is over its sessions; a field's over its sessions and starters.
    "medianSeconds": ("sessions", "starters"),
    "medianHesitationSeconds": ("sessions", "starters"),
    "valueSum": ("count",),
}


def _rows(report: dict[str, Any], before: dict[str, Any]) -> list[tuple[dict, dict, dict]]:
    """(shown row, original row, context) for every row with derived numbers."""
    found: list[tuple[dict, dict, dict]] = []
    parts = [(report, before, before["totals"]["sessions"])]
    parts += [
        (shown, original, original["totals"]["sessions"])
        for shown, original in zip(
            report.get("breakdownValues") or [], before.get("breakdownValues") or [], strict=True
        )
    ]
    for shown, original, sessions in parts:
        found.append((shown["totals"], original["totals"], {}))
        previous = None
        for shown_step, step in zip(shown["steps"], original["steps"], strict=True):
            found.append((shown_step, step, {"@": sessions, "^": previous}))
            previous = step["sessions"]
        abandons = sum(f["abandons"] for f in original["fields"])
        for shown_field, field in zip(shown["fields"], original["fields"], strict=True):
            found.append((shown_field, field, {"Σ": abandons}))
    for shown, original in zip(report["trend"]["points"], before["trend"]["points"], strict=True):
        found.append((shown, original, {}))
    for shown, original in zip(report["events"]["custom"], before["events"]["custom"], strict=True):
        found.append((shown, original, {}))
    if before.get("previous"):
        found.append((report["previous"]["totals"], before["previous"]["totals"], {}))
    return found


@settings(max_examples=300, deadline=None)
@given(reports(), st.integers(min_value=1, max_value=20))
def test_no_small_count_and_nothing_computed_from_one_survives(report, minimum):
    shown = suppress(report, minimum)
    assert shown["hiddenBelow"] == minimum
    leaves = _numbers({k: v for k, v in shown.items() if k != "hiddenBelow"})
    small = [
        (key, value)
        for key, value in leaves
        if isinstance(value, int)
        and not isinstance(value, bool)
        and key != "position"
        and 0 < value < minimum
    ]
    assert small == []
    for shown_row, row, context in _rows(shown, report):
        for name, sources in SOURCES.items():
            if name not in row:
                continue
            values = [
                context.get(source) if source in "@^Σ" else row.get(source) for source in sources
            ]
            if any(isinstance(v, int) and 0 < v < minimum for v in values):
                assert shown_row[name] is None, (name, row, minimum)
            else:
                assert shown_row[name] == row[name]


def test_a_zero_is_shown_and_the_owner_numbers_are_left_as_they_are():
    report = {
        "totals": {
            "sessions": 0,
            "starters": 0,
            "submitters": 0,
            "completions": 0,
            "abandons": 0,
            "active": 0,
            "startRate": None,
            "completionRate": None,
            "conversionRate": None,
        },
        "steps": [],
        "fields": [],
        "trend": {"interval": "day", "points": []},
        "events": {
            "total": 3,
            "types": [],
            "trend": [],
            "pages": [],
            "referrers": [],
            "forms": [],
            "custom": [],
        },
        "segments": {},
        "previous": None,
    }
    shown = suppress(report, 10)
    assert shown["totals"]["sessions"] == 0 and shown["events"]["total"] == "< 10"
    assert report["events"]["total"] == 3  # the report itself is not changed


def _small(minimum: int, *values: Any) -> bool:
    return any(isinstance(v, int) and not isinstance(v, bool) and 0 < v < minimum for v in values)


@st.composite
def forms_reports(draw: Any) -> dict[str, Any]:
    """A report with the numbers of real forms (docs/reports.md), under its own keys: a step's
    exits, exit rate and transitions, applications, error outcomes, completion times,
    ``behaviour`` and ``changes``."""
    report = draw(reports())
    for step in report["steps"]:
        exits = draw(count)
        step["exits"] = exits
        step["exitRate"] = _rate(exits, step["sessions"])
        step["transitions"] = [
            {"to": to, "sessions": draw(count)} for to in ("next", "(completed)", "(exit)")
        ]
    report["behaviour"] = [
        {
            "stepKey": field["stepKey"],
            "fieldKey": field["fieldKey"],
            "abandoners": draw(count),
            "completers": draw(count),
            **{
                measure: _compared(then, now, draw(st.booleans()))
                for measure, then, now in (
                    ("returnRate", 0.5, 0.25),
                    ("errorRate", 0.4, 0.1),
                    ("timeInField", 30.0, 12.5),
                )
            },
        }
        for field in report["fields"]
    ]
    started, completed = draw(count), draw(count)
    report["applications"] = {
        "started": started,
        "completed": completed,
        "saved": draw(count),
        "abandoned": draw(count),
        "completionRate": _rate(completed, started),
        "sessionsPerCompletion": 1.5 if completed else None,
        "daysToComplete": {"p50": 2.5, "p90": 9.5},
    }
    report["errorOutcomes"] = [
        {
            "fieldKey": f"field-{n}",
            "stepKey": "step-1",
            "errorType": "valueMissing",
            "sessions": draw(count),
            "recovered": draw(count),
            "abandonedAfter": draw(count),
            "excessAbandons": draw(st.floats(-5, 20)),
            "medianSecondsToFix": 12.5,
        }
        for n in range(draw(st.integers(0, 3)))
    ]
    report["completionTime"] = {
        name: {
            "p25": 30.0,
            "p50": 60.0,
            "p90": 600.0,
            "histogram": [{"upToSeconds": up, "count": draw(count)} for up in (30, 300, None)],
        }
        for name in ("sessions", "applications")
    }
    report["changes"] = {
        "completionRate": _change(0.5, report["totals"]["completionRate"], draw(st.booleans())),
        "exitRates": [
            {"stepKey": step["stepKey"], **_change(0.2, step["exitRate"], draw(st.booleans()))}
            for step in report["steps"]
        ],
    }
    return report


def _compared(abandoners: float, completers: float, significant: bool) -> dict[str, Any]:
    """One measure of ``behaviour``: the two groups' values, compared."""
    return {
        "abandoners": abandoners,
        "completers": completers,
        "difference": round(abandoners - completers, 4),
        "pValue": 0.01,
        "test": "z",
        "significant": significant,
    }


def _change(before: float, now: float | None, significant: bool) -> dict[str, Any]:
    """One entry of ``changes``: a rate now and in the previous period, compared."""
    return {
        "now": now,
        "before": before,
        "difference": None if now is None else round(now - before, 4),
        "pValue": 0.02,
        "test": "z",
        "significant": significant,
    }


@settings(max_examples=200, deadline=None)
@given(forms_reports(), st.integers(min_value=1, max_value=20))
def test_the_numbers_of_real_forms_follow_the_same_rule(report, minimum):
    shown = suppress(report, minimum)
    small = [
        (key, value)
        for key, value in _numbers({k: v for k, v in shown.items() if k != "hiddenBelow"})
        if key not in ("position", "upToSeconds") and _small(minimum, value)
    ]
    assert small == []

    def hidden(value: Any, *sources: Any) -> Any:
        return None if _small(minimum, *sources) else value

    changes = zip(shown["changes"]["exitRates"], report["changes"]["exitRates"], strict=True)
    for step, original, (change, before) in zip(
        shown["steps"], report["steps"], changes, strict=True
    ):
        reached, exits = original["sessions"], original["exits"]
        assert step["exitRate"] == hidden(original["exitRate"], exits, reached)
        assert change["stepKey"] == original["stepKey"]
        assert change["now"] == hidden(original["exitRate"], exits, reached)
        assert change["before"] == hidden(0.2, exits, reached)
        assert change["significant"] == before["significant"]
    for row, original in zip(shown["behaviour"], report["behaviour"], strict=True):
        groups = (original["abandoners"], original["completers"])
        for measure in ("returnRate", "errorRate", "timeInField"):
            compared, was = row[measure], original[measure]
            assert compared["abandoners"] == hidden(was["abandoners"], *groups)
            assert compared["difference"] == hidden(was["difference"], *groups)
            assert compared["significant"] == was["significant"]
    applications, original = shown["applications"], report["applications"]
    started, completed = original["started"], original["completed"]
    assert applications["completionRate"] == hidden(original["completionRate"], completed, started)
    assert applications["sessionsPerCompletion"] == hidden(
        original["sessionsPerCompletion"], completed
    )
    assert applications["daysToComplete"]["p90"] == hidden(9.5, completed)
    for outcome, original in zip(shown["errorOutcomes"], report["errorOutcomes"], strict=True):
        sessions = original["sessions"]
        assert outcome["excessAbandons"] == hidden(
            original["excessAbandons"], sessions, original["abandonedAfter"]
        )
        assert outcome["medianSecondsToFix"] == hidden(12.5, sessions, original["recovered"])
    for name, times in shown["completionTime"].items():
        total = sum(b["count"] for b in report["completionTime"][name]["histogram"])
        assert times["p50"] == hidden(60.0, total)
    totals = report["totals"]
    before = (report.get("previous") or {}).get("totals") or {}
    change = shown["changes"]["completionRate"]
    assert change["now"] == hidden(
        totals["completionRate"],
        totals["completions"],
        totals["starters"],
        before.get("completions"),
        before.get("starters"),
    )

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
        },
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

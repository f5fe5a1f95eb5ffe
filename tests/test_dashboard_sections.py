"""The journey page draws the numbers of real forms when the report has them: "What to fix
first" read through exits, excess abandons and significant changes; exit rates, optional steps
and transitions in the funnel; applications, error outcomes and completion times in their own
sections; fields that differ significantly marked; small numbers hidden on shared views.

The report is the known journey's with those numbers laid over it (tests/forms_report.py,
served through a monkeypatched report function); without them, the page is as before.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from flask_journey import reports
from flask_journey.dashboard import sections
from flask_journey.dashboard.answers import error_anchor
from tests import forms_report
from tests.known_dashboard import JOURNEY, ORG

PAGE = f"/journey/{ORG}/{JOURNEY}/"


@pytest.fixture
def config() -> dict[str, Any]:
    return {"SECRET_KEY": "sections-test-secret", "JOURNEY_REPORT_MAX_STALENESS": 0}


@pytest.fixture
def forms(monkeypatch) -> None:
    forms_report.serve(monkeypatch)


def _text(html: str) -> str:
    spaced = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())
    return re.sub(r" ([.,])", r"\1", spaced)


def _section(page: str, anchor: str) -> str:
    match = re.search(rf'<section[^>]*id="{anchor}">.*?</section>', page, re.S)
    assert match is not None, f"no section #{anchor}"
    return match.group(0)


def _fix_first(page: str) -> list[tuple[str, str]]:
    return [
        (anchor, re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", line))).strip())
        for anchor, line in re.findall(
            r'<li class="fix-\w+"><a href="#([^"]+)">(.*?)</a>', _section(page, "fix-first")
        )
    ]


def test_the_fix_first_lines_read_exits_excess_abandons_and_significant_changes(owner, forms):
    page = owner.get(PAGE + "?range=7").get_data(as_text=True)
    lines = _fix_first(page)
    assert [text for _, text in lines] == [
        "Most exits at step details: 9 sessions left the form there, 50.0% of the 18 that "
        "reached it.",
        "Most abandons at field email (step start): 9 sessions left the form there, "
        "56.2% of all abandons.",
        "Most abandons caused by an error: wrong format at field email (step start): 5 of the 5 "
        "sessions that saw it left the form after it, 3.2 more than the field's error-free "
        "sessions predict.",
        "Completion rate fell from 70.0% to 45.2% against the previous period, a significant "
        "change (p < 0.001).",
        "Exit rate at step details rose from 20.0% to 50.0% against the previous period, a "
        "significant change (p = 0.004).",
    ]
    anchors = [anchor for anchor, _ in lines]
    assert anchors == [
        "step-2",
        anchors[1],
        error_anchor("start", "email", "typeMismatch"),
        "headline-completionRate",
        "step-2",
    ]
    for anchor in anchors:
        assert f'id="{anchor}"' in page
    # A change that is not significant has no line, however large ("moved 5 points" is gone).
    assert "Start rate" not in _section(page, "fix-first")
    # Its headline card says so; a change that is not significant is not marked.
    cards = dict(re.findall(r'<li class="card" id="headline-(\w+)">(.*?)</li>', page, re.S))
    assert "significant change" in cards["completionRate"]
    assert "significant change" not in cards["startRate"]


def test_the_funnel_shows_exit_rates_optional_steps_and_transitions_on_demand(owner, forms):
    page = owner.get(PAGE + "?range=7").get_data(as_text=True)
    steps = dict(re.findall(r'<li class="step[^"]*" id="(step-\d)">(.*?)</li>', page, re.S))
    assert '<li class="step worst optional" id="step-2">' in page
    details = _text(steps["step-2"])
    assert details.startswith(
        "↓ 58.1% went on from the step before 2. details optional: skipping it is no drop-off "
        "Most exits 18 sessions · 58.1% of all 9 left the form here: an exit rate of 50.0% "
        "Exit rate rose from 20.0% to 50.0% against the previous period: a significant change."
    )
    assert "7 left the form here: an exit rate of 22.6%" in _text(steps["step-1"])
    assert "Nobody left the form here" in _text(steps["step-3"])
    # Transitions are in a <details> per step: shown on demand, without a script.
    transitions = re.search(
        r'<details class="transitions" id="step-1-next">.*?</details>', page, re.S
    ).group(0)
    assert _text(transitions) == (
        "Where its sessions went next Where the sessions at step start went next "
        "Next Sessions details 18 Left the form 7 Other steps 6"
    )
    assert "Completed the form 14" in _text(steps["step-3"])
    table = _text(re.search(r'<table class="data" id="steps-table">.*?</table>', page, re.S)[0])
    assert "Dropped Exits Exit rate" in table
    assert "details (optional) 18 58.1% 58.1% 4 9 50.0%" in table


def test_the_new_sections_follow_the_funnel_each_with_its_anchor(owner, forms):
    page = owner.get(PAGE + "?range=7").get_data(as_text=True)
    order = [
        "fix-first",
        "headline",
        "funnel",
        "applications",
        "error-outcomes",
        "completion-time",
        "fields",
        "trend",
        "breakdown",
        "events",
    ]
    places = [page.index(f'<section aria-labelledby="{anchor}-title"') for anchor in order]
    assert places == sorted(places)
    for anchor in order:
        assert f'id="{anchor}"' in page


def test_applications_are_headline_cards(owner, forms):
    cards = _section(owner.get(PAGE + "?range=7").get_data(as_text=True), "applications")
    shown = [
        _text(card)
        for card in re.findall(r'<li class="card" id="applications-\w+">.*?</li>', cards, re.S)
    ]
    assert shown == [
        "Started 25",
        "Completed 14",
        "Saved, may return 6",
        "Abandoned 5",
        "Completion rate 56.0%",
        "Sessions per completion 1.4",
        "Days to complete 1.5 median; 90% within 6.0 days",
    ]


def test_error_outcomes_are_a_table_worst_first(owner, forms):
    section = _section(owner.get(PAGE + "?range=7").get_data(as_text=True), "error-outcomes")
    rows = re.findall(r'<tr id="(error-\w+)">(.*?)</tr>', section, re.S)
    assert [_text(row) for _, row in rows] == [
        "wrong format email start 5 0 0% 5 3.2 –",
        "doesn't match the pattern phone details 15 11 73% 4 1.5 21.0 s",
        "left empty name start 12 12 100% 0 0 8.0 s",
    ]
    assert rows[0][0] == error_anchor("start", "email", "typeMismatch")
    assert '<span class="error-type" title="typeMismatch">wrong format</span>' in rows[0][1]


def test_completion_times_are_a_histogram_with_its_table_and_percentiles(owner, forms):
    section = _section(owner.get(PAGE + "?range=7").get_data(as_text=True), "completion-time")
    text = _text(section)
    assert "Sessions A quarter within 40 s, half within 1.6 min, 90% within 30.0 min." in text
    assert "Applications A quarter within 60.0 min, half within 36.0 h, 90% within 6.0 d." in text
    chart = re.search(
        r'<svg class="chart histogram"[^>]*id="time-sessions-chart">.*?</svg>', section, re.S
    )[0]
    assert 'role="img"' in chart and "<title" in chart and "<desc" in chart
    heights = [float(h) for h in re.findall(r'<rect class="column"[^>]* height="([\d.]+)"', chart)]
    # Columns against an axis of 0 to 5 in a plot 180 units high: 3 is 108, 5 is 180.
    assert heights == [0.0, 108.0, 180.0, 144.0, 36.0, 0.0, 36.0, 0.0]
    table = re.search(r'<table class="data" id="time-sessions-table">.*?</table>', section, re.S)[0]
    assert _text(table).endswith(
        "≤ 30 s 0 ≤ 1 min 3 ≤ 2 min 5 ≤ 5 min 4 ≤ 10 min 1 ≤ 30 min 0 ≤ 1 h 1 > 1 h 0"
    )


def test_fields_that_differ_significantly_are_marked(owner, forms):
    page = owner.get(PAGE + "?range=7").get_data(as_text=True)
    marked = {
        _text(row).split(" ")[0]: "differs significantly" in row
        for row in re.findall(r'<tr id="field-\w+">\s*<th scope="row">(.*?)</th>', page, re.S)
    }
    assert marked == {"name": False, "email": True, "phone": False}
    assert 'id="significant-note"' in page


@pytest.fixture
def without_forms(monkeypatch) -> None:
    """Reports without the numbers of real forms, as an earlier release computed them."""
    computed = reports.report

    def report(*args: Any, **options: Any) -> dict[str, Any]:
        out = computed(*args, **options)
        for part in (out, out.get("previous") or {}):
            for key in ("applications", "errorOutcomes", "completionTime", "behaviour", "changes"):
                part.pop(key, None)
            for step in part.get("steps", []):
                for key in ("exits", "exitRate", "transitions", "optional", "previousStep"):
                    step.pop(key, None)
        return out

    monkeypatch.setattr(reports, "report", report)


def test_without_the_numbers_the_page_is_as_before(owner, without_forms):
    page = owner.get(PAGE + "?range=7").get_data(as_text=True)
    for anchor in ("applications", "error-outcomes", "completion-time", "significant-note"):
        assert f'id="{anchor}"' not in page
    assert '<details class="transitions"' not in page and "Exit rate" not in page
    assert _fix_first(page)[0][1].startswith("Most drop-offs at step start")


def test_a_share_link_hides_the_small_numbers_of_the_new_sections(owner, forms, cli):
    url = cli("share", ORG, JOURNEY).strip().removeprefix("http://localhost:5000")
    page = owner.application.test_client().get(url + "?range=7").get_data(as_text=True)
    # No step, field or error-outcome line: their numbers are under 10 (the exits, email's 9
    # abandons, the errors' abandons after them), so no longer numbers; the error seen most
    # stands in.
    assert [text for _, text in _fix_first(page)] == [
        "Most errors at field phone: seen in 15 sessions, mostly doesn't match the pattern.",
        "Completion rate fell from 70.0% to 45.2% against the previous period, a significant "
        "change (p < 0.001).",
        # The exit rates and their p-value are computed from 9 exits: hidden.
        "Exit rate at step details changed against the previous period, a significant change.",
    ]
    steps = dict(re.findall(r'<li class="step[^"]*" id="(step-\d)">(.*?)</li>', page, re.S))
    assert "&lt; 10 left the form here</p>" in steps["step-2"]
    assert "Where the sessions at step <bdi>details</bdi> went next" in steps["step-2"]
    assert _text(steps["step-2"]).endswith("Next Sessions done < 10 Left the form < 10")
    cards = _text(_section(page, "applications"))
    assert "Started 25 Completed 14 Saved, may return < 10 Abandoned < 10" in cards
    assert "Completion rate 56.0%" in cards
    outcomes = _text(_section(page, "error-outcomes"))
    assert "wrong format email start < 10 0 < 10 – –" in outcomes
    times = _section(page, "completion-time")
    assert "half within <strong>1.6 min</strong>" in times  # 14 completions
    assert re.search(r"<th scope=\"row\">≤ 1 min</th><td class=\"num\">&lt; 10</td>", times)

    query = re.search(r'href="([^"]*report\.json\?[^"]*)"', page).group(1).replace("&amp;", "&")
    report = owner.application.test_client().get(query).json
    details = next(s for s in report["steps"] if s["stepKey"] == "details")
    assert details["exits"] == "< 10" and details["exitRate"] is None
    assert details["transitions"] == [
        {"to": "done", "sessions": "< 10"},
        {"to": "(exit)", "sessions": "< 10"},
    ]
    email = next(o for o in report["errorOutcomes"] if o["fieldKey"] == "email")
    assert email["sessions"] == "< 10" and email["excessAbandons"] is None
    assert report["applications"]["completionRate"] == 0.56
    assert report["completionTime"]["sessions"]["p50"] == 95.0


def test_the_histogram_draws_equal_columns_on_a_log_scale_of_buckets():
    chart = sections.histogram(
        [
            {"upToSeconds": 60, "count": 4},
            {"upToSeconds": 600, "count": "< 10"},
            {"upToSeconds": None, "count": 10},
        ],
        300,
        100,
    )
    assert [(b.label, b.x, b.width, b.height) for b in chart.bars] == [
        ("≤ 1 min", 10.0, 80.0, 40.0),
        ("≤ 10 min", 110.0, 80.0, 0.0),
        ("> 10 min", 210.0, 80.0, 100.0),
    ]
    assert chart.top == 10 and chart.total == 14
    assert chart.ticks == [
        (10.0, "≤ 1 min", "start"),
        (150.0, "≤ 10 min", "middle"),
        (290.0, "> 10 min", "end"),
    ]


def test_times_read_in_the_unit_that_fits():
    assert [sections.span(s) for s in (None, "< 10", 40, 95, 1800, 129600, 518400)] == [
        "–",
        "–",
        "40 s",
        "1.6 min",
        "30.0 min",
        "36.0 h",
        "6.0 d",
    ]


def test_the_sections_read_the_reports_changes_and_behaviour_by_their_own_keys():
    report = {
        "steps": [{"stepKey": "start"}, {"stepKey": "details"}],
        "fields": [{"stepKey": "details", "fieldKey": "email"}],
        "changes": {
            "completionRate": {"now": 0.4, "before": 0.7, "pValue": 0.001, "significant": True},
            "exitRates": [
                {
                    "stepKey": "details",
                    "now": 0.5,
                    "before": 0.2,
                    "pValue": 0.01,
                    "significant": True,
                }
            ],
        },
        "behaviour": [
            {
                "stepKey": "details",
                "fieldKey": "email",
                "returnRate": {"significant": False},
                "errorRate": {"significant": True},
                "timeInField": {"significant": False},
            },
            {
                "stepKey": "details",
                "fieldKey": "phone",
                "returnRate": {"significant": False},
                "errorRate": {"significant": False},
                "timeInField": {"significant": None},
            },
        ],
    }

    shown = sections.sections(report)

    assert shown["exit_changes"] == {"details": report["changes"]["exitRates"][0]}
    assert shown["different_fields"] == {("details", "email")}
    without = sections.sections({**report, "changes": None, "behaviour": None})
    assert without["exit_changes"] == {} and without["different_fields"] == set()

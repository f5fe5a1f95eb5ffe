"""The dashboard's pure parts: reading a view from its URL, ordering fields, chart geometry,
changes against the previous period, share-link lifetimes."""

from __future__ import annotations

import datetime as dt

import pytest

from flask_journey import shares
from flask_journey.dashboard import answers, charts, options
from flask_journey.reports import ReportError

TODAY = dt.date(2024, 3, 31)


def test_presets_end_today_and_custom_ranges_need_both_dates():
    week = options.read_view({"range": "7"}, TODAY)
    assert (week.start, week.end) == (dt.date(2024, 3, 25), TODAY)
    default = options.read_view({}, TODAY)
    assert (default.preset, default.start, default.compare) == ("30", dt.date(2024, 3, 2), True)
    custom = options.read_view({"range": "custom", "from": "2024-01-01", "to": "2024-01-31"}, TODAY)
    assert (custom.start, custom.end) == (dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    with pytest.raises(ReportError, match="to is required"):
        options.read_view({"range": "custom", "from": "2024-01-01"}, TODAY)
    for bad in (
        {"range": "8"},
        {"compare": "maybe"},
        {"breakdown": "city"},
        {"sort": "x"},
        {"dir": "up"},
    ):
        with pytest.raises(ReportError):
            options.read_view(bad, TODAY)


def test_a_view_gives_the_report_api_its_own_parameters_and_keeps_its_page_state():
    view = options.read_view(
        {
            "range": "7",
            "compare": "off",
            "device": "mobile",
            "breakdown": "os",
            "sort": "returns",
            "dir": "asc",
        },
        TODAY,
    )
    assert view.report_params() == {
        "from": "2024-03-25",
        "to": "2024-03-31",
        "compare": "false",
        "device": "mobile",
        "breakdown": "os",
    }
    assert view.download_query("fields").endswith("&breakdown=os&table=fields")
    assert view.query() == "?range=7&compare=off&device=mobile&breakdown=os&sort=returns&dir=asc"
    assert "dir=desc" in view.sort_query("returns")  # the same column again flips it
    assert "dir=asc" in view.sort_query("fieldKey")  # names sort A to Z first


def test_worst_fields_come_first():
    rows = [
        {"fieldKey": "a", "abandons": 1, "errorRate": 0.5, "returns": 0, "starters": 9},
        {"fieldKey": "b", "abandons": 4, "errorRate": 0.0, "returns": 0, "starters": 9},
        {"fieldKey": "c", "abandons": 1, "errorRate": 0.9, "returns": 0, "starters": 9},
    ]
    view = options.read_view({}, TODAY)
    assert [r["fieldKey"] for r in options.order_fields(rows, view)] == ["b", "c", "a"]


def test_changes_against_the_previous_period():
    assert charts.change(150, 100).text == "+50%"
    assert charts.change(50, 100).direction == "down"
    assert charts.change(3, 0).text == "new"
    assert charts.change(0, 0).direction == "flat"
    assert charts.change(0.75, 0.70, rate=True).text == "+5.0 pt"
    assert charts.change(None, 0.5, rate=True) is None


def test_chart_geometry_stays_in_its_box():
    assert charts.polyline([0, 10, 5], 100, 20, pad=0) == "0.0,20.0 50.0,0.0 100.0,10.0"
    assert charts.polyline([], 100, 20) == ""
    assert charts.lengths([10, 5, "< 10", 0]) == [100.0, 50.0, 0.0, 0.0]
    assert charts.lengths([0.25, None], top=1) == [25.0, 0.0]
    assert charts.lengths([]) == []
    assert [charts.nice_top(v) for v in (0, 7, 10, 11, 180, 501)] == [1, 10, 10, 20, 200, 1000]


def test_share_link_lifetimes_are_bounded_by_the_maximum():
    assert shares.parse_duration("30d", 90) == dt.timedelta(days=30)
    assert shares.parse_duration("12h", 90) == dt.timedelta(hours=12)
    assert shares.parse_duration("2w", 90) == dt.timedelta(weeks=2)
    assert shares.parse_duration("90d", 90) == dt.timedelta(days=90)
    assert shares.parse_duration("2160h", 90) == dt.timedelta(days=90)
    for bad in ("0d", "30", "1y", "-1d", "never"):
        with pytest.raises(ValueError, match="is not a lifetime such as 30d"):
            shares.parse_duration(bad, 90)
    for too_long in ("91d", "13w", "99999w", "2161h"):
        with pytest.raises(ValueError, match="longer than the 90 days a share link may last"):
            shares.parse_duration(too_long, 90)
    with pytest.raises(ValueError, match="longer than the 7 days"):
        shares.parse_duration("8d", 7)


def test_the_trend_draws_sessions_as_columns_and_the_completion_rate_as_a_broken_line():
    points = [
        {"period": "d1", "sessions": 10, "starters": 8, "completions": 6, "completionRate": 0.75},
        {"period": "d2", "sessions": 4, "starters": 0, "completions": 0, "completionRate": None},
        {"period": "d3", "sessions": 20, "starters": 10, "completions": 10, "completionRate": 1.0},
        {"period": "d4", "sessions": 5, "starters": 4, "completions": 1, "completionRate": 0.25},
    ]
    trend = charts.trend(points, 400, 100)
    assert trend.top == 20
    assert [p.completion_rate for p in trend.points] == [0.75, None, 1.0, 0.25]
    assert trend.rates == [0.75, 1.0, 0.25]
    assert [p.bar_height for p in trend.points] == [50.0, 20.0, 100.0, 25.0]
    assert [p.x for p in trend.points] == [15.0, 115.0, 215.0, 315.0]
    # No starters, no rate: the line lifts its pen there and starts again.
    assert trend.rate_path == "M50.0,25.0 M250.0,0.0 L350.0,75.0"
    assert trend.points[1].dot_y is None
    assert charts.trend([], 400, 100).rate_path == ""


def test_typed_dates_beside_a_preset_make_a_custom_range():
    shown = {"shown": "2024-03-02/2024-03-31", "from": "2024-03-02", "to": "2024-03-31"}
    assert options.read_view({"range": "30", **shown}, TODAY).preset == "30"
    # Another period chosen, the dates left as the page showed them: that period.
    assert options.read_view({"range": "7", **shown}, TODAY).start == dt.date(2024, 3, 25)
    typed = options.read_view({"range": "30", **shown, "from": "2024-01-10"}, TODAY)
    assert (typed.preset, typed.start, typed.end) == ("custom", dt.date(2024, 1, 10), TODAY)
    assert typed.query().startswith("?range=custom&from=2024-01-10&to=2024-03-31")
    # An address written by hand: dates that differ from the preset's own.
    by_hand = options.read_view({"range": "7", "to": "2024-03-20"}, TODAY)
    assert (by_hand.preset, by_hand.start, by_hand.end) == (
        "custom",
        dt.date(2024, 3, 25),
        dt.date(2024, 3, 20),
    )


def _report(**changes) -> dict:
    report = {
        "steps": [
            {"stepKey": "a", "position": 1, "sessions": 50, "dropoffs": 5},
            {"stepKey": "b", "position": 2, "sessions": 45, "dropoffs": 20},
        ],
        "fields": [
            {
                "fieldKey": "f",
                "stepKey": "b",
                "abandons": 12,
                "abandonShare": 0.6,
                "errorSessions": 30,
                "errors": {"valueMissing": 4, "tooShort": 40},
            },
        ],
        "totals": {"startRate": 0.9, "completionRate": 0.5, "conversionRate": 0.45},
        "previous": {"totals": {"startRate": 0.88, "completionRate": 0.56, "conversionRate": 0.5}},
    }
    report.update(changes)
    return report


def test_the_fix_first_lines_in_words():
    lines = answers.fix_first(_report())
    assert [line.kind for line in lines] == ["step", "field", "error", "change", "change"]
    assert lines[0].anchor == "step-2" and ("key", "b") in lines[0].parts
    assert lines[0].parts[-1] == ("text", ", 44.4% of the 45 that reached it.")
    assert lines[1].anchor == lines[2].anchor == answers.field_anchor("b", "f")
    assert ("error", "tooShort") in lines[2].parts
    assert lines[3].parts[0][1].startswith("Completion rate changed by -6.0 points")
    assert answers.error_words("tooShort") == "too short"
    assert answers.error_words("madeUp") is None


def test_the_fix_first_lines_leave_out_what_a_shared_view_hides():
    report = _report(previous=None)
    report["steps"][1]["dropoffs"] = "< 10"
    report["fields"][0]["abandons"] = "< 10"
    lines = answers.fix_first(report)
    assert [line.kind for line in lines] == ["step", "error"]
    assert lines[0].anchor == "step-1"
    assert answers.fix_first(_report(steps=[], fields=[], previous=None)) == []

"""The journey page answers first: "What to fix first" on a journey whose answers are known,
the funnel with its drop-offs, anchors kept by sorts and breakdowns, sender text isolated and
made visible, error types in words; and small numbers hidden from shared views only."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from typing import Any

import pytest

from tests.known_dashboard import JOURNEY, ORG

PAGE = f"/journey/{ORG}/{JOURNEY}/"


@pytest.fixture
def config() -> dict[str, Any]:
    return {"SECRET_KEY": "answers-test-secret", "JOURNEY_REPORT_MAX_STALENESS": 0}


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip())


def _found(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.S)
    assert match is not None, f"{pattern!r} is not on the page"
    return match.group(0)


def _fix_first(page: str) -> list[tuple[str, str]]:
    """Each "What to fix first" line: its link's target and its text."""
    section = _found(r'<section[^>]*id="fix-first">.*?</section>', page)
    return [
        (anchor, _text(line))
        for anchor, line in re.findall(r'<li class="fix-\w+"><a href="#([^"]+)">(.*?)</a>', section)
    ]


def test_the_fix_first_lines_name_the_worst_step_field_and_error(owner):
    page = owner.get(PAGE + "?range=7").get_data(as_text=True)
    lines = _fix_first(page)
    texts = [text for _, text in lines]
    assert texts[:3] == [
        "Most exits at step start: 13 sessions left the form there, 41.9% of the 31 that "
        "reached it.",
        "Most abandons at field email (step start): 9 sessions left the form there, 56.2% of "
        "all abandons.",
        "Most abandons caused by an error: doesn't match the pattern at field phone (step "
        "details): 4 of the 15 sessions that saw it left the form after it, 4.0 more than the "
        "field's error-free sessions predict.",
    ]
    # Each line links to its detail, which is on the page.
    for anchor, _ in lines:
        assert f'id="{anchor}"' in page
    assert lines[0][0] == "step-1"
    # The error's key stays one hover away; the worst step is flagged in the funnel.
    assert '<span class="error-type" title="patternMismatch">' in page
    worst = re.search(r'<li class="step worst" id="step-1">.*?</li>', page, re.S).group(0)
    assert "Most exits" in worst and "13 left the form here: an exit rate of 41.9%" in worst


def test_the_funnel_shows_the_rate_between_steps_and_the_drop_offs(owner):
    page = owner.get(PAGE + "?range=7").get_data(as_text=True)
    steps = re.findall(r'<li class="step[^"]*" id="step-\d">(.*?)</li>', page, re.S)
    assert [_text(step) for step in steps] == [
        "1. start Most exits 31 sessions · 100.0% of all 13 left the form here: an exit rate of "
        "41.9% Where its sessions went next Where the sessions at step start went next "
        "NextSessions details18Left the form13",
        "↓ 58.1% went on from the step before 2. details 18 sessions · 58.1% of all 4 left the "
        "form here: an exit rate of 22.2% Where its sessions went next Where the sessions at "
        "step details went next NextSessions done14Left the form4",
        "↓ 77.8% went on from the step before 3. done 14 sessions · 45.2% of all Nobody left "
        "the form here Where its sessions went next Where the sessions at step done went next "
        "NextSessions Completed the form14",
    ]


def test_sorting_and_breakdowns_return_to_their_section(owner):
    page = owner.get(PAGE + "?range=7").get_data(as_text=True)
    sorts = re.findall(r'<th scope="col"[^>]*>\s*<a href="([^"]+)"', page)
    assert sorts and all(link.endswith("#fields") for link in sorts)
    assert 'action="' + PAGE + '#breakdown" class="controls" id="breakdown-form"' in page
    assert 'action="' + PAGE + '#fix-first"' in page
    # The breakdown's own form keeps the rest of the view.
    sorted_page = owner.get(PAGE + "?range=7&sort=returns&dir=asc&device=desktop")
    form = re.search(r'<form[^>]*id="breakdown-form">.*?</form>', sorted_page.text, re.S)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form[0]))
    assert hidden == {
        "range": "7",
        "compare": "on",
        "device": "desktop",
        "sort": "returns",
        "dir": "asc",
    }


def test_sender_text_is_isolated_and_its_control_characters_shown(owner):
    page = owner.get(PAGE + "?range=7").get_data(as_text=True)
    assert "\u202e" not in page
    reasons = re.search(r"<th scope=\"row\"><bdi>start</bdi></th>.*?</tr>", page, re.S).group(0)
    assert '<span class="reason"><bdi>a\\u202e</bdi> 1</span>' in reasons
    assert '<span class="reason"><bdi>back</bdi> 12</span>' in reasons


def test_typed_dates_select_a_custom_range(owner):
    shown = owner.get(PAGE + "?range=30").get_data(as_text=True)
    start = re.search(r'id="from" name="from" type="date" value="([^"]+)"', shown).group(1)
    end = re.search(r'id="to" name="to" type="date" value="([^"]+)"', shown).group(1)
    typed = owner.get(PAGE + f"?range=30&shown={start}/{end}&from=2024-01-01&to={end}").get_data(
        as_text=True
    )
    assert '<h1>known <span class="muted">2024-01-01 to' in typed
    assert '<option value="custom" selected>' in typed
    # A new period chosen with the dates left as shown is that period.
    week = owner.get(PAGE + f"?range=7&shown={start}/{end}&from={start}&to={end}")
    assert '<option value="7" selected>' in week.get_data(as_text=True)


def _numbers(page: str) -> list[int]:
    """Every whole number shown in a cell or card of the page."""
    cells = re.findall(r'<(?:td class="num"|span class="value")>([^<]*)<', page)
    return [int(cell) for cell in cells if cell.strip().isdigit()]


def test_a_share_link_hides_small_numbers_and_the_owner_sees_them(owner, cli):
    mine = owner.get(PAGE + "?range=7").get_data(as_text=True)
    assert any(0 < n < 10 for n in _numbers(mine))
    url = cli("share", ORG, JOURNEY).strip().removeprefix("http://localhost:5000")
    shared = owner.application.test_client().get(url + "?range=7")
    page = shared.get_data(as_text=True)
    assert shared.status_code == 200
    assert not [n for n in _numbers(page) if 0 < n < 10]
    assert "&lt; 10" in page and "Counts under 10 show as" in page
    # 4 drop-offs at "details" are hidden, and so is their rate; 13 at "start" are shown.
    assert "&lt; 10 left the form here</p>" in page
    assert "13 left the form here: an exit rate of 41.9%" in page

    query = re.search(r'href="([^"]*report\.json\?[^"]*)"', page).group(1).replace("&amp;", "&")
    report = owner.application.test_client().get(query).json
    assert report["hiddenBelow"] == 10
    details = next(s for s in report["steps"] if s["stepKey"] == "details")
    assert details["dropoffs"] == "< 10" and details["sessions"] == 18
    assert details["medianSeconds"] is not None
    rows = {
        row["fieldKey"]: row
        for row in csv.DictReader(
            io.StringIO(
                owner.application.test_client()
                .get(query.replace("report.json?", "report.csv?table=fields&"))
                .get_data(as_text=True)
            )
        )
    }
    assert rows["name"]["abandons"] == "< 10" and rows["name"]["abandonShare"] == ""
    assert rows["email"]["abandons"] == "< 10" and rows["email"]["errorRate"] == ""
    assert rows["phone"]["errorSessions"] == "15"

    # The owner's own downloads are exact.
    own = owner.get(PAGE + "report.json?" + query.split("?", 1)[1]).json
    assert "hiddenBelow" not in own
    assert next(s for s in own["steps"] if s["stepKey"] == "details")["dropoffs"] == 4
    assert json.dumps(own).count("< 10") == 0


def test_a_framed_page_hides_small_numbers_too(owner):
    framed = owner.get(PAGE + "?range=7", headers={"Sec-Fetch-Dest": "iframe"})
    assert "&lt; 10 left the form here</p>" in framed.get_data(as_text=True)


def test_the_minimum_is_a_setting(make_app, known, cli):
    app = make_app(JOURNEY_SHARE_MIN_SESSIONS=20)
    url = app.test_cli_runner().invoke(args=["journey", "share", ORG, JOURNEY]).output.strip()
    page = app.test_client().get(url.removeprefix("http://localhost:5000") + "?range=7")
    text = page.get_data(as_text=True)
    assert "&lt; 20" in text and "13 left the form here" not in text

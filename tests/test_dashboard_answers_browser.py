"""The journey page's answer first, in Debian's Chromium under the host's strict CSP: text that
cannot lie, anchors kept by a sort and a breakdown, a layout that holds on a phone, axe-core
without violations, and the small-number rule on a share link.

The host app holds a journey whose answers are known (tests/known_journey.py) beside one
filled with simulated visitors, and sends its own strict Content-Security-Policy beside the
dashboard's; pages must log no console error (a CSP violation is one), load every asset and
request nothing from another host (``visitor`` in tests/live.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from flask_journey import Journey
from tests import known_journey
from tests.known_dashboard import (
    HOST_CSP,
    JOURNEY,
    ORG,
    Site,
    shot,
    sign_in,
    with_host_policy,
)
from tests.live import axe_source, serve_wsgi, visitor

DEMO = "signup"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("answers")
    app = Flask("host", instance_path=str(folder / "instance"))
    app.config.update(
        SECRET_KEY="answers-browser-secret",
        JOURNEY_DATABASE_URL=f"sqlite:///{folder / 'journey.sqlite3'}",
        JOURNEY_REPORT_MAX_STALENESS=0,
    )
    Journey(app)
    with_host_policy(app)

    with serve_wsgi(app) as base:
        site = Site(app, base)
        site.cli("init-db")
        known_journey.fill(app, ORG, JOURNEY)
        site.cli("create-journey", ORG, DEMO, "--allowed-origin", "https://grants.example.com")
        site.cli("set-steps", ORG, DEMO, "about-you", "contact", "payment", "done")
        site.cli("demo-data", ORG, DEMO, "--sessions", "150", "--days", "30")
        site.key = site.cli("create-key", ORG).split()[-1]
        yield site


def _page(site: Site, journey: str, query: str = "") -> str:
    return f"{site.base}/journey/{ORG}/{journey}/{query}"


def _violations(page: Any, source: str) -> list[Any]:
    page.evaluate(source)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]


#: The reasons cell of the step "start": each reason's rendered text, and whether the honest
#: one's words are drawn left to right (its key's box left of its count's).
REASONS = """() => {
  const row = [...document.querySelectorAll('#steps-table tbody tr')]
    .find(r => r.querySelector('th').innerText === 'start');
  const cell = row.querySelector('td.wrap');
  const honest = [...cell.querySelectorAll('.reason')].find(s => s.innerText.startsWith('back'));
  const range = document.createRange();
  range.selectNodeContents(honest.querySelector('bdi'));
  const word = range.getBoundingClientRect();
  range.selectNodeContents(honest.lastChild);
  const count = range.getBoundingClientRect();
  return {
    reasons: [...cell.querySelectorAll('.reason')].map(s => s.innerText),
    cell: cell.innerText,
    neighbours: [...row.querySelectorAll('td')].map(td => td.innerText),
    inOrder: word.right <= count.left + 0.5,
  };
}"""


def test_a_right_to_left_override_does_not_turn_its_neighbour_around(chromium, site):
    with visitor(chromium, site) as context:
        page = context.new_page()
        sign_in(page, site)
        page.goto(_page(site, JOURNEY, "?range=7"))
        shown = page.evaluate(REASONS)
        assert shown["reasons"] == ["a\\u202e 1", "back 12"]
        assert shown["cell"] == "a\\u202e 1, back 12"
        assert shown["inOrder"], "the honest reason is drawn right to left"
        assert shown["neighbours"][:4] == ["31", "100.0%", "–", "13"]
        assert "\u202e" not in page.content()


def test_the_fix_first_lines_link_to_their_detail(chromium, site):
    with visitor(chromium, site) as context:
        page = context.new_page()
        sign_in(page, site)
        response = page.goto(_page(site, JOURNEY, "?range=7"))
        policies = [
            h["value"]
            for h in response.headers_array()
            if h["name"].lower() == "content-security-policy"
        ]
        assert len(policies) == 2 and HOST_CSP in policies  # the host's and the dashboard's
        lines = page.locator("#fix-first li")
        assert lines.nth(0).inner_text().startswith("Most exits at step start: 13 sessions")
        assert "field email" in lines.nth(1).inner_text()
        assert "doesn't match the pattern at field phone" in lines.nth(2).inner_text()
        assert lines.nth(2).locator(".error-type").get_attribute("title") == "patternMismatch"
        lines.nth(2).locator("a").click()
        page.wait_for_url("**#error-*")
        target = page.url.rsplit("#", 1)[1]
        row = page.locator(f"#{target}")
        assert "phone" in row.inner_text()
        assert row.is_visible() and _in_view(page, f"#{target}")


def _in_view(page: Any, selector: str) -> bool:
    return page.evaluate(
        "s => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.top >= -1 && r.top < innerHeight; }",
        selector,
    )


def test_a_sort_and_a_breakdown_return_to_their_section(chromium, site):
    with visitor(chromium, site) as context:
        page = context.new_page()
        sign_in(page, site)
        page.goto(_page(site, DEMO))
        page.locator("#fields-table thead a", has_text="Returns").click()
        page.wait_for_url("**sort=returns**#fields")
        assert page.evaluate("scrollY") > 0 and _in_view(page, "#fields")
        assert page.locator("#fields-table th[aria-sort]").inner_text().startswith("Returns")

        page.select_option("#breakdown-select", "device")
        page.locator("#breakdown-form button").click()
        page.wait_for_url("**breakdown=device**#breakdown")
        assert _in_view(page, "#breakdown") and page.is_visible("#breakdown-table")
        # The sort chosen before is kept, and the filter form keeps the breakdown.
        assert "sort=returns" in page.url
        page.select_option("#filter-device", "desktop")
        page.locator("#controls button[type=submit]").click()
        page.wait_for_url("**device=desktop**#fix-first")
        assert "breakdown=device" in page.url and page.is_visible("#breakdown-table")


def test_typed_dates_select_a_custom_range(chromium, site):
    with visitor(chromium, site) as context:
        page = context.new_page()
        sign_in(page, site)
        page.goto(_page(site, DEMO, "?range=30"))
        end = page.input_value("#to")
        page.fill("#from", "2024-01-01")
        page.locator("#controls button[type=submit]").click()
        page.wait_for_url("**from=2024-01-01**")
        assert page.locator("#range").input_value() == "custom"
        assert page.text_content("h1 .muted") == f"2024-01-01 to {end}"


#: Every SVG text's rendered size in CSS px (its font size times the chart's scale).
TEXT_SIZES = """() => [...document.querySelectorAll('svg text')].map(t =>
  parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)"""
#: How many cards share the last card's row, and how many rows there are.
LAST_ROW = """() => {
  const tops = [...document.querySelectorAll('.cards .card')].map(c => Math.round(c.offsetTop));
  return [tops.filter(t => t === tops[tops.length - 1]).length, new Set(tops).size];
}"""
#: Each label whose bottom is below the top of the control it names.
LABELS_BESIDE = """() => [...document.querySelectorAll('form label[for]')].filter(label => {
  const control = document.getElementById(label.htmlFor);
  return label.getBoundingClientRect().bottom > control.getBoundingClientRect().top + 0.5;
}).map(label => label.htmlFor)"""


@pytest.mark.parametrize("width", [390, 800, 1280])
def test_the_layout_holds_from_a_phone_to_a_desktop(chromium, site, width):
    with visitor(chromium, site, viewport={"width": width, "height": 900}) as context:
        page = context.new_page()
        sign_in(page, site)
        page.goto(_page(site, DEMO, "?breakdown=device"))
        sizes = page.evaluate(TEXT_SIZES)
        assert sizes and min(sizes) >= 11, sizes
        together, rows = page.evaluate(LAST_ROW)
        assert together > 1 or rows == 1
        assert page.evaluate(LABELS_BESIDE) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"answers-{width}")
        page.goto(f"{site.base}/journey/{ORG}/")
        table = page.locator("#journeys-table").bounding_box()
        assert table["x"] + table["width"] <= width
        assert page.evaluate(
            "() => { const s = document.querySelector('#journeys-table').closest('.scroll');"
            " return s.scrollWidth <= s.clientWidth + 1; }"
        )


def test_every_page_passes_axe_core(chromium, site):
    source = axe_source()
    url = site.cli("share", ORG, JOURNEY, "--base-url", site.base).strip()
    with visitor(chromium, site) as context:
        page = context.new_page()
        sign_in(page, site)
        for address in (
            f"{site.base}/journey/{ORG}/",
            _page(site, JOURNEY, "?range=7"),
            _page(site, DEMO, "?breakdown=source&sort=abandons&dir=asc"),
            url + "?range=7&breakdown=device",
        ):
            for width in (1280, 390):
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(address)
                assert _violations(page, source) == [], (address, width)


#: The numbers of the page's cells, cards and funnel.
SHOWN_NUMBERS = """() => [...document.querySelectorAll(
  'td.num, .card .value, .card .previous, .step-count strong, .dropped, .bar-value')]
  .map(e => e.innerText.trim())"""


def test_a_share_link_shows_small_numbers_as_less_than_ten(chromium, site):
    url = site.cli("share", ORG, JOURNEY, "--base-url", site.base).strip()
    with visitor(chromium, site) as context:
        page = context.new_page()
        page.goto(url + "?range=7")
        shown = page.evaluate(SHOWN_NUMBERS)
        assert "< 10" in shown
        small = [text for text in shown if text.split(" ")[0] in [str(n) for n in range(1, 10)]]
        assert small == []
        assert page.locator("#step-2 .dropped").inner_text() == "< 10 left the form here"
        shot(page, "answers-shared")
        sign_in(page, site)
        page.goto(_page(site, JOURNEY, "?range=7"))
        assert page.locator("#step-2 .dropped").inner_text().startswith("4 left the form here")

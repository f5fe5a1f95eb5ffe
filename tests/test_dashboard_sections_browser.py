"""The journey page's sections on the numbers of real forms, in Debian's Chromium under the
host's strict CSP: the fix-first lines name the right step, field and error and land on their
detail, a step's transitions open on demand without a script, the histogram's text is readable
on a phone, nothing overflows, axe-core finds no violation, and a share link hides the small
numbers.

The report is the known journey's (tests/known_journey.py) with the numbers of real forms laid
over it (tests/forms_report.py: answers written out), served through a monkeypatched report
function; pages must log no console error (a CSP violation is one), load every asset and
request nothing from another host (``visitor`` in tests/live.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from flask_journey import Journey
from flask_journey.dashboard.answers import error_anchor
from tests import forms_report, known_journey
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

#: Every SVG text's rendered size in CSS px (its font size times the chart's scale).
TEXT_SIZES = """() => [...document.querySelectorAll('svg text')].map(t =>
  parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("sections")
    app = Flask("host", instance_path=str(folder / "instance"))
    app.config.update(
        SECRET_KEY="sections-browser-secret",
        JOURNEY_DATABASE_URL=f"sqlite:///{folder / 'journey.sqlite3'}",
        JOURNEY_REPORT_MAX_STALENESS=0,
    )
    Journey(app)
    with_host_policy(app)

    with pytest.MonkeyPatch.context() as patch, serve_wsgi(app) as base:
        forms_report.serve(patch)
        site = Site(app, base)
        site.cli("init-db")
        known_journey.fill(app, ORG, JOURNEY)
        site.key = site.cli("create-key", ORG).split()[-1]
        yield site


def _page(site: Site) -> str:
    return f"{site.base}/journey/{ORG}/{JOURNEY}/?range=7"


def _in_view(page: Any, selector: str) -> bool:
    return page.evaluate(
        "s => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.top >= -1 && r.top < innerHeight; }",
        selector,
    )


def test_the_fix_first_lines_name_the_step_field_and_error_and_land_on_them(chromium, site):
    with visitor(chromium, site) as context:
        page = context.new_page()
        sign_in(page, site)
        response = page.goto(_page(site))
        policies = [
            h["value"]
            for h in response.headers_array()
            if h["name"].lower() == "content-security-policy"
        ]
        assert len(policies) == 2 and HOST_CSP in policies
        lines = page.locator("#fix-first li")
        assert lines.nth(0).inner_text().startswith("Most exits at step details: 9 sessions")
        assert lines.nth(1).inner_text().startswith("Most abandons at field email")
        assert (
            lines.nth(2)
            .inner_text()
            .startswith("Most abandons caused by an error: wrong format at field email")
        )
        assert lines.nth(3).inner_text().startswith("Completion rate fell from 70.0% to 45.2%")

        lines.nth(2).locator("a").click()
        page.wait_for_url("**#error-*")
        target = "#" + page.url.rsplit("#", 1)[1]
        assert page.locator(f"{target} th").inner_text() == "wrong format"
        assert page.locator(f"{target} td").nth(0).inner_text() == "email"
        assert _in_view(page, target)
        # The worst error is the table's first row.
        assert (
            page.locator("#error-outcomes-table tbody tr").first.get_attribute("id") == target[1:]
        )

        page.locator("#fix-first li").nth(0).locator("a").click()
        page.wait_for_url("**#step-2")
        assert _in_view(page, "#step-2")
        assert page.locator("#step-2 .flag").inner_text() == "Most exits"
        assert page.locator("#step-2 .tag").inner_text().startswith("optional")


def test_a_steps_transitions_open_on_demand(chromium, site):
    with visitor(chromium, site) as context:
        page = context.new_page()
        sign_in(page, site)
        page.goto(_page(site))
        table = page.locator("#step-1-next table")
        assert not table.is_visible()
        page.locator("#step-1-next summary").click()
        assert table.is_visible()
        assert table.locator("tbody tr").all_inner_texts() == [
            "details\t18",
            "Left the form\t7",
            "Other steps\t6",
        ]


#: The cards of each group: how many share the last card's row, and how many rows there are.
LAST_ROWS = """() => [...document.querySelectorAll('.cards')].map(group => {
  const tops = [...group.querySelectorAll('.card')].map(c => Math.round(c.offsetTop));
  return [tops.filter(t => t === tops[tops.length - 1]).length, new Set(tops).size];
})"""


@pytest.mark.parametrize("width", [390, 1280])
def test_the_sections_hold_from_a_phone_to_a_desktop(chromium, site, width):
    with visitor(chromium, site, viewport={"width": width, "height": 900}) as context:
        page = context.new_page()
        sign_in(page, site)
        page.goto(_page(site))
        assert page.is_visible("#time-sessions-chart") and page.is_visible("#applications")
        sizes = page.evaluate(TEXT_SIZES)
        assert sizes and min(sizes) >= 11, sizes
        for together, rows in page.evaluate(LAST_ROWS):
            assert together > 1 or rows == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"sections-{width}")


def test_the_sections_pass_axe_core_signed_in_and_shared(chromium, site):
    source = axe_source()
    url = site.cli("share", ORG, JOURNEY, "--base-url", site.base).strip()
    with visitor(chromium, site) as context:
        page = context.new_page()
        sign_in(page, site)
        for address in (_page(site), url + "?range=7"):
            for width in (1280, 390):
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(address)
                page.locator("#step-1-next summary").click()
                page.evaluate(source)
                result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
                violations = [
                    (v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
                ]
                assert violations == [], (address, width)


def test_a_share_link_hides_the_small_numbers_of_the_sections(chromium, site):
    url = site.cli("share", ORG, JOURNEY, "--base-url", site.base).strip()
    with visitor(chromium, site) as context:
        page = context.new_page()
        page.goto(url + "?range=7")
        assert page.locator("#step-2 .dropped").inner_text() == "< 10 left the form here"
        assert page.locator("#applications-saved .value").inner_text() == "< 10"
        assert page.locator("#applications-started .value").inner_text() == "25"
        email = page.locator("#" + error_anchor("start", "email", "typeMismatch"))
        assert email.locator("td").nth(2).inner_text() == "< 10"  # its sessions
        assert email.locator("td").nth(4).inner_text() == "< 10"  # left after it
        assert email.locator("td").nth(5).inner_text() == "–"  # its excess abandons
        shot(page, "sections-shared")

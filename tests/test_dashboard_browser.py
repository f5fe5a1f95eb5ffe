"""The dashboard in Debian's Chromium (Playwright) against a real server on a loopback port.

A host app with simulated visitors (``flask journey demo-data``) is served from a thread; a
second server on another port plays the host's own site that embeds a share link. Each page
must load under its strict Content-Security-Policy without console errors, request nothing
from another host, and pass axe-core's checks; a screenshot of each page is kept in
``test-artifacts/dashboard/`` (gitignored).
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from werkzeug.wrappers import Response

from flask_journey import Journey
from tests.live import axe_source, browser_context, launch_chromium, serve_wsgi, visitor

ORG = "acme"
JOURNEY = "signup"
STEPS = ("about-you", "contact", "payment", "done")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"


@dataclass
class Site:
    app: Flask
    base: str
    embedder: str
    key: str
    pages: list[str] = field(default_factory=list)

    def cli(self, *args: str) -> str:
        result = self.app.test_cli_runner().invoke(args=["journey", *args])
        assert result.exit_code == 0, result.output
        return result.output

    def api(self, query: str) -> bytes:
        """The report API's answer, as a script would fetch it."""
        call = urllib.request.Request(
            f"{self.base}/api/journeys/{JOURNEY}/report{query}",
            headers={"Authorization": f"Bearer {self.key}"},
        )
        with urllib.request.urlopen(call) as response:
            return response.read()


def _embedding_site(environ: dict, start_response: Callable) -> Any:
    """The host's own site: a page that frames the URL in its ``src`` parameter."""
    src = environ.get("QUERY_STRING", "").partition("src=")[2]
    src = urllib.parse.unquote(src)
    body = (
        f"<!doctype html><title>Embedding</title><h1>Our admin</h1>"
        f'<iframe title="dashboard" src="{src}" width="900" height="600"></iframe>'
    )
    return Response(body, mimetype="text/html")(environ, start_response)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("dashboard")
    app = Flask("host", instance_path=str(folder / "instance"))
    app.config.update(
        SECRET_KEY="browser-test-secret",
        JOURNEY_DATABASE_URL=f"sqlite:///{folder / 'journey.sqlite3'}",
        JOURNEY_REPORT_MAX_STALENESS=0,
    )
    journey = Journey(app)

    @journey.dashboard_access
    def staff(org) -> bool:
        # Stands in for the host's own login: a header only the test's "staff" browser sends.
        return request.headers.get("X-Test-Staff") == org.slug

    with serve_wsgi(_embedding_site) as embedder_base, serve_wsgi(app) as base:
        # The embedding site is reached as localhost: another origin than 127.0.0.1.
        embedder = embedder_base.replace("127.0.0.1", "localhost")
        site = Site(app, base, embedder, "")
        site.cli("init-db")
        site.cli("create-org", ORG)
        site.cli("create-journey", ORG, JOURNEY, "--allowed-origin", embedder)
        site.cli("set-steps", ORG, JOURNEY, *STEPS)
        site.cli("demo-data", ORG, JOURNEY, "--sessions", "200", "--days", "45")
        site.key = site.cli("create-key", ORG).split()[-1]
        yield site


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser


def _sign_in(page: Any, site: Site) -> None:
    page.goto(f"{site.base}/journey/sign-in")
    page.fill("#key", site.key)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{site.base}/journey/{ORG}/")


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _headline(page: Any, key: str) -> int:
    return int(page.text_content(f"#headline-{key} .value"))


def _journey_url(site: Site) -> str:
    return f"{site.base}/journey/{ORG}/{JOURNEY}/"


def test_denied_without_a_key_then_signed_in_with_one(chromium, site):
    urls: list[str] = []
    with visitor(chromium, site) as context:
        context.on("request", lambda r: urls.append(r.url))
        page = context.new_page()
        denied = page.goto(_journey_url(site))
        assert denied.status == 403
        assert "You cannot see this dashboard" in page.text_content("h1")
        _shot(page, "denied")
        page.goto(f"{site.base}/journey/sign-in")
        _shot(page, "sign-in")
        page.fill("#key", site.key[:-3] + "abc")
        page.click("form.stack button[type=submit]")
        assert "not an active secret key" in page.text_content("[role=alert]")
        _sign_in(page, site)
        assert page.is_visible(f"text={JOURNEY}")
        _shot(page, "organization")
        page.click(f"a:text('{JOURNEY}')")
        page.wait_for_url(f"{_journey_url(site)}?range=30")
        assert page.locator("ol.funnel li.step").count() == len(STEPS)
        assert page.locator("#fields-table tbody tr").count() == 9
        _shot(page, "journey")
        cookie = next(c for c in context.cookies() if c["name"] == "journey_dashboard")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        assert site.key not in json.dumps(context.cookies())
        page.click("text=Sign out")
        page.wait_for_url(f"{site.base}/journey/sign-in")
        assert page.goto(_journey_url(site)).status == 403
    assert urls and not [url for url in urls if site.key in url or "sk_" in url]


def test_the_hosts_hook_allows_and_denies(chromium, site):
    with visitor(chromium, site, extra_http_headers={"X-Test-Staff": ORG}) as context:
        assert context.new_page().goto(_journey_url(site)).status == 200
    with visitor(chromium, site, extra_http_headers={"X-Test-Staff": "someone-else"}) as context:
        assert context.new_page().goto(_journey_url(site)).status == 403


def test_filters_range_and_compare_change_the_numbers_as_the_report_api_does(chromium, site):
    with visitor(chromium, site) as context:
        page = context.new_page()
        _sign_in(page, site)
        page.goto(_journey_url(site))
        everyone = _headline(page, "sessions")
        page.select_option("#filter-device", "mobile")
        page.click("form.controls button[type=submit]")
        page.wait_for_url("**device=mobile**")
        mobile = json.loads(
            site.api(
                f"?from={page.input_value('#from')}&to={page.input_value('#to')}&device=mobile"
            )
        )
        assert _headline(page, "sessions") == mobile["totals"]["sessions"] < everyone
        assert _headline(page, "completions") == mobile["totals"]["completions"]
        _shot(page, "journey-mobile-devices")

        page.select_option("#filter-device", "")
        page.select_option("#range", "7")
        page.click("form.controls button[type=submit]")
        page.wait_for_url("**range=7**")
        week = json.loads(
            site.api(f"?from={page.input_value('#from')}&to={page.input_value('#to')}")
        )
        assert week["to"] == page.input_value("#to")
        assert _headline(page, "sessions") == week["totals"]["sessions"] < everyone

        assert page.locator(".previous").count() == 7
        page.select_option("#compare", "off")
        page.click("form.controls button[type=submit]")
        page.wait_for_url("**compare=off**")
        assert page.locator(".previous").count() == 0

        page.select_option("#breakdown-select", "device")
        page.click("#breakdown-form button[type=submit]")
        page.wait_for_url("**breakdown=device**")
        assert page.is_visible("#breakdown-table")


def test_the_csv_download_is_the_report_apis(chromium, site):
    with visitor(chromium, site, accept_downloads=True) as context:
        page = context.new_page()
        _sign_in(page, site)
        page.goto(_journey_url(site) + "?range=90&language=en-GB")
        link = page.locator("section[aria-labelledby=fields-title] .downloads a", has_text="CSV")
        with page.expect_download() as download:
            link.click()
        got = Path(download.value.path()).read_bytes()
        query = link.get_attribute("href").split("?", 1)[1]
        assert got == site.api(f"?format=csv&{query}")
        assert b"fieldKey" in got.splitlines()[0]


def test_a_share_link_works_without_signing_in_until_revoked(chromium, site):
    url = site.cli("share", ORG, JOURNEY, "--expires", "1d", "--base-url", site.base).strip()
    with visitor(chromium, site) as context:
        page = context.new_page()
        assert page.goto(url).status == 200
        assert page.is_visible("text=A read-only shared view")
        assert page.locator("#fields-table tbody tr").count() == 9
        page.select_option("#filter-os", "iOS")
        page.click("form.controls button[type=submit]")
        page.wait_for_url("**os=iOS**")
        assert page.url.startswith(url)
        _shot(page, "shared")
    lookup = site.cli("shares", ORG, JOURNEY).split()[0]
    site.cli("revoke-share", ORG, JOURNEY, lookup)
    with browser_context(chromium) as context:
        page = context.new_page()
        assert page.goto(url).status == 404
        assert "does not work" in page.text_content("h1")


def test_only_the_journeys_origins_may_frame_it(chromium, site):
    url = site.cli("share", ORG, JOURNEY, "--base-url", site.base).strip()
    src = urllib.parse.quote(url, safe="")
    with browser_context(chromium) as context:
        page = context.new_page()
        page.goto(f"{site.embedder}/?src={src}")
        framed = page.frame_locator("iframe")
        assert framed.locator("h1").first.text_content().startswith(JOURNEY)
        _shot(page, "embedded")

        unlisted = site.embedder.replace("localhost", "127.0.0.1")
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text))
        page.goto(f"{unlisted}/?src={src}")
        page.wait_for_load_state("load")
        frame = page.frames[1]
        assert frame.url.startswith("chrome-error://") or not frame.query_selector("h1")
        assert any("frame-ancestors" in text for text in refused), refused


def test_a_signed_in_page_framed_by_an_allowed_origin_is_read_only(chromium, site):
    # The embedder on 127.0.0.1 is the same site as the dashboard (ports do not make sites),
    # so the SameSite=Lax sign-in cookie reaches the frame: allowed, it shows the read-only view.
    same_site = site.embedder.replace("localhost", "127.0.0.1")
    site.cli("set-origins", ORG, JOURNEY, site.embedder, same_site)
    try:
        with browser_context(chromium) as context:
            page = context.new_page()
            _sign_in(page, site)
            page.goto(_journey_url(site))
            assert page.locator("text=Create a share link").count() == 1
            src = urllib.parse.quote(_journey_url(site), safe="")
            page.goto(f"{same_site}/?src={src}")
            framed = page.frame_locator("iframe")
            assert framed.locator("h1").first.text_content().startswith(JOURNEY)
            assert framed.locator("text=Create a share link").count() == 0
            assert framed.locator("#share-links").count() == 0
            _shot(page, "embedded-signed-in")
    finally:
        site.cli("set-origins", ORG, JOURNEY, site.embedder)


def test_pages_pass_axe_core_and_fit_a_phone(chromium, site):
    source = axe_source()
    with visitor(chromium, site) as context:
        page = context.new_page()
        _sign_in(page, site)
        for path in (
            f"/journey/{ORG}/",
            f"/journey/{ORG}/{JOURNEY}/?breakdown=source",
            "/journey/sign-in",
        ):
            page.goto(site.base + path)
            page.evaluate(source)
            result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            serious = [
                (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                for v in result["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            assert serious == [], (path, serious)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(_journey_url(site))
        too_wide = page.evaluate(
            "() => [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > innerWidth + 1"
            " && !e.parentElement.closest('.scroll'))"
            ".map(e => e.tagName + '.' + e.className + '#' + e.id)"
        )
        assert too_wide == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        _shot(page, "journey-phone")


def _serious_axe_violations(page: Any, source: str) -> list[Any]:
    page.evaluate(source)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def test_the_trend_chart_draws_sessions_and_the_completion_rate(chromium, site):
    with visitor(chromium, site, accept_downloads=True) as context:
        page = context.new_page()
        _sign_in(page, site)
        page.goto(_journey_url(site) + "?range=30")
        report = json.loads(
            site.api(f"?from={page.input_value('#from')}&to={page.input_value('#to')}")
        )
        points = report["trend"]["points"]
        chart = page.locator("#trend-chart")
        assert chart.is_visible()
        assert chart.locator("title").text_content() == "Sessions and completion rate by day"
        assert "completion rate (completions ÷ starters)" in chart.locator("desc").text_content()
        assert _percent(report["totals"]["completionRate"]) in chart.locator("desc").text_content()
        # A column for every day's sessions, a dot for every day that has starters.
        assert chart.locator("rect.column").count() == len(points)
        assert chart.locator("circle.rate-dot").count() == sum(1 for p in points if p["starters"])
        assert chart.locator("path.rate-line").get_attribute("d").startswith("M")
        assert page.is_visible("text=Completion rate: completions ÷ starters")

        page.click("text=The trend as a table")
        rows = page.locator("#trend-table tbody tr")
        assert rows.count() == len(points)
        for i in (0, len(points) // 2, len(points) - 1):
            cells = rows.nth(i).locator("th, td").all_text_contents()
            point = points[i]
            rate = point["completions"] / point["starters"] if point["starters"] else None
            assert cells == [
                point["period"],
                str(point["sessions"]),
                str(point["starters"]),
                str(point["completions"]),
                _percent(rate),
            ]
        link = page.locator("section[aria-labelledby=trend-title] .downloads a", has_text="CSV")
        with page.expect_download() as download:
            link.click()
        got = Path(download.value.path()).read_bytes()
        assert got == site.api(f"?format=csv&{link.get_attribute('href').split('?', 1)[1]}")
        assert got.splitlines()[0] == b"period,sessions,starters,completions,completionRate"


def test_the_breakdown_has_a_chart_beside_its_table(chromium, site):
    with visitor(chromium, site) as context:
        page = context.new_page()
        _sign_in(page, site)
        page.goto(_journey_url(site) + "?range=90&breakdown=device")
        report = json.loads(
            site.api(
                f"?from={page.input_value('#from')}&to={page.input_value('#to')}&breakdown=device"
            )
        )
        groups = report["breakdownValues"]
        assert len(groups) > 1
        chart = page.locator("#breakdown-chart")
        assert chart.is_visible()
        assert (
            chart.locator("figcaption")
            .text_content()
            .startswith("Completion rate (completions ÷ starters) by device")
        )
        bars = chart.locator("li")
        assert bars.count() == len(groups)
        for i, group in enumerate(groups):
            bar = bars.nth(i)
            assert bar.locator(".bar-label").inner_text() == group["value"]
            rate = group["totals"]["completionRate"]
            assert bar.locator(".bar-value").inner_text().startswith(_percent(rate))
            # Bars are drawn to scale: each bar's length is its rate of the full 0-100% track.
            full = bar.locator("rect.rail").bounding_box()["width"]
            drawn = bar.locator("rect.fill").bounding_box()["width"] / full
            assert abs(drawn - (rate or 0)) < 0.01
        table = page.locator("#breakdown-table")
        assert table.is_visible()
        last = table.locator("tbody tr").last.locator("th, td").all_text_contents()
        assert last == ["Completion rate"] + [
            _percent(g["totals"]["completionRate"]) for g in groups
        ]
        _shot(page, "journey-breakdown")


def test_share_links_are_listed_and_revoked_on_the_page_without_javascript(chromium, site):
    source = axe_source()
    with visitor(chromium, site, java_script_enabled=False) as context:
        page = context.new_page()
        _sign_in(page, site)
        page.goto(_journey_url(site))
        page.select_option("#expires", "7d")
        page.click("text=Create a share link")
        url = page.input_value("#share-url")
        lookup = url.rstrip("/").rsplit("/", 1)[1].split(".")[0]
        assert page.is_visible(f"code:text('{lookup}')")
        page.click("text=journey's share links")
        page.wait_for_url(f"{_journey_url(site)}shares/")
        row = page.locator(f"#share-{lookup}")
        cells = row.locator("th, td").all_text_contents()
        assert cells[:2] == [lookup, "active"]
        created, expires = (dt.datetime.strptime(c, "%Y-%m-%d %H:%M UTC") for c in cells[2:4])
        assert dt.timedelta(days=7) - dt.timedelta(minutes=1) <= expires - created
        assert expires - created <= dt.timedelta(days=7, minutes=1)
        assert cells[4] == "–"
        with browser_context(chromium) as other:
            assert other.new_page().goto(url).status == 200
        listed = site.cli("shares", ORG, JOURNEY)
        assert f"{lookup}  active" in listed
        _shot(page, "share-links")

        row.locator("button", has_text="Revoke").click()
        page.wait_for_url(f"**/shares/?revoked={lookup}")
        assert lookup in page.text_content("#revoked-notice")
        row = page.locator(f"#share-{lookup}")
        assert row.locator("td").nth(0).text_content() == "revoked"
        assert row.locator("button").count() == 0
        assert f"{lookup}  revoked" in site.cli("shares", ORG, JOURNEY)
    with browser_context(chromium) as other:
        refused = other.new_page()
        assert refused.goto(url).status == 404
        assert "does not work" in refused.text_content("h1")
        # A share link's viewer is not signed in: the list is not theirs to see.
        assert refused.goto(f"{_journey_url(site)}shares/").status == 403
    with visitor(chromium, site) as context:
        page = context.new_page()
        _sign_in(page, site)
        page.goto(f"{_journey_url(site)}shares/")
        assert _serious_axe_violations(page, source) == []


#: Every table cell whose right edge lies outside its scroll box (if it has one) or its card (its
#: panel, or the page's main column for a table outside one).
CUT_OFF = """() => [...document.querySelectorAll('table.data')].flatMap(table => {
  const box = (table.closest('.scroll') || table).getBoundingClientRect();
  const card = (table.closest('.panel') || table.closest('main')).getBoundingClientRect();
  const right = Math.min(box.right, card.right) + 0.5;
  return [...table.querySelectorAll('th, td')]
    .filter(cell => cell.getBoundingClientRect().right > right)
    .map(cell => (table.id || table.caption.textContent) + ': ' + cell.textContent.trim());
})"""


def test_no_column_is_cut_off_at_1280_px_and_a_phone_sees_where_tables_scroll(chromium, site):
    source = axe_source()
    with visitor(chromium, site, viewport={"width": 1280, "height": 900}) as context:
        page = context.new_page()
        _sign_in(page, site)
        site.cli("share", ORG, JOURNEY)
        for path in (
            f"{ORG}/{JOURNEY}/?range=90",
            f"{ORG}/{JOURNEY}/?range=90&breakdown=source",
            f"{ORG}/{JOURNEY}/?range=30&sort=fieldKey&dir=asc",
            f"{ORG}/{JOURNEY}/shares/",
            f"{ORG}/",
        ):
            page.goto(f"{site.base}/journey/{path}")
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            assert page.locator("table.data").count() > 0
            assert page.evaluate(CUT_OFF) == [], path
            scrolled = page.evaluate(
                "() => [...document.querySelectorAll('.scroll')]"
                ".filter(s => s.scrollWidth > s.clientWidth + 1).length"
            )
            assert scrolled == 0, path
        assert page.locator(".scroll-hint").first.is_hidden()
        _shot(page, "journey-1280")
        page.goto(f"{_journey_url(site)}?breakdown=source")
        assert _serious_axe_violations(page, source) == []

        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{_journey_url(site)}?breakdown=source")
        cues = page.evaluate(
            "() => [...document.querySelectorAll('.scroll')]"
            ".filter(s => s.scrollWidth > s.clientWidth + 1)"
            ".map(s => [s.getAttribute('aria-label'), getComputedStyle(s).backgroundImage])"
        )
        # The field table has ten columns: on a phone it scrolls sideways, with a shadow cue.
        assert "Field friction table" in [label for label, _ in cues]
        assert all(image.count("gradient(") == 4 for _, image in cues), cues
        hint = page.locator("section[aria-labelledby=fields-title] .scroll-hint")
        assert hint.is_visible() and "sideways" in hint.text_content()
        _shot(page, "journey-phone-tables")

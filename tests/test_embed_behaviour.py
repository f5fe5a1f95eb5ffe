"""The embed script's rules, each shown in Chromium on a small page of the example app's origin.

Each page is written here and served by Playwright at the live app's origin (``/t/...``); the
script, the ingest endpoint and the database are the real ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from markupsafe import escape

from .live import (
    JOURNEY,
    ORG,
    Live,
    browser_context,
    launch_chromium,
    serve_demo,
    wait_for,
)

STUB = (
    "<script>window.JourneyEmbed=window.JourneyEmbed||{q:[],"
    "track:function(){this.q.push(arguments)},flush:function(){}}</script>"
)
FORM = """
<section data-journey-step="one"><label>F <input id="f" name="f"></label>
  <label>G <input id="g" name="g"></label></section>
<section data-journey-step="two" hidden><input id="h" name="h"></section>
<p id="done" data-journey-success hidden>Thanks</p>
"""
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
COUNT_SENDS = """
window.__sent = 0;
const realFetch = window.fetch;
window.fetch = function () { window.__sent++; return realFetch.apply(this, arguments); };
if (navigator.sendBeacon) {
  const realBeacon = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = function (url, body) { window.__sent++; return realBeacon(url, body); };
}
"""


def page_html(body: str = FORM, head: str = "", **attrs: str) -> str:
    """A host page carrying the embed script, with extra ``data-*`` attributes."""
    script_attrs = {
        "data-org": ORG,
        "data-journey": JOURNEY,
        "data-endpoint": "/api/ingest",
        **attrs,
    }
    rendered = " ".join(f'{name}="{escape(value)}"' for name, value in script_attrs.items())
    return (
        f"<!doctype html><html><head><title>Test page</title>{head}"
        f'<script src="/embed/v1.js" {rendered} async></script></head><body>{body}</body></html>'
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def live(tmp_path) -> Iterator[Live]:
    with serve_demo(tmp_path, JOURNEY_KEEP_QUERY_VALUES=True) as live:
        yield live


@pytest.fixture
def visitor(browser, live) -> Iterator[Any]:
    """A browser context whose ``/t/...`` pages are ``visitor.pages_html[path]``."""
    with browser_context(browser) as context:
        context.pages_html = {}

        def fulfil(route):
            path = "/" + route.request.url.split("/", 3)[3].split("?")[0].split("#")[0]
            route.fulfill(status=200, content_type="text/html", body=context.pages_html[path])

        context.route(live.url("/t/**"), fulfil)
        yield context


def open_page(visitor, live: Live, path: str = "/t/page", html: str | None = None):
    visitor.pages_html.setdefault(path.split("?")[0].split("#")[0], html or page_html())
    page = visitor.new_page()
    page.goto(live.url(path))
    page.wait_for_function("window.JourneyEmbed && JourneyEmbed.loaded")
    return page


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def test_calls_made_before_the_script_loads_are_replayed(visitor, live):
    head = (
        STUB + "<script>JourneyEmbed.track('step_view', {stepKey: 'early'});"
        "JourneyEmbed.track('not_a_tag', {});</script>"
    )
    page = open_page(visitor, live, html=page_html(body="<p>No steps</p>", head=head))
    page.evaluate("JourneyEmbed.flush()")
    events = wait_for(live, lambda evs: "step_view" in types(evs))
    assert [(e["type"], e["step_key"]) for e in events] == [
        ("session_start", None),
        ("page_view", None),
        ("step_view", "early"),
    ]


def test_without_storage_the_script_still_records_one_session(visitor, live):
    visitor.add_init_script("""
        for (const name of ["localStorage", "sessionStorage"]) {
          Object.defineProperty(window, name, {
            get() { throw new DOMException("blocked", "SecurityError"); },
          });
        }""")
    page = open_page(visitor, live)
    page.focus("#f")
    page.evaluate("JourneyEmbed.flush()")
    events = wait_for(live, lambda evs: "field_focus" in types(evs))
    assert types(events) == ["session_start", "page_view", "step_view", "field_focus"]
    assert len({(e["session_id"], e["client_id"]) for e in events}) == 1
    assert all(e["session_id"] and e["client_id"] for e in events)


def test_ids_are_random_uuids_on_a_page_without_a_secure_context(visitor, live):
    # A plain-http page (not localhost) has no crypto.randomUUID.
    visitor.add_init_script("delete Crypto.prototype.randomUUID;")
    page = open_page(visitor, live)
    assert page.evaluate("typeof crypto.randomUUID") == "undefined"
    page.focus("#f")
    page.evaluate("JourneyEmbed.flush()")
    events = wait_for(live, lambda evs: "field_focus" in types(evs))
    ids = {e["session_id"] for e in events} | {e["client_id"] for e in events}
    ids |= {e["event_id"] for e in events}
    assert len(ids) == len(events) + 2
    assert all(UUID4.match(value) for value in ids), ids


def test_a_new_tab_starts_a_new_session_for_the_same_client(visitor, live):
    for _ in range(2):
        open_page(visitor, live).evaluate("JourneyEmbed.flush()")
    events = wait_for(live, lambda evs: types(evs).count("session_start") == 2)
    assert len({e["session_id"] for e in events}) == 2
    assert len({e["client_id"] for e in events}) == 1


def test_history_and_hash_navigation_are_page_views_with_query_values_dropped(visitor, live):
    page = open_page(visitor, live, "/t/spa")
    page.evaluate("location.hash = 'faq'")
    page.wait_for_function("location.hash === '#faq'")
    page.evaluate("""() => {
        history.pushState({}, "", "/t/next?token=abc123&step=2");
        history.replaceState({}, "", location.href);
        JourneyEmbed.flush();
    }""")
    events = wait_for(live, lambda evs: types(evs).count("page_view") == 3)
    views = [e for e in events if e["type"] == "page_view"]
    # The script sends "?token=&step="; the server then drops the sensitive key as well.
    assert [e["url"].split("/", 3)[3] for e in views] == ["t/spa", "t/spa#faq", "t/next?step="]
    assert any("/t/next?token=&step=" in body for body in live.bodies)
    assert all("abc123" not in body for body in live.bodies)


def test_query_values_are_sent_when_the_site_opts_in(visitor, live):
    html = page_html(**{"data-keep-query": "true"})
    open_page(visitor, live, "/t/page?ref=newsletter", html).evaluate("JourneyEmbed.flush()")
    events = wait_for(live, lambda evs: "page_view" in types(evs))
    assert events[1]["url"].endswith("/t/page?ref=newsletter")


def test_steps_success_and_aria_invalid_follow_what_the_page_shows(visitor, live):
    page = open_page(visitor, live)
    for script in (
        "document.getElementById('f').setAttribute('aria-invalid', 'true')",
        "document.getElementById('f').setAttribute('aria-invalid', 'true')",  # still invalid
        "document.getElementById('f').setAttribute('aria-invalid', 'false')",
        "document.querySelector('[data-journey-step=one]').hidden = true;"
        "document.querySelector('[data-journey-step=two]').hidden = false",
        "document.getElementById('done').hidden = false",
        "document.getElementById('f').setAttribute('aria-invalid', 'true')",
    ):
        page.evaluate(script)
    page.evaluate("JourneyEmbed.flush()")
    events = wait_for(live, lambda evs: types(evs).count("validation_error") == 2)
    assert [(e["type"], e["step_key"], e["field_key"], e["error_type"]) for e in events] == [
        ("session_start", None, None, None),
        ("page_view", None, None, None),
        ("step_view", "one", None, None),
        ("validation_error", "one", "f", "aria-invalid"),
        ("step_view", "two", None, None),
        ("submit_success", "two", None, None),
        ("validation_error", "two", "f", "aria-invalid"),
    ]


@pytest.mark.parametrize(
    ("attrs", "signal", "sends"),
    [
        ({"data-respect-dnt": "true"}, "", True),
        ({"data-respect-dnt": "true"}, "globalPrivacyControl: {get: () => true}", False),
        ({"data-respect-dnt": "true"}, "doNotTrack: {get: () => '1'}", False),
        ({}, "globalPrivacyControl: {get: () => true}", True),
    ],
    ids=["respecting-no-signal", "respecting-gpc", "respecting-dnt", "not-asked-gpc"],
)
def test_do_not_track_and_global_privacy_control_are_honoured_when_asked(
    visitor, live, attrs, signal, sends
):
    visitor.add_init_script(f"Object.defineProperties(Navigator.prototype, {{{signal}}});")
    visitor.add_init_script(COUNT_SENDS)
    page = open_page(visitor, live, html=page_html(**attrs))
    page.fill("#f", "typed")
    sent = page.evaluate("""() => {
        JourneyEmbed.track("step_view", {stepKey: "manual"});
        JourneyEmbed.flush();
        window.dispatchEvent(new PageTransitionEvent("pagehide"));
        return window.__sent;
    }""")
    assert (sent > 0) is sends
    if sends:
        wait_for(live, lambda evs: "step_view" in types(evs))


def test_a_failed_send_is_retried_and_stored_once(visitor, live):
    live.fail_after_storing = 1
    open_page(visitor, live, html=page_html(**{"data-flush-interval": "200"}))
    # The first batch is stored but answered 503; the script backs off and sends it again.
    wait_for(live, lambda evs: len(live.bodies) == 2)
    first, second = ([e["id"] for e in json.loads(body)["events"]] for body in live.bodies)
    assert first and second[: len(first)] == first
    events = wait_for(live, lambda evs: len(evs) == len(set(first + second)))
    assert sorted(e["event_id"] for e in events) == sorted(set(first + second))


@pytest.mark.parametrize(
    "beacon",
    [
        "delete Navigator.prototype.sendBeacon;",
        "Navigator.prototype.sendBeacon = function () { return false; };",
    ],
    ids=["missing", "refusing"],
)
def test_without_a_working_beacon_leaving_events_arrive_by_keepalive_fetch(visitor, live, beacon):
    visitor.add_init_script(beacon)
    page = open_page(visitor, live)
    page.fill("#f", "typed")
    page.goto("about:blank")
    events = wait_for(live, lambda evs: "session_end" in types(evs))
    assert types(events)[-2:] == ["dropoff_signal", "session_end"]


def test_idle_mid_step_signals_a_dropoff_and_inactivity_ends_the_session(visitor, live):
    page = visitor.new_page()
    page.clock.install()
    visitor.pages_html["/t/page"] = page_html()
    page.goto(live.url("/t/page"))
    page.wait_for_function("window.JourneyEmbed && JourneyEmbed.loaded")
    page.focus("#f")
    page.clock.fast_forward("06:00")
    page.clock.fast_forward("30:00")
    page.focus("#g")
    page.evaluate("JourneyEmbed.flush()")
    events = wait_for(live, lambda evs: types(evs).count("session_start") == 2)
    # The batches may be stored in any order (the server is threaded): read them in time order.
    events.sort(key=lambda e: e["occurred_at"])
    first, second = (
        [e for e in events if e["session_id"] == sid]
        for sid in dict.fromkeys(e["session_id"] for e in events)
    )
    assert [(e["type"], (e["properties"] or {}).get("reason")) for e in first] == [
        ("session_start", None),
        ("page_view", None),
        ("step_view", None),
        ("field_focus", None),
        ("dropoff_signal", "idle"),
        ("session_end", "timeout"),
    ]
    assert [(e["type"], e["field_key"]) for e in second] == [
        ("session_start", None),
        ("field_blur", "f"),
        ("field_focus", "g"),
    ]


def test_a_page_restored_from_the_back_forward_cache_is_viewed_again(visitor, live):
    page = open_page(visitor, live)
    page.evaluate("""() => {
        window.dispatchEvent(new PageTransitionEvent("pageshow", {persisted: true}));
        JourneyEmbed.flush();
    }""")
    events = wait_for(live, lambda evs: types(evs).count("step_view") == 2)
    assert types(events) == ["session_start", "page_view", "step_view", "page_view", "step_view"]


def test_events_go_in_small_batches_with_only_documented_properties(visitor, live):
    page = open_page(visitor, live)
    page.evaluate("""() => {
        for (let i = 0; i < 60; i++) {
          JourneyEmbed.track("field_change", {fieldKey: "k" + i, value: "TYPED-VALUE", text: "x"});
        }
        JourneyEmbed.flush();
    }""")
    events = wait_for(live, lambda evs: types(evs).count("field_change") == 60)
    assert len(events) == 63
    batches = [json.loads(body)["events"] for body in live.bodies]
    assert all(len(batch) <= 25 for batch in batches)
    assert all(len(body.encode()) < 16_000 for body in live.bodies)
    assert all("TYPED-VALUE" not in body and '"text"' not in body for body in live.bodies)


def test_the_instance_id_of_the_tag_the_page_and_the_api_reaches_storage(visitor, live):
    # Seed 002: the instance id links a server-side outcome to the visitor's session.
    page = open_page(visitor, live, html=page_html(**{"data-journey-instance": "tag-1"}))
    page.evaluate("""() => {
        const marked = document.createElement("div");
        marked.dataset.journeyInstance = "page-2";
        document.body.append(marked);
    }""")
    page.wait_for_function("document.querySelector('[data-journey-instance=page-2]')")
    page.focus("#f")
    page.evaluate("JourneyEmbed.setInstanceId('api-3')")
    page.focus("#g")
    page.evaluate("""() => {
        JourneyEmbed.track('step_view', {stepKey: 'custom', instance_id: 'track-4'});
        JourneyEmbed.track('submit_attempt');
        JourneyEmbed.flush();
    }""")
    events = wait_for(live, lambda evs: "submit_attempt" in types(evs))
    assert [(e["type"], e["instance_id"]) for e in events if e["type"] != "field_blur"] == [
        ("session_start", "tag-1"),
        ("page_view", "tag-1"),
        ("step_view", "tag-1"),
        ("field_focus", "page-2"),
        ("field_focus", "api-3"),
        ("step_view", "track-4"),
        ("submit_attempt", "track-4"),
    ]


def test_a_label_is_the_pages_text_and_never_what_was_typed(visitor, live):
    typed = "typed-7f3a secret words"
    body = f"""
<section data-journey-step="one"><h2>  Your
   plans </h2>
  <label>Plans <textarea id="plans" name="plans">{typed}</textarea> (optional)</label>
  <span id="a">Budget</span><span id="b">in pounds</span>
  <input id="budget" name="budget" aria-labelledby="a b" aria-label="ignored">
  <input id="code" name="code" aria-label="Promotion code">
  <label for="long">{"Long " * 40}</label><input id="long" name="long">
  <input id="bare" name="bare"></section>
"""
    page = open_page(visitor, live, html=page_html(body=body))
    for field in ("plans", "budget", "code", "long", "bare", "plans"):
        page.focus(f"#{field}")
    page.fill("#budget", typed)
    page.focus("#plans")
    page.evaluate("JourneyEmbed.flush()")
    events = wait_for(live, lambda evs: types(evs).count("field_focus") == 8)
    assert [(e["type"], e["field_key"], e["title"]) for e in events if e["title"]] == [
        ("page_view", None, "Test page"),
        ("step_view", None, "Your plans"),
        ("field_focus", "plans", "Plans (optional)"),
        ("field_focus", "budget", "Budget in pounds"),
        ("field_focus", "code", "Promotion code"),
        ("field_focus", "long", ("Long " * 24).strip()),
    ]
    assert typed not in json.dumps(events)

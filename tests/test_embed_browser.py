"""The embed script in a real browser: a scripted visit of the example app, read back from storage.

Debian's Chromium, driven by Playwright, visits the example app served on a loopback port. The
visitor goes through the grant application's steps, fills and leaves fields, hits validation
errors, submits, moves within the single-page review section, starts again and leaves mid-step.
The stored events must tell that story in order, as one session, without any typed value in any
stored event or request body. tests/test_embed_behaviour.py covers the script's other rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from example_app.forms import BUSINESS, DECLARATION, ELIGIBILITY

from .live import Live, browser_context, launch_chromium, serve_demo, wait_for

#: What the visitor types, distinctive enough to be searched for in every body and event.
TYPED = {
    "turnover_too_high": "25000000",
    "turnover": "483917",
    "business_name": "Quokka Bakery Ltd",
    "registration_number": "40427311",
    "email": "quokka.owner@example.net",
    "bank_account": "93817265",
    "notes": "confidential: runway of seven months",
    "signature": "Wilhelmina Quokka",
    "password": "Sup3r-Secret-Pw!",
}
PROMO = "SPRING-SECRET-77"

STORY = [
    ("session_start",),
    ("page_view", "/"),
    ("page_view", "/apply/eligibility"),
    ("step_view", "eligibility"),
    ("submit_attempt", "eligibility"),
    ("page_view", "/apply/eligibility"),
    ("step_view", "eligibility"),
    ("validation_error", "turnover", "aria-invalid"),
    ("submit_attempt", "eligibility"),
    ("page_view", "/apply/business"),
    ("step_view", "business-details"),
    ("submit_attempt", "business-details"),
    ("validation_error", "email", "valueMissing"),
    ("submit_attempt", "business-details"),
    ("page_view", "/apply/review"),
    ("step_view", "review"),
    ("page_view", "/apply/review/declaration"),
    ("step_view", "declaration"),
    ("page_view", "/apply/review"),
    ("step_view", "review"),
    ("page_view", "/apply/review/declaration"),
    ("step_view", "declaration"),
    ("submit_attempt", "declaration"),
    ("page_view", "/apply/submitted"),
    ("step_view", "submitted"),
    ("submit_success", "submitted"),
    ("page_view", "/apply/eligibility"),
    ("step_view", "eligibility"),
    ("dropoff_signal", "eligibility"),
    ("session_end", "leave"),
]


def _story_line(event: dict[str, Any]) -> tuple:
    kind = event["type"]
    if kind == "page_view":
        return (kind, event["path"])
    if kind == "validation_error":
        return (kind, event["field_key"], event["error_type"])
    if kind == "session_end":
        return (kind, event["properties"]["reason"])
    if kind == "session_start":
        return (kind,)
    return (kind, event["step_key"])


@pytest.fixture(scope="module")
def visit(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """One scripted visit; its stored events (in time order) and every request body sent."""
    browser_bodies: list[str] = []
    with serve_demo(tmp_path_factory.mktemp("visit")) as live, launch_chromium() as browser:
        with browser_context(browser) as context:
            context.on(
                "request",
                lambda r: "/api/ingest" in r.url and browser_bodies.append(r.post_data or ""),  # type: ignore[func-returns-value]
            )
            page = context.new_page()
            _walk_through_the_application(page, live)
            events = wait_for(live, lambda evs: any(e["type"] == "session_end" for e in evs))
        yield {
            "events": sorted(events, key=lambda e: e["occurred_at"]),
            "browser_bodies": browser_bodies,
            "server_bodies": list(live.bodies),
            "export": live.cli("export"),
        }


def _walk_through_the_application(page, live: Live) -> None:
    page.goto(live.url(f"/?promo={PROMO}"))
    page.click("text=Start your application")
    page.wait_for_url("**/apply/eligibility")

    # Eligibility: the server refuses the turnover, then accepts it.
    page.select_option("#business_type", "partnership")
    page.fill("#employees", "12")
    page.fill("#turnover", TYPED["turnover_too_high"])
    page.check("#uk_based")
    page.click("button[type=submit]")
    page.wait_for_selector("#turnover-error")
    page.fill("#turnover", TYPED["turnover"])
    page.click("button[type=submit]")
    page.wait_for_url("**/apply/business")

    # Business details: the browser blocks a submit without the required email.
    page.fill("#business_name", TYPED["business_name"])
    page.fill("#registration_number", TYPED["registration_number"])
    page.click("button[type=submit]")
    page.wait_for_function("document.activeElement.id === 'email'")
    page.fill("#email", TYPED["email"])
    page.fill("#bank_account", TYPED["bank_account"])
    page.fill("#notes", TYPED["notes"])
    page.click("button[type=submit]")
    page.wait_for_url("**/apply/review")

    # The single-page review section: forward with a link, back and forward with the browser.
    with page.expect_request("**/api/ingest"):
        page.evaluate("JourneyEmbed.flush()")
    page.click("text=Continue to the declaration")
    page.wait_for_url("**/apply/review/declaration")
    page.go_back()
    page.wait_for_selector("#review:visible")
    page.go_forward()
    page.wait_for_selector("#declaration:visible")
    page.check("#confirm")
    page.fill("#signature", TYPED["signature"])
    page.fill("#password", TYPED["password"])
    page.click("text=Submit application")
    page.wait_for_url("**/apply/submitted")

    # A second application, left mid-step for another site.
    page.click("text=Start another application")
    page.wait_for_url("**/apply/eligibility")
    page.select_option("#business_type", "sole-trader")
    page.fill("#employees", "3")
    page.goto("about:blank")


def test_the_stored_events_tell_the_visit_step_by_step(visit):
    story = [_story_line(e) for e in visit["events"] if not e["type"].startswith("field_")]
    assert story == STORY


def test_the_visit_is_one_session_of_one_client(visit):
    events = visit["events"]
    assert len({e["session_id"] for e in events}) == 1
    assert len({e["client_id"] for e in events}) == 1
    assert [e["type"] for e in events].count("session_start") == 1
    assert {e["embed_version"] for e in events} == {"1.0.0"}


def test_every_event_type_of_the_seed_is_recorded(visit):
    assert {e["type"] for e in visit["events"]} == {
        "session_start",
        "session_end",
        "page_view",
        "step_view",
        "field_focus",
        "field_blur",
        "field_change",
        "validation_error",
        "submit_attempt",
        "submit_success",
        "dropoff_signal",
    }


def test_field_events_are_keyed_by_the_documented_convention(visit):
    changes = [
        (e["step_key"], e["field_key"]) for e in visit["events"] if e["type"] == "field_change"
    ]
    # data-journey-field wins over the name; select and checkbox changes count too.
    assert ("business-details", "business-name") in changes
    assert ("business-details", "email") in changes
    assert ("eligibility", "business_type") in changes
    assert ("declaration", "confirm") in changes
    assert all(key != "business_name" for _, key in changes)


@pytest.mark.parametrize("field_key", ["bank_account", "notes", "password"])
def test_payment_ignored_and_password_fields_report_focus_and_blur_only(visit, field_key):
    kinds = [e["type"] for e in visit["events"] if e["field_key"] == field_key]
    assert kinds == ["field_focus", "field_blur"]


def test_leaving_mid_step_signals_a_dropoff_and_ends_the_session(visit):
    last_two = visit["events"][-2:]
    assert [e["type"] for e in last_two] == ["dropoff_signal", "session_end"]
    assert last_two[0]["properties"]["reason"] in ("leave", "hidden")
    assert last_two[0]["step_key"] == "eligibility"
    # The example's form names its application: its key (an HMAC, never the id) rides along.
    properties = dict(last_two[1]["properties"])
    assert properties.pop("applicationKey").startswith("ak_")
    assert properties == {"reason": "leave"}


def test_no_typed_value_is_in_any_request_or_stored_event(visit):
    assert visit["browser_bodies"], "Playwright saw no request body to check"
    assert len(visit["server_bodies"]) >= len(visit["browser_bodies"])
    for text in (*visit["browser_bodies"], *visit["server_bodies"], visit["export"]):
        for value in (*TYPED.values(), PROMO):
            assert value not in text


def test_urls_are_sent_without_query_string_values(visit):
    sent = [e for body in visit["server_bodies"] for e in json.loads(body)["events"]]
    landing = [e["url"] for e in sent if e["_tag"] == "page_view" and "?" in e["url"]]
    assert landing == [visit["events"][1]["url"]]
    assert landing[0].endswith("/?promo=")


def test_a_fields_first_focus_on_each_page_carries_its_label_as_the_page_shows_it(visit):
    declared = {
        field.attrs.get("data-journey-field", field.name): field.label
        for field in (*ELIGIBILITY, *BUSINESS, *DECLARATION)
    }
    page, sent, labels = None, set(), {}
    for e in visit["events"]:
        if e["type"] == "page_view":
            page, sent = e["url"], set()
        elif e["type"] == "field_focus":
            key = e["field_key"]
            # The first focus of a field on a page carries its label; later ones do not.
            assert (e["title"] is not None) == (key not in sent), (page, key)
            sent.add(key)
            if e["title"] is not None:
                labels[key] = e["title"]
        elif e["type"] != "step_view":
            assert e["title"] is None
    assert labels == {key: declared[key] for key in labels}
    # Labels <label for=...> give, and the one around the checkbox.
    assert {"employees", "turnover", "business-name", "email", "uk_based", "confirm"} <= set(labels)


def test_a_step_view_carries_the_steps_heading(visit):
    headings = {(e["step_key"], e["title"]) for e in visit["events"] if e["type"] == "step_view"}
    assert headings == {
        ("eligibility", "Check you are eligible"),
        ("business-details", "About your business"),
        ("review", "Review your answers"),
        ("declaration", "Sign the declaration"),
        ("submitted", "Application submitted"),
    }

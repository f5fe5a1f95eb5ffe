"""The example app, through Flask's test client: setup, the grant flow, validation, statistics."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.cli import ScriptInfo
from flask.testing import FlaskClient

from example_app import create_app, instance_secret_key

ELIGIBLE = {
    "business_type": "partnership",
    "employees": "12",
    "turnover": "250000",
    "uk_based": "yes",
}
BUSINESS = {
    "business_name": "Quokka Bakery Ltd",
    "email": "owner@example.net",
    "phone": "",
    "registration_number": "40427311",
    "bank_account": "93817265",
    "notes": "",
}
DECLARATION = {"confirm": "yes", "signature": "Wilhelmina Quokka", "password": "long enough"}


@pytest.fixture
def demo_config(tmp_path) -> dict[str, Any]:
    return {"SECRET_KEY": "test", "JOURNEY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}


@pytest.fixture
def demo(demo_config) -> Flask:
    return create_app(demo_config)


@pytest.fixture
def browser(demo) -> FlaskClient:
    return demo.test_client()


def _cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["journey", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _through_business(browser: FlaskClient) -> None:
    assert browser.post("/apply/eligibility", data=ELIGIBLE).status_code == 302
    assert browser.post("/apply/business", data=BUSINESS).status_code == 302


def test_first_start_creates_the_tables_organization_and_journey_once(demo_config):
    create_app(demo_config)
    app = create_app(demo_config)
    shown = json.loads(_cli(app, "show", "demo-org", "small-business-grant"))
    assert shown["allowedOrigins"] == ["http://127.0.0.1:5000", "http://localhost:5000"]


def test_origins_set_by_an_operator_survive_a_restart(demo_config):
    _cli(
        create_app(demo_config),
        "set-origins",
        "demo-org",
        "small-business-grant",
        "https://grants.example.com",
    )
    shown = json.loads(_cli(create_app(demo_config), "show", "demo-org", "small-business-grant"))
    assert shown["allowedOrigins"] == ["https://grants.example.com"]


def test_a_share_link_printed_by_the_command_opens_after_a_restart(monkeypatch, tmp_path):
    # No SECRET_KEY given: the app keeps one in its instance folder.
    instance = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(instance))
    config = {"JOURNEY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    url = _cli(create_app(config), "share", "demo-org", "small-business-grant").strip()
    assert url.startswith("http://localhost:5000/journey/share/")
    restarted = create_app(config).test_client()
    shown = restarted.get(url.removeprefix("http://localhost:5000"))
    assert shown.status_code == 200
    assert "read-only shared view" in shown.get_data(as_text=True)
    kept = instance / "secret_key"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert instance_secret_key(str(instance)) == kept.read_text().strip()


def test_flask_app_option_finds_the_factory(monkeypatch, tmp_path):
    monkeypatch.setenv("FLASK_JOURNEY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    app = ScriptInfo(app_import_path="example_app").load_app()
    assert app.import_name == "example_app"
    assert app.config["JOURNEY_DATABASE_URL"].endswith("cli.db")


def test_every_page_loads_the_embed_script_respecting_do_not_track(browser):
    page = browser.get("/").get_data(as_text=True)
    tag = re.search(r"<script src=\"/embed/v1.js\"[^>]*>", page).group(0)
    assert 'data-org="demo-org"' in tag
    assert 'data-journey="small-business-grant"' in tag
    assert 'data-endpoint="/api/ingest"' in tag
    assert 'data-respect-dnt="true"' in tag


def test_the_embed_flush_interval_is_configurable(demo_config):
    client = create_app({**demo_config, "DEMO_FLUSH_INTERVAL": 1500}).test_client()
    assert 'data-flush-interval="1500"' in client.get("/").get_data(as_text=True)


def test_forms_carry_constraint_attributes_and_tracking_conventions(browser):
    browser.post("/apply/eligibility", data=ELIGIBLE)
    page = browser.get("/apply/business").get_data(as_text=True)
    assert 'data-journey-step="business-details"' in page
    assert re.search(r'<input id="business_name"[^>]*data-journey-field="business-name"', page)
    assert re.search(r'<input id="email"[^>]*type="email"[^>]*required', page)
    assert re.search(r'<input id="registration_number"[^>]*pattern="\[0-9\]\{8\}"', page)
    assert re.search(r'<textarea id="notes"[^>]*data-journey-ignore', page)


def test_a_complete_application_reaches_the_success_marker(browser):
    assert browser.get("/apply/start").location == "/apply/eligibility"
    _through_business(browser)
    review = browser.get("/apply/review").get_data(as_text=True)
    assert "Quokka Bakery Ltd" in review and "••••7265" in review
    declaration = browser.get("/apply/review/declaration").get_data(as_text=True)
    assert re.search(r'<section id="review"[^>]*hidden', declaration)
    assert re.search(r'<input id="password"[^>]*type="password"', declaration)
    response = browser.post("/apply/submit", data=DECLARATION)
    assert response.location == "/apply/submitted"
    done = browser.get("/apply/submitted").get_data(as_text=True)
    assert "data-journey-success" in done
    assert re.search(r"SBG-[0-9A-F]{8}", done)


def test_steps_cannot_be_skipped(browser):
    assert browser.get("/apply/business").location == "/apply/eligibility"
    assert browser.get("/apply/review").location == "/apply/eligibility"
    browser.post("/apply/eligibility", data=ELIGIBLE)
    assert browser.get("/apply/review/declaration").location == "/apply/business"
    assert browser.get("/apply/submitted").location == "/apply/eligibility"


def test_server_side_errors_are_shown_and_marked_aria_invalid(browser):
    response = browser.post("/apply/eligibility", data={**ELIGIBLE, "turnover": "25000000"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'<input id="turnover"[^>]*aria-invalid="true"', page)
    assert "are not eligible" in page
    assert page.count('aria-invalid="true"') == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "Enter an email address"),
        ("registration_number", "1234", "8 digits"),
        ("business_name", "", "This field is required."),
        ("phone", "call me", "7 to 20 digits"),
    ],
)
def test_business_details_are_validated_on_the_server(browser, field, value, message):
    browser.post("/apply/eligibility", data=ELIGIBLE)
    response = browser.post("/apply/business", data={**BUSINESS, field: value})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page)


def test_payment_and_password_values_are_never_sent_back(browser):
    browser.post("/apply/eligibility", data=ELIGIBLE)
    page = browser.post("/apply/business", data={**BUSINESS, "email": "x"}).get_data(as_text=True)
    assert BUSINESS["bank_account"] not in page
    assert BUSINESS["business_name"] in page
    browser.post("/apply/business", data=BUSINESS)
    page = browser.post("/apply/submit", data={**DECLARATION, "signature": ""})
    assert DECLARATION["password"] not in page.get_data(as_text=True)


def test_answers_are_escaped_in_the_pages(browser):
    browser.post("/apply/eligibility", data=ELIGIBLE)
    browser.post("/apply/business", data={**BUSINESS, "business_name": "<script>x()</script>"})
    page = browser.get("/apply/review").get_data(as_text=True)
    assert "<script>x()" not in page
    assert "&lt;script&gt;x()&lt;/script&gt;" in page


def test_stats_page_counts_what_was_recorded(browser):
    event = {
        "schemaVersion": 1,
        "orgKey": "demo-org",
        "journeyKey": "small-business-grant",
        "sessionId": "s1",
        "clientId": "c1",
        "url": "http://127.0.0.1:5000/apply/business",
        "ts": "2024-01-15T10:30:00.000Z",
    }
    batch = {
        "schemaVersion": 1,
        "context": {"orgKey": "demo-org", "journeyKey": "small-business-grant"},
        "events": [
            {**event, "_tag": "step_view", "id": "e1", "stepKey": "business-details"},
            {**event, "_tag": "dropoff_signal", "id": "e2", "stepKey": "business-details"},
        ],
    }
    assert browser.post("/api/ingest", json=batch).status_code == 204
    page = browser.get("/stats").get_data(as_text=True)
    assert "1 session." in page
    assert re.search(r"<td>business-details</td><td>1</td><td>1</td>", page)
    assert re.search(r"<td>dropoff_signal</td><td>1</td>", page)


def test_the_grant_form_names_its_application_by_a_key_the_same_in_every_visit(demo, browser):
    first = browser.get("/apply/eligibility").get_data(as_text=True)
    key = re.search(r'data-application="(ak_[0-9a-f]{32})"', first).group(1)
    cookie = browser.get_cookie("session")
    resumed = demo.test_client()  # a later visit, the saved application's cookie kept
    resumed.set_cookie("session", cookie.value)
    later = resumed.get("/apply/eligibility").get_data(as_text=True)
    with browser.session_transaction() as saved:
        application_id = saved["application"]["id"]

    assert f'data-application="{key}"' in later
    assert application_id not in first and application_id not in later
    browser.get("/apply/start")
    assert key not in browser.get("/apply/eligibility").get_data(as_text=True)

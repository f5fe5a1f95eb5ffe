"""The example app's dashboard: filled with simulated visitors on first run, open to this
machine only, reached from the "Statistics" link."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from urllib.parse import urlsplit

import pytest

from example_app import DEMO_PAGES, create_app, demo_fields
from example_app.forms import BUSINESS, DECLARATION, ELIGIBILITY
from flask_journey import api

PAGE = "/journey/demo-org/small-business-grant/"
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def test_first_run_fills_the_journey_and_the_statistics_link_opens_its_dashboard(tmp_path):
    config = {
        "SECRET_KEY": "test",
        "DEMO_DATA_SESSIONS": 40,
        "JOURNEY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
    }
    app = create_app(config)
    client = app.test_client()
    assert f'href="{PAGE}">Statistics</a>' in client.get("/").get_data(as_text=True)
    page = client.get(PAGE, environ_base=LOCAL)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    # The steps and fields as the pages call them, their keys in the tooltip.
    assert '<bdi class="labelled" title="business-details">Business details</bdi>' in text
    assert '<bdi class="labelled" title="business-name">Business name</bdi>' in text
    assert "password" not in text and "bank_account" not in text
    runner = app.test_cli_runner()
    today = dt.datetime.now(dt.timezone.utc).date()
    report = json.loads(
        runner.invoke(
            args=[
                "journey",
                "report",
                "demo-org",
                "small-business-grant",
                "--format",
                "json",
                "--from",
                str(today - dt.timedelta(days=61)),
                "--to",
                str(today),
            ]
        ).output
    )
    assert report["totals"]["sessions"] == 40  # spread over the last 60 days
    # A second start adds nothing: the journey has events.
    create_app(config)
    events = runner.invoke(args=["journey", "export"]).output.splitlines()
    assert len({json.loads(line)["session_id"] for line in events}) == 40


def test_only_requests_from_this_machine_see_the_demo_dashboard(tmp_path):
    app = create_app(
        {"SECRET_KEY": "test", "JOURNEY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    )
    client = app.test_client()
    assert client.get(PAGE, environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get(PAGE, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403
    # Built with a test_config, the app stores no simulated visitors unless asked to.
    assert "No data yet" in client.get(PAGE, environ_base=LOCAL).get_data(as_text=True)


def test_the_demo_data_matches_the_example_form(tmp_path):
    config = {
        "SECRET_KEY": "test",
        "DEMO_DATA_SESSIONS": 300,
        "JOURNEY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
    }
    app = create_app(config)
    runner = app.test_cli_runner()
    events = [
        json.loads(line) for line in runner.invoke(args=["journey", "export"]).output.splitlines()
    ]
    declared = {
        field.attrs.get("data-journey-field", field.name): field
        for field in (*ELIGIBILITY, *BUSINESS, *DECLARATION)
    }
    errors: dict[str, set[str]] = {}
    for event in events:
        if event["type"] == "validation_error":
            errors.setdefault(event["field_key"], set()).add(event["error_type"])
    fields = {e["field_key"] for e in events if e["field_key"]}
    # Only the form's own fields, never its password, account number or ignored notes.
    assert fields <= set(declared) - {"password", "bank_account", "notes"}
    assert "uk_based" in fields and "confirm" in fields
    assert errors["uk_based"] <= {"valueMissing"} and errors["confirm"] <= {"valueMissing"}
    for key, kinds in errors.items():
        field = declared[key]
        assert "typeMismatch" not in kinds or field.kind in ("email", "number"), key
        assert "patternMismatch" not in kinds or field.pattern, key
        assert "valueMissing" not in kinds or field.required, key
    assert {"typeMismatch", "patternMismatch", "valueMissing"} <= set().union(*errors.values())
    # Every page the demo's visitors saw is one the app serves.
    client = app.test_client()
    paths = {urlsplit(e["url"]).path for e in events if e["type"] == "page_view"}
    assert paths == {"/", *DEMO_PAGES.values()}
    for path in paths:
        assert client.get(path).status_code in (200, 302), path
    # Nobody reaches a step more often than the steps before allow; "submitted" only with a
    # successful submission.
    today = dt.datetime.now(dt.timezone.utc).date()
    report = json.loads(
        runner.invoke(
            args=[
                "journey",
                "report",
                "demo-org",
                "small-business-grant",
                "--format",
                "json",
                "--from",
                str(today - dt.timedelta(days=61)),
                "--to",
                str(today),
            ]
        ).output
    )
    reached = [step["sessions"] for step in report["steps"]]
    assert [step["stepKey"] for step in report["steps"]] == list(DEMO_PAGES)
    assert reached == sorted(reached, reverse=True) and reached[0] <= 300
    assert reached[-1] == report["totals"]["completions"] > 0
    # Some applications are saved and resumed in a later session, at the step they left.
    applications = report["applications"]
    assert applications["started"] < 300
    assert applications["completionRate"] > report["totals"]["conversionRate"]
    assert applications["sessionsPerCompletion"] > 1
    assert sum(step["exits"] for step in report["steps"]) > 0
    assert any(row["recovered"] and row["abandonedAfter"] for row in report["errorOutcomes"])


@pytest.mark.parametrize("seed", [1, 5, 8, 12])
def test_no_demo_step_is_reached_more_often_than_the_step_before_it(tmp_path, seed):
    # Applications saved and resumed in a later session included: that session passes the
    # steps already answered, so "declaration" never outnumbers "review".
    app = create_app(
        {"SECRET_KEY": "test", "JOURNEY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    )
    today = dt.datetime.now(dt.timezone.utc).date()
    with app.app_context():
        api.demo_data(
            "demo-org",
            "small-business-grant",
            sessions=250,
            days=60,
            seed=seed,
            fields=demo_fields(),
            pages=DEMO_PAGES,
        )
        for start in (today - dt.timedelta(days=61), None):  # every session, the last 30 days
            report = api.report("demo-org", "small-business-grant", start=start, end=today)
            steps = report["steps"]
            assert [step["stepKey"] for step in steps] == list(DEMO_PAGES)
            assert not any(step["optional"] for step in steps)
            for before, step in itertools.pairwise(steps):
                assert step["sessions"] <= before["sessions"], (seed, start, step["stepKey"])
            assert report["applications"]["sessionsPerCompletion"] > 1

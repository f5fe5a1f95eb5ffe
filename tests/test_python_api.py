"""The public Python API (flask_journey.api), called as a site owner would: an app with the
extension, an app context, then what is stored (read back through the CLI, the management API
or the database), returned or raised."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from flask import Flask

from flask_journey import api
from flask_journey.models import ApiKey

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, from_origin, post

STEPS = ["eligibility", "business-details", "submitted"]
DAY = dt.date(2024, 1, 15)


@pytest.fixture
def org(app: Flask) -> None:
    """The seed's organization and journey, made through the API."""
    with app.app_context():
        api.create_organization(ORG)
        api.create_journey(ORG, JOURNEY, origins=[ORIGIN], steps=STEPS)


def _show(cli, journey: str = JOURNEY) -> dict[str, Any]:
    return json.loads(cli("show", ORG, journey))


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _visit(client, session: str = "sess_1") -> None:
    """One session's step views and a drop-off on the second step, through seed 000."""
    events = [
        event("step_view", f"{session}-1", sessionId=session, stepKey="eligibility"),
        event("step_view", f"{session}-2", sessionId=session, stepKey="business-details"),
        event("dropoff_signal", f"{session}-3", sessionId=session, stepKey="business-details"),
    ]
    response = post(client, batch(*events))
    assert response.status_code == 204, response.get_data(as_text=True)


# -- organizations and journeys --------------------------------------------------------------


def test_an_organization_and_journey_made_in_python_are_what_the_cli_shows(app, cli):
    with app.app_context():
        org = api.create_organization(ORG, rate_limit="50 per minute", quota=1000)
        journey = api.create_journey(
            org,
            JOURNEY,
            origins=["https://Grants.Example.com:443/", ORIGIN, "http://localhost:5000"],
            steps=STEPS,
        )

    assert (org.slug, org.rate_limit, org.monthly_quota) == (ORG, "50 per minute", 1000)
    shown = _show(cli)
    assert shown == journey.to_dict()
    assert shown["allowedOrigins"] == [ORIGIN, "http://localhost:5000"]
    assert shown["steps"] == STEPS
    assert shown["publicKey"].startswith("pk_")
    assert json.loads(cli("usage", ORG))["monthlyQuota"] == 1000


def test_a_journey_made_in_python_takes_events_from_its_origins_only(app, client, org):
    assert post(client, batch(event())).status_code == 204
    assert post(client, batch(event()), from_origin("https://evil.example")).status_code == 403
    with app.app_context():
        assert api.has_events(ORG, JOURNEY)


def test_lookups_return_what_was_made_and_refuse_what_was_not(app, org):
    with app.app_context():
        api.create_journey(ORG, "another")
        org = api.get_organization(ORG)
        assert api.get_journey(org, JOURNEY).configured_steps() == STEPS
        assert [j.slug for j in api.list_journeys(ORG)] == ["another", JOURNEY]
        assert not api.has_events(ORG, "another")
        with pytest.raises(api.TenantError, match="organization 'nope' not found") as unknown:
            api.get_organization("nope")
        assert unknown.value.argument == "org"
        with pytest.raises(api.TenantError, match="journey 'nope' not found") as missing:
            api.get_journey(ORG, "nope")
        assert missing.value.argument == "journey"
        assert isinstance(missing.value, ValueError)


@pytest.mark.parametrize(
    ("call", "argument", "message"),
    [
        (lambda: api.create_organization("Not A Slug"), "slug", "invalid organization slug"),
        (lambda: api.create_organization(ORG), "slug", "already exists"),
        (lambda: api.create_organization("b", rate_limit="often"), "rate_limit", "rate limit"),
        (lambda: api.create_organization("b", quota=-1), "quota", "invalid quota"),
        (lambda: api.create_journey(ORG, JOURNEY), "slug", "already exists"),
        (lambda: api.create_journey(ORG, "x/y"), "slug", "invalid journey slug"),
        (lambda: api.create_journey(ORG, "b", origins=["ftp://x.example"]), "origins", "origin"),
        (lambda: api.create_journey(ORG, "b", origins=ORIGIN), "origins", "not one string"),
        (lambda: api.create_journey(ORG, "b", steps=["a", "a"]), "steps", "must not repeat"),
        (lambda: api.create_journey(ORG, "b", steps=[""]), "steps", "invalid step"),
        (lambda: api.create_journey(ORG, "b", steps=["s"] * 101), "steps", "at most 100"),
        (lambda: api.create_journey("nope", "b"), "org", "not found"),
    ],
)
def test_what_cannot_be_made_raises_tenant_error_and_stores_nothing(
    app, cli, org, call, argument, message
):
    with app.app_context():
        with pytest.raises(api.TenantError, match=message) as refused:
            call()
        assert refused.value.argument == argument
        assert [j.slug for j in api.list_journeys(ORG)] == [JOURNEY]
    assert "b" not in json.loads(cli("stats"))
    result = app.test_cli_runner().invoke(args=["journey", "show", "b", "b"])
    assert result.exit_code == 1


def test_update_organization_changes_only_what_is_given(app, cli, org):
    with app.app_context():
        api.update_organization(ORG, rate_limit="10 per second", quota=5)
        org = api.update_organization(ORG, quota=None)
        assert (org.rate_limit, org.monthly_quota) == ("10 per second", None)
        org = api.update_organization(ORG, rate_limit=None)
        assert (org.rate_limit, org.monthly_quota) == (None, None)
        with pytest.raises(api.TenantError, match="invalid quota"):
            api.update_organization(ORG, quota="lots")
    assert json.loads(cli("usage", ORG))["monthlyQuota"] is None


def test_a_quota_set_in_python_applies_to_ingest_at_once(app, client, org):
    assert post(client, batch(event("page_view", 1))).status_code == 204  # the tenant is cached
    with app.app_context():
        api.update_organization(ORG, quota=1)
    response = post(client, batch(event("page_view", 2)))
    assert response.status_code == 429
    assert "quota" in response.get_json()["error"].lower()


def test_update_journey_replaces_origins_and_steps_and_ingest_sees_it_at_once(
    app, client, cli, org
):
    assert post(client, batch(event("page_view", 1))).status_code == 204  # the tenant is cached
    with app.app_context():
        journey = api.update_journey(ORG, JOURNEY, origins=["https://new.example"])
    assert journey.to_dict() == _show(cli)
    assert _show(cli)["allowedOrigins"] == ["https://new.example"]
    assert _show(cli)["steps"] == STEPS  # not given: unchanged
    assert post(client, batch(event("page_view", 2))).status_code == 403

    with app.app_context():
        api.update_journey(ORG, JOURNEY, origins=[], steps=["submitted"])
    assert (_show(cli)["allowedOrigins"], _show(cli)["steps"]) == ([], ["submitted"])
    with app.app_context():
        api.update_journey(ORG, JOURNEY, steps=[])
    assert _show(cli)["steps"] == []


def test_update_journey_checks_everything_before_changing_anything(app, cli, org):
    with app.app_context(), pytest.raises(api.TenantError, match="must not repeat") as refused:
        api.update_journey(ORG, JOURNEY, origins=["https://new.example"], steps=["a", "a"])
    assert refused.value.argument == "steps"
    assert (_show(cli)["allowedOrigins"], _show(cli)["steps"]) == ([ORIGIN], STEPS)


# -- secret keys -----------------------------------------------------------------------------


def test_a_key_is_returned_once_kept_as_a_hash_listed_and_revoked(app, client, org):
    with app.app_context():
        secret = api.create_key(ORG)
        [key] = api.list_keys(ORG)
        stored = ApiKey.get_by_id(key.id).secret_hash
    assert secret.startswith(f"sk_{key.lookup}_")
    assert key.revoked_at is None
    assert secret not in stored and secret.split("_")[2] not in stored
    listed = client.get("/api/journeys", headers=_bearer(secret))
    assert listed.status_code == 200
    assert [j["journeyKey"] for j in listed.get_json()["journeys"]] == [JOURNEY]

    with app.app_context():
        api.revoke_key(ORG, key.lookup)
        [revoked] = api.list_keys(ORG)
        assert revoked.revoked_at is not None
        with pytest.raises(api.TenantError, match="no active key") as again:
            api.revoke_key(ORG, key.lookup)
        assert again.value.argument == "lookup"
    assert client.get("/api/journeys", headers=_bearer(secret)).status_code == 401


# -- events and reports ----------------------------------------------------------------------


def _python_event(tag: str, n: int, **props: Any) -> dict[str, Any]:
    """A seed-000 event as site code writes it: no schemaVersion, orgKey or journeyKey."""
    return {
        "_tag": tag,
        "id": f"py_{n}",
        "ts": "2024-01-15T10:30:00.000Z",
        "sessionId": "sess_py",
        "clientId": "client_py",
        "url": f"{ORIGIN}/apply?email=jane@example.com",
        **props,
    }


def test_events_stored_from_python_are_exported_and_a_retry_stores_none(app, cli, org):
    events = [
        _python_event("session_start", 1),
        _python_event("step_view", 2, stepKey="eligibility"),
        _python_event("field_change", 3, stepKey="eligibility", fieldKey="email", value="j@x.io"),
    ]
    with app.app_context():
        first = api.store_events(ORG, JOURNEY, events, context={"deviceClass": "mobile"})
        again = api.store_events(ORG, JOURNEY, events)

    assert (first.stored, first.rejected, again.stored, again.rejected) == (3, [], 0, [])
    exported = [json.loads(line) for line in cli("export").splitlines()]
    assert [(e["event_id"], e["type"], e["device_class"]) for e in exported] == [
        ("py_1", "session_start", "mobile"),
        ("py_2", "step_view", "mobile"),
        ("py_3", "field_change", "mobile"),
    ]
    assert "j@x.io" not in cli("export") and "jane@example.com" not in cli("export")


def test_an_invalid_event_from_python_is_returned_and_the_valid_ones_stored(app, cli, org):
    with app.app_context():
        result = api.store_events(
            ORG, JOURNEY, [_python_event("page_view", 1), _python_event("step_view", 2)]
        )
        with pytest.raises(api.TenantError):
            api.store_events(ORG, "no-such-journey", [_python_event("page_view", 3)])

    assert result.stored == 1
    assert result.rejected == [(1, "stepKey is required for step_view")]
    assert [json.loads(line)["event_id"] for line in cli("export").splitlines()] == ["py_1"]


def test_event_counts_are_the_journeys_raw_counts(app, client, org):
    _visit(client, "sess_1")
    _visit(client, "sess_2")
    post(client, batch(event("page_view", 9, sessionId="sess_3")))

    with app.app_context():
        counts = api.event_counts(ORG, JOURNEY)
        api.create_journey(ORG, "empty")
        empty = api.event_counts(ORG, "empty")

    assert counts == {
        "events": 7,
        "sessions": 3,
        "byType": {"dropoff_signal": 2, "page_view": 1, "step_view": 4},
        "steps": {
            "eligibility": {"sessions": 2, "dropoffs": 0},
            "business-details": {"sessions": 2, "dropoffs": 2},
        },
    }
    assert empty == {"events": 0, "sessions": 0, "byType": {}, "steps": {}}


def test_the_report_is_the_report_apis(app, client, org):
    _visit(client, "sess_1")
    _visit(client, "sess_2")
    with app.app_context():
        secret = api.create_key(ORG)
        report = api.report(ORG, JOURNEY, start=DAY, end=DAY, compare=False)
        by_device = api.report(ORG, JOURNEY, **api.report_options({"from": "2024-01-15"}))
    assert report["totals"]["sessions"] == 2
    assert [step["stepKey"] for step in report["steps"] if step["sessions"]] == STEPS[:2]
    response = client.get(
        f"/api/journeys/{JOURNEY}/report?from={DAY}&to={DAY}&compare=false",
        headers=_bearer(secret),
    )
    served = response.get_json()
    assert {k: v for k, v in served.items() if k != "refreshedAt"} == {
        k: v for k, v in report.items() if k != "refreshedAt"
    }
    assert by_device["from"] == "2024-01-15"


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"breakdown": "colour"}, "breakdown"),
        ({"filters": {"colour": "red"}}, "colour"),
        ({"start": DAY, "end": DAY - dt.timedelta(days=1)}, "to"),
    ],
)
def test_a_report_option_that_cannot_be_used_raises_tenant_error(app, org, options, argument):
    with app.app_context(), pytest.raises(api.TenantError) as refused:
        api.report(ORG, JOURNEY, **options)
    assert refused.value.argument == argument


def test_report_options_read_text_parameters(app):
    options = api.report_options({"from": "2024-01-01", "compare": "no", "device": "mobile"})
    assert options == {
        "start": dt.date(2024, 1, 1),
        "end": None,
        "breakdown": None,
        "compare": False,
        "filters": {"device": "mobile"},
    }
    with pytest.raises(api.TenantError, match="from must be a date") as refused:
        api.report_options({"from": "yesterday"})
    assert refused.value.argument == "from"


def test_refresh_summarises_new_events_once_and_rebuild_all_of_them(app, client, org):
    _visit(client)
    with app.app_context():
        first = api.refresh()
        again = api.refresh()
        rebuilt = api.refresh(rebuild=True)
    assert (first.events, first.sessions) == (3, 1)
    assert (again.events, again.sessions) == (0, 0)
    assert (rebuilt.events, rebuilt.sessions) == (3, 1)


def test_demo_data_stores_simulated_sessions_once_and_reports_them(app, org):
    with app.app_context():
        stored = api.demo_data(ORG, JOURNEY, sessions=20, days=7, seed=3)
        again = api.demo_data(ORG, JOURNEY, sessions=20, days=7, seed=3)
        counts = api.event_counts(ORG, JOURNEY)
        report = api.report(ORG, JOURNEY)
    assert stored == counts["events"] > 0
    assert again == 0
    assert counts["sessions"] == 20
    assert report["totals"]["sessions"] == 20
    assert set(counts["steps"]) <= set(STEPS)


# -- the schema and the app context ----------------------------------------------------------


def test_create_tables_makes_an_empty_database_ready_once(make_app, tmp_path):
    app = make_app(JOURNEY_DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    with app.app_context():
        assert api.create_tables() is True
        assert api.create_tables() is False
        assert api.create_organization(ORG).slug == ORG


def test_the_first_call_on_a_new_sqlite_file_creates_the_tables(make_app, tmp_path, cli):
    # No init-db: as the README says, the tables are made on first use.
    path = tmp_path / "new.sqlite3"
    app = make_app(JOURNEY_DATABASE_URL=f"sqlite:///{path}")
    with app.app_context():
        org = api.create_organization(ORG)
        api.create_journey(org, JOURNEY, origins=[ORIGIN])

    assert post(app.test_client(), batch(event())).status_code == 204
    with app.app_context():
        assert api.event_counts(ORG, JOURNEY)["events"] == 1
        assert api.create_tables() is False


def test_the_first_call_on_an_empty_database_makes_or_asks_for_the_tables(make_app, database_url):
    # SQLite gets them; a server database is left to `flask journey migrate`, and says so.
    app = make_app()
    with app.app_context():
        if database_url.startswith("sqlite"):
            assert api.create_organization(ORG).slug == ORG
        else:
            with pytest.raises(RuntimeError, match="run `flask journey migrate`"):
                api.create_organization(ORG)


def test_every_function_needs_an_app_context(app):
    with pytest.raises(RuntimeError, match="application context"):
        api.create_organization(ORG)
    with pytest.raises(RuntimeError, match="application context"):
        api.report(ORG, JOURNEY)

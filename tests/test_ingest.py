"""POST /api/ingest (seed 000): what a client sends, what it gets back, what is stored."""

from __future__ import annotations

import json

import pytest

from flask_journey import migrations
from flask_journey.models import Event

from .helpers import JOURNEY, ORG, ORIGIN, SEED_HEADERS, batch, event, post

# The seed's curl example, byte for byte.
SEED_CURL_BODY = """{
    "schemaVersion": 1,
    "context": {
      "orgKey": "example-org",
      "journeyKey": "small-business-grant",
      "language": "en-US",
      "deviceClass": "desktop"
    },
    "events": [
      {
        "_tag": "session_start",
        "schemaVersion": 1,
        "id": "evt_abc123",
        "ts": "2024-01-15T10:30:00.000Z",
        "orgKey": "example-org",
        "journeyKey": "small-business-grant",
        "sessionId": "sess_xyz789",
        "clientId": "client_def456",
        "url": "https://grants.example.com/apply",
        "referrer": "https://google.com",
        "embedVersion": "1.0.0"
      },
      {
        "_tag": "step_view",
        "schemaVersion": 1,
        "id": "evt_abc124",
        "ts": "2024-01-15T10:30:01.000Z",
        "orgKey": "example-org",
        "journeyKey": "small-business-grant",
        "sessionId": "sess_xyz789",
        "clientId": "client_def456",
        "url": "https://grants.example.com/apply/eligibility",
        "stepKey": "eligibility",
        "embedVersion": "1.0.0"
      },
      {
        "_tag": "field_focus",
        "schemaVersion": 1,
        "id": "evt_abc125",
        "ts": "2024-01-15T10:30:05.000Z",
        "orgKey": "example-org",
        "journeyKey": "small-business-grant",
        "sessionId": "sess_xyz789",
        "clientId": "client_def456",
        "url": "https://grants.example.com/apply/eligibility",
        "fieldKey": "business-name",
        "embedVersion": "1.0.0"
      }
    ]
  }"""


def test_seed_curl_example_returns_204_and_export_prints_its_three_events(
    client, journey, exported
):
    response = post(client, SEED_CURL_BODY)

    assert response.status_code == 204
    assert response.data == b""
    events = exported()
    assert [e["event_id"] for e in events] == ["evt_abc123", "evt_abc124", "evt_abc125"]
    assert [e["type"] for e in events] == ["session_start", "step_view", "field_focus"]
    first, step, focus = events
    assert first["occurred_at"] == "2024-01-15T10:30:00.000Z"
    assert first["session_id"] == "sess_xyz789" and first["client_id"] == "client_def456"
    assert first["referrer"] == "https://google.com"
    assert first["language"] == "en-US" and first["device_class"] == "desktop"
    assert first["embed_version"] == "1.0.0" and first["schema_version"] == 1
    assert first["org"] == ORG and first["journey"] == JOURNEY
    assert first["wire_format"] == "journey"
    assert step["step_key"] == "eligibility" and step["path"] == "/apply/eligibility"
    assert focus["field_key"] == "business-name"


def test_seed_server_side_example_is_accepted_without_origin(client, journey, exported):
    body = {
        "schemaVersion": 1,
        "context": {"orgKey": ORG, "journeyKey": JOURNEY, "deviceClass": "desktop"},
        "events": [
            {
                "_tag": "submit_success",
                "schemaVersion": 1,
                "id": "evt_server_1",
                "ts": "2024-01-15T10:31:00.000Z",
                "orgKey": ORG,
                "journeyKey": JOURNEY,
                "sessionId": "sess_xyz789",
                "clientId": "client_def456",
                "url": "https://grants.example.com/apply/submitted",
            }
        ],
    }

    response = post(client, body, headers={"Content-Type": "application/json"})

    assert response.status_code == 204
    assert [e["type"] for e in exported()] == ["submit_success"]


@pytest.mark.parametrize(
    "sent, stored",
    [("mobile", "mobile"), ("laptop", "other"), ("Desktop", "other"), (None, "desktop")],
)
def test_a_device_class_the_seed_does_not_name_is_stored_as_other(
    client, journey, exported, sent, stored
):
    # The seed lists no values for context.deviceClass: an unknown one is no reason to lose
    # the batch. None: derived from the browser's User-Agent.
    headers = {**SEED_HEADERS, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}

    response = post(client, batch(event(), deviceClass=sent), headers=headers)

    assert response.status_code == 204
    assert [e["device_class"] for e in exported()] == [stored]


@pytest.mark.parametrize(
    "tag, props, column, value",
    [
        ("session_start", {}, "type", "session_start"),
        ("session_end", {"reason": "timeout"}, "properties", {"reason": "timeout"}),
        ("page_view", {"title": "Apply"}, "title", "Apply"),
        ("step_view", {"stepKey": "review"}, "step_key", "review"),
        ("field_focus", {"fieldKey": "email"}, "field_key", "email"),
        ("field_blur", {"fieldKey": "email"}, "field_key", "email"),
        ("field_change", {"fieldKey": "email"}, "field_key", "email"),
        (
            "validation_error",
            {"fieldKey": "email", "errorType": "typeMismatch"},
            "error_type",
            "typeMismatch",
        ),
        ("submit_attempt", {}, "type", "submit_attempt"),
        ("submit_success", {}, "type", "submit_success"),
        ("dropoff_signal", {"reason": "hidden"}, "properties", {"reason": "hidden"}),
    ],
)
def test_every_tag_is_stored_with_its_own_property(
    client, journey, exported, tag, props, column, value
):
    response = post(client, batch(event(tag, **props)))

    assert response.status_code == 204
    [stored] = exported()
    assert stored["type"] == tag
    assert stored[column] == value


def test_text_plain_body_from_send_beacon_is_accepted(client, journey, exported):
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN}

    response = post(client, batch(event()), headers=headers)

    assert response.status_code == 204
    assert len(exported()) == 1


def test_retried_batch_stores_nothing_twice(client, journey, exported, cli):
    body = batch(event("page_view", 1), event("step_view", 2, stepKey="eligibility"))

    assert post(client, body).status_code == 204
    assert post(client, body).status_code == 204

    assert len(exported()) == 2
    usage = json.loads(cli("usage", ORG))
    [month] = usage["months"].values()
    assert month == {"events": 2, "requests": 2}


def test_partly_retried_batch_stores_only_the_new_events(client, journey, exported):
    post(client, batch(event("page_view", 1)))

    response = post(client, batch(event("page_view", 1), event("page_view", 2)))

    assert response.status_code == 204
    assert sorted(e["event_id"] for e in exported()) == ["evt_page_view_1", "evt_page_view_2"]


def test_same_event_id_twice_in_one_batch_is_stored_once(client, journey, exported):
    response = post(client, batch(event("page_view", 1), event("page_view", 1)))

    assert response.status_code == 204
    assert len(exported()) == 1


def test_event_ids_are_unique_per_journey_not_globally(client, cli, journey, exported):
    cli("create-journey", ORG, "renewal")
    other = batch(event(journeyKey="renewal"), journeyKey="renewal")

    assert post(client, batch(event())).status_code == 204
    assert post(client, other).status_code == 204

    assert sorted(e["journey"] for e in exported()) == ["renewal", JOURNEY]


def test_timestamps_with_offsets_are_stored_in_utc(client, journey, exported):
    post(client, batch(event(ts="2024-01-15T12:30:00+02:00")))

    assert exported()[0]["occurred_at"] == "2024-01-15T10:30:00.000Z"


def test_device_class_falls_back_to_the_user_agent(client, journey, exported):
    headers = {
        **SEED_HEADERS,
        "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
        " (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    }

    post(client, batch(event()), headers=headers)

    stored = exported()[0]
    assert stored["device_class"] == "mobile"
    assert stored["os"] == "iOS" and stored["browser"] == "Mobile Safari"


def test_export_as_csv_has_a_header_and_a_row_per_event(client, journey, cli):
    post(client, batch(event("page_view", 1), event("page_view", 2)))

    lines = cli("export", "--format", "csv").splitlines()

    assert lines[0].startswith("org,journey,wire_format,event_id,type")
    assert len(lines) == 3


def test_stored_rows_are_readable_through_the_models(app, client, journey):
    post(client, batch(event("step_view", stepKey="eligibility")))

    with app.app_context():
        app.extensions["journey"].activate()
        stored = Event.get()
    assert stored.step_key == "eligibility"
    assert stored.journey.slug == JOURNEY


def test_the_schema_is_checked_once_per_process_and_database_not_per_request(
    client, journey, exported, monkeypatch
):
    checks = []  # each check reads the database's schema version
    version = migrations.version
    monkeypatch.setattr(migrations, "version", lambda db: checks.append(db) or version(db))

    for n in range(3):
        body = batch(event("page_view", n))
        assert client.post("/api/ingest", json=body, headers={"Origin": ORIGIN}).status_code == 204

    assert len(checks) <= 1
    assert len(exported()) == 3

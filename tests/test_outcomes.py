"""Server outcomes joined to web sessions (seed 002's instance id): a collect event or an Events
API custom event with the instance id of a web session counts among the report's outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, post

DAY = "2024-01-15"


@pytest.fixture
def config() -> dict[str, Any]:
    return {"JOURNEY_REPORT_MAX_STALENESS": 0, "JOURNEY_RATELIMIT_ENABLED": False}


def session(name: str, completed: bool, **context: str) -> dict:
    """A seed-000 batch of one session, completed or not; ``context`` may name its instance."""
    tags = ["session_start", "field_focus", "submit_attempt"]
    if completed:
        tags.append("submit_success")
    events = [
        event(tag, f"{name}-{n}", sessionId=name, clientId=f"client-{name}", fieldKey="email")
        for n, tag in enumerate(tags)
    ]
    return batch(*events, **context)


def collect(client, journey, instance: str, action: str) -> None:
    body = {"action": action, "object": "application", "vendor": "crm", "product": "grants",
            "instance_id": instance}  # fmt: skip
    url = f"/collect/{journey['accountId']}/{journey['trackerId']}/event"
    assert client.post(url, json=body).status_code == 204


def outcomes(client, api_key) -> list[dict]:
    response = client.get(
        f"/api/journeys/{JOURNEY}/report?from={DAY}&to={DAY}",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["outcomes"]


def test_server_actions_count_over_the_sessions_that_completed_and_those_that_did_not(
    client, journey, api_key
):
    assert post(client, session("done", True, instanceId="chat-1")).status_code == 204
    failed = session("failed", True)
    for sent in failed["events"]:
        sent["instanceId"] = "chat-2"
    assert post(client, failed).status_code == 204
    assert post(client, session("left", False, instanceId="chat-3")).status_code == 204
    assert post(client, session("unlinked", True)).status_code == 204
    collect(client, journey, "chat-1", "lead")
    collect(client, journey, "chat-2", "lead")
    collect(client, journey, "chat-2", "failed")
    collect(client, journey, "chat-3", "lead")
    collect(client, journey, "nobodys-chat", "lead")
    response = client.post(
        "/api/v1/events/custom",
        json={"site_id": journey["publicKey"], "url": "https://crm.example/app",
              "event_name": "approved", "props": {"instance_id": "chat-1", "plan": "pro"}},
        headers={"Authorization": f"Bearer {api_key}"},
    )  # fmt: skip
    assert response.status_code == 201

    # "Submitted, but failed downstream": a completed session whose application failed.
    assert outcomes(client, api_key) == [
        {"action": "lead", "sessions": 3, "completedSessions": 2},
        {"action": "approved", "sessions": 1, "completedSessions": 1},
        {"action": "failed", "sessions": 1, "completedSessions": 1},
    ]


def test_outcomes_follow_the_reports_filters(client, journey, api_key):
    mobile = session("phone", False, instanceId="chat-9", deviceClass="mobile")
    assert post(client, mobile).status_code == 204
    assert post(client, session("desk", True, instanceId="chat-8")).status_code == 204
    collect(client, journey, "chat-9", "lead")
    collect(client, journey, "chat-8", "lead")

    response = client.get(
        f"/api/journeys/{JOURNEY}/report?from={DAY}&to={DAY}&device=mobile",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.get_json()["outcomes"] == [
        {"action": "lead", "sessions": 1, "completedSessions": 0}
    ]


def test_beyond_twenty_actions_the_rest_are_one_row(client, journey, api_key):
    assert post(client, session("busy", True, instanceId="chat-1")).status_code == 204
    assert post(client, session("calm", False, instanceId="chat-2")).status_code == 204
    for n in range(22):
        collect(client, journey, "chat-1", f"action-{n:02}")
    collect(client, journey, "chat-2", "action-21")

    found = outcomes(client, api_key)

    assert found[0] == {"action": "action-21", "sessions": 2, "completedSessions": 1}
    assert [row["action"] for row in found[1:20]] == [f"action-{n:02}" for n in range(19)]
    assert found[20:] == [{"action": "(other)", "sessions": 1, "completedSessions": 1}]


def test_an_events_api_instance_id_that_is_no_string_is_refused(client, journey, api_key):
    response = client.post(
        "/api/v1/events/custom",
        json={"site_id": journey["publicKey"], "url": "https://crm.example/app",
              "event_name": "approved", "props": {"instance_id": 42}},
        headers={"Authorization": f"Bearer {api_key}", "Origin": ORIGIN},
    )  # fmt: skip

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_props"


def test_the_outcomes_table_as_csv_and_in_the_cli(client, cli, journey, api_key):
    assert post(client, session("done", True, instanceId="chat-1")).status_code == 204
    collect(client, journey, "chat-1", "approved")

    response = client.get(
        f"/api/journeys/{JOURNEY}/report?from={DAY}&to={DAY}&format=csv&table=outcomes",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.get_data(as_text=True).splitlines() == [
        "action,sessions,completedSessions",
        "approved,1,1",
    ]
    table = cli("report", ORG, JOURNEY, "--from", DAY, "--to", DAY).splitlines()
    start = table.index("Server outcomes")
    assert table[start + 1].split() == ["Server", "action", "Sessions", "Completed"]
    assert table[start + 3].split() == ["approved", "1", "1"]

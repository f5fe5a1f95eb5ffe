"""Nothing refused silently: each refusal is logged once and counted per journey and reason.

``flask journey stats`` shows the counts; the log line names the format, the reason and the
tenant, never the body.
"""

from __future__ import annotations

import json
import logging

import pytest

from .helpers import JOURNEY, ORG, ORIGIN

KEY = f"{ORG}/{JOURNEY}"


@pytest.fixture
def config():
    return {"JOURNEY_IDENTITY_SECRET": "refusals"}


def typed(journey) -> str:
    return f"/api/i/v1/{journey['publicKey']}/events"


def pageview(**fields) -> dict:
    return {
        "type": "pageview",
        "url": f"{ORIGIN}/",
        "path": "/",
        "timestamp": 1764547200000,
        **fields,
    }


def batch(*events) -> dict:
    return {"visitorId": "v1", "events": list(events)}


def refusals(cli) -> dict:
    return json.loads(cli("stats")).get(KEY, {}).get("refusals", {})


def test_a_new_journey_has_no_refusals(client, cli, journey):
    client.post(typed(journey), json=batch(pageview()))

    assert "refusals" not in json.loads(cli("stats"))[KEY]


def test_refusals_are_counted_by_reason(client, cli, journey):
    cli("set-org", ORG, "--rate-limit", "1 per hour")
    client.post(typed(journey), json=batch(pageview()), headers={"Origin": "https://evil.example"})
    client.post(typed(journey), json=batch(pageview()), headers={"Origin": "https://evil.example"})
    client.post(typed(journey), json=batch(pageview(), {"type": "nope"}, {"type": "nope"}))
    client.post(typed(journey), json={"visitorId": "v1", "events": "x"})  # journey unknown yet
    client.post(typed(journey), json=batch(pageview()))

    assert refusals(cli) == {"origin": 2, "invalid_event": 2, "rate_limit": 1}
    assert json.loads(cli("stats"))[KEY]["events"] == 1


def test_past_the_quota_is_counted_as_quota(client, cli, journey):
    cli("set-org", ORG, "--quota", "1")

    client.post(typed(journey), json=batch(pageview(), pageview(title="second")))

    assert refusals(cli) == {"quota": 1}


def test_a_refusal_is_logged_once_without_the_body(client, journey, caplog):
    body = batch(
        pageview(),
        {"type": "identify", "url": "u", "path": "/", "email": "not-an-email-but-secret"},
    )

    with caplog.at_level(logging.INFO, logger="flask_journey"):
        response = client.post(typed(journey), json=body)

    assert response.status_code == 207
    [line] = [r.getMessage() for r in caplog.records if r.name == "flask_journey.refusals"]
    assert "format=typed" in line and "reason=invalid_event" in line
    assert f"tenant={KEY}" in line
    assert "email must be an email address" in line
    assert "not-an-email-but-secret" not in line


def test_a_request_refused_before_its_journey_is_known_is_logged(client, journey, caplog):
    with caplog.at_level(logging.INFO, logger="flask_journey"):
        client.post("/api/i/v1/pk_nope/events", json=batch(pageview()))

    [line] = [r.getMessage() for r in caplog.records if r.name == "flask_journey.refusals"]
    assert "reason=not_found" in line and "tenant=unknown" in line


def test_stats_of_one_journey_show_its_refusals_only(client, cli, journey):
    cli("create-journey", ORG, "other", "--allowed-origin", ORIGIN)
    client.post(typed(journey), json=batch({"type": "nope"}))

    only = json.loads(cli("stats", "--org", ORG, "--journey", "other"))

    assert only == {}

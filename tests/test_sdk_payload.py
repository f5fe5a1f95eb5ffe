"""Seed 001 as the vendor's browser SDK really sends it (``@outlit/browser`` 1.4.0).

The SDK's batch carries ``sessionId`` and ``userIdentity``; its stages include ``inactive``; it
sends ``billing`` events, calendar bookings whose ``eventType`` names the invitee, and emails
by a looser rule than ours. tests/test_sdk_browser.py drives the SDK itself in Chromium.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

SECRET = "sdk-payload-secret"
VISITOR = "653d4a1e-eede-469d-b4e3-548fa15e4ae2"
SESSION = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"


@pytest.fixture
def config():
    return {"JOURNEY_IDENTITY_SECRET": SECRET}


def email_hash(email: str) -> str:
    return "eh_" + hmac.new(SECRET.encode(), email.encode(), hashlib.sha256).hexdigest()


def path(journey) -> str:
    return f"/api/i/v1/{journey['publicKey']}/events"


def event(kind: str = "pageview", **fields) -> dict:
    return {
        "type": kind,
        "url": "https://acme.example/app",
        "path": "/app",
        "timestamp": 1764547200000,
        **fields,
    }


def batch(*events, **fields) -> dict:
    return {"visitorId": VISITOR, "source": "client", "events": list(events), **fields}


def test_the_batch_session_and_user_reach_every_event(client, journey, exported):
    body = batch(
        event(),
        event("custom", eventName="clicked"),
        sessionId=SESSION,
        userIdentity={"email": "Jane@Acme.example", "userId": "usr_42"},
    )

    response = client.post(path(journey), json=body)

    assert response.get_json() == {"success": True, "processed": 2}
    assert [(e["session_id"], e["user_id"]) for e in exported()] == [(SESSION, "usr_42")] * 2


def test_an_events_own_session_wins_over_the_batchs(client, journey, exported):
    body = batch(
        event("engagement", sessionId="own", activeTimeMs=5, totalTimeMs=9), sessionId=SESSION
    )

    client.post(path(journey), json=body)

    assert exported()[0]["session_id"] == "own"


def test_a_user_identity_with_only_an_email_stores_its_hash(client, journey, exported):
    client.post(path(journey), json=batch(event(), userIdentity={"email": "jane@acme.example"}))

    assert exported()[0]["user_id"] == email_hash("jane@acme.example")


def test_two_identical_events_of_one_request_are_both_stored_once(client, journey, exported):
    body = batch(event("custom", eventName="clicked"), event("custom", eventName="clicked"))

    first = client.post(path(journey), json=body)
    retry = client.post(path(journey), json=body)

    assert first.get_json() == retry.get_json() == {"success": True, "processed": 2}
    assert len(exported()) == 2


@pytest.mark.parametrize("stage", ["activated", "engaged", "inactive", "paid", "churned"])
def test_every_stage_the_sdk_sends_is_stored(client, journey, exported, stage):
    response = client.post(path(journey), json=batch(event("stage", stage=stage)))

    assert response.status_code == 200
    assert exported()[0]["name"] == stage


@pytest.mark.parametrize("status", ["trialing", "paid", "churned"])
def test_billing_events_are_stored(client, journey, exported, status):
    billing = event(
        "billing",
        status=status,
        customerId="cus_7",
        stripeCustomerId="cus_S7",
        domain="acme.example",
        properties={"plan": "pro", "email": "x@y.example"},
    )

    response = client.post(path(journey), json=batch(billing))

    assert response.status_code == 200
    [stored] = exported()
    assert (stored["type"], stored["name"]) == ("billing", status)
    assert stored["properties"] == {
        "customerId": "cus_7",
        "stripeCustomerId": "cus_S7",
        "domain": "acme.example",
        "plan": "pro",
    }


def test_a_billing_event_needs_a_known_status(client, journey, exported):
    response = client.post(path(journey), json=batch(event(), event("billing", status="free")))

    assert response.status_code == 207
    assert response.get_json()["errors"] == [
        {"index": 1, "message": "status must be one of: trialing, paid, churned"}
    ]


@pytest.mark.parametrize(
    "title, kept",
    [
        ("30 Minute Demo between Acme and Jane Doe", "30 Minute Demo"),
        ("Intro call between Jane Doe and Bob", "Intro call"),
        ("30 Minute Demo", "30 Minute Demo"),
    ],
)
def test_a_calendar_event_type_keeps_no_names(client, journey, exported, title, kept):
    booking = event("calendar", provider="cal.com", eventType=title, inviteeName="Jane Doe")

    client.post(path(journey), json=batch(booking))

    [stored] = exported()
    assert stored["properties"]["eventType"] == kept
    assert "Jane" not in str(stored)


def test_an_email_the_sdk_accepts_is_accepted(client, journey, exported):
    response = client.post(path(journey), json=batch(event("identify", email="jane@acme_co.uk")))

    assert response.status_code == 200
    assert exported()[0]["user_id"] == email_hash("jane@acme_co.uk")


def test_a_refused_email_keeps_the_identifys_user_id(client, journey, exported):
    long_email = "jane" + "x" * 130 + "@acme.example"
    identify = event("identify", email=long_email, userId="usr_42")

    response = client.post(path(journey), json=batch(identify))

    assert response.get_json() == {"success": True, "processed": 1}
    [stored] = exported()
    assert stored["user_id"] == "usr_42"
    assert stored["properties"] is None


def test_a_refused_email_in_the_user_identity_keeps_its_user_id(client, journey, exported):
    body = batch(event(), userIdentity={"email": "not an email", "userId": "usr_42"})

    response = client.post(path(journey), json=body)

    assert response.status_code == 200
    assert exported()[0]["user_id"] == "usr_42"


def test_a_refused_email_alone_is_reported(client, journey, exported):
    response = client.post(path(journey), json=batch(event(), event("identify", email="nope")))

    assert response.status_code == 207
    assert response.get_json()["errors"] == [
        {"index": 1, "message": "email must be an email address"}
    ]

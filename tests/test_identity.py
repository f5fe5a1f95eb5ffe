"""One person, one identity (seed 001): identify links a user id, an email and a visitor, and
the report counts people and their stages, however each event named them."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import pytest

from flask_journey.models import IdentityLink

from .helpers import JOURNEY

SECRET = "test-secret-key"
# The seed's "cURL - Server Events" body: one person, named two ways.
CURL_SERVER = """{
"source": "server",
"events": [
{
"type": "identify",
"url": "server://jane@acme.com",
"path": "/",
"email": "jane@acme.com",
"userId": "usr_123",
"traits": {
"name": "Jane Doe",
"plan": "pro"
}
},
{
"type": "custom",
"url": "server://jane@acme.com",
"path": "/",
"eventName": "subscription_created",
"properties": {
"__email": "jane@acme.com",
"plan": "pro",
"amount": 99
}
}
]
}"""

DAY = "2026-11-10"
NOBODY = {"discovered": 0, "signed_up": 0, "activated": 0, "engaged": 0, "paid": 0}


@pytest.fixture
def config() -> dict[str, Any]:
    return {"SECRET_KEY": SECRET, "JOURNEY_REPORT_MAX_STALENESS": 0}


def email_hash(email: str) -> str:
    """What JOURNEY_IDENTITY = "hash" (the default) stores of an email, under SECRET."""
    return "eh_" + hmac.new(SECRET.encode(), email.encode(), hashlib.sha256).hexdigest()


def at(hour: int | None) -> dict[str, int]:
    """A typed event's timestamp: ``hour`` o'clock UTC on the report's day (none: now)."""
    if hour is None:
        return {}
    moment = dt.datetime(2026, 11, 10, hour, tzinfo=dt.timezone.utc)
    return {"timestamp": int(moment.timestamp() * 1000)}


def send(client, journey, *events: dict, visitor: str | None = None) -> None:
    body: dict[str, Any] = {"source": "client" if visitor else "server", "events": list(events)}
    if visitor:
        body["visitorId"] = visitor
    response = client.post(f"/api/i/v1/{journey['publicKey']}/events", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)


def identify(hour: int | None, **names: str) -> dict:
    return {"type": "identify", "url": "https://example.com/signup", "path": "/signup",
            **at(hour), **names}  # fmt: skip


def stage(hour: int | None, name: str, **properties: str) -> dict:
    return {"type": "stage", "url": "https://example.com/app", "path": "/app", "stage": name,
            "properties": properties, **at(hour)}  # fmt: skip


def users(client, api_key, day: str = DAY) -> dict:
    response = client.get(
        f"/api/journeys/{JOURNEY}/report?from={day}&to={day}",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["events"]["users"]


def stages(**reached: int) -> dict[str, int]:
    return {**NOBODY, "churned": 0, "inactive": 0, **reached}


def test_the_seeds_server_example_is_one_person(client, journey, api_key, exported):
    # identify(jane@acme.com + usr_123) stores user_id usr_123; the custom event naming
    # __email stores the email's hash: one person by two names.
    response = client.post(
        f"/api/i/v1/{journey['publicKey']}/events",
        data=CURL_SERVER,
        content_type="application/json",
    )
    assert response.status_code == 200
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    send(client, journey, stage(None, "paid", __email="jane@acme.com"))

    assert {e["user_id"] for e in exported()} == {"usr_123", email_hash("jane@acme.com")}
    assert users(client, api_key, today) == {
        "identified": 1,
        "stages": stages(discovered=1, signed_up=1, paid=1),
    }


def test_a_visitors_events_before_and_after_an_identify_are_the_persons(client, journey, api_key):
    send(client, journey, stage(9, "activated"), visitor="visitor-1")
    send(client, journey, identify(10, email="jane@acme.com"), visitor="visitor-1")
    send(client, journey, stage(11, "engaged"), visitor="visitor-1")
    send(client, journey, stage(12, "activated"), visitor="visitor-2")  # never identified

    assert users(client, api_key) == {
        "identified": 1,
        "stages": stages(discovered=1, activated=1, engaged=1),
    }


def test_an_identify_naming_an_email_and_a_user_id_known_apart_makes_them_one(
    client, journey, api_key
):
    send(client, journey, identify(9, email="jane@acme.com"), visitor="laptop")
    send(client, journey, identify(10, userId="usr_123"), visitor="phone")
    send(client, journey, stage(11, "paid"), visitor="phone")
    assert users(client, api_key) == {
        "identified": 2,
        "stages": stages(discovered=2, signed_up=1, paid=1),
    }

    send(client, journey, identify(12, email="jane@acme.com", userId="usr_123"), visitor="tab")
    send(client, journey, stage(13, "churned"), visitor="laptop")

    assert users(client, api_key) == {
        "identified": 1,
        "stages": stages(discovered=1, signed_up=1, paid=1, churned=1),
    }


def test_a_browser_stays_with_the_first_person_identified_on_it(client, journey, api_key):
    send(client, journey, identify(9, userId="usr_jane"), visitor="shared")
    send(client, journey, identify(10, userId="usr_bob"), visitor="shared")
    send(client, journey, stage(11, "activated"), visitor="shared")
    send(client, journey, stage(12, "engaged", __userId="usr_bob"), visitor="shared")

    assert users(client, api_key) == {
        "identified": 2,
        "stages": stages(discovered=2, signed_up=2, activated=1, engaged=1),
    }


def test_the_stages_of_identify_count_in_the_range_they_happened(client, journey, api_key):
    send(client, journey, identify(9, email="jane@acme.com"), visitor="v")
    next_day = {"timestamp": at(9)["timestamp"] + 86_400_000}
    send(client, journey, {**identify(9, email="jane@acme.com", userId="usr_1"), **next_day},
         visitor="v")  # fmt: skip

    assert users(client, api_key) == {"identified": 1, "stages": stages(discovered=1)}
    assert users(client, api_key, "2026-11-11") == {
        "identified": 1,
        "stages": stages(signed_up=1),
    }


def test_the_links_hold_identities_as_they_are_stored_never_an_address(app, client, journey):
    send(client, journey, identify(9, email="Jane@Acme.com", userId="usr_1"), visitor="v")

    with app.app_context():
        app.extensions["journey"].activate()
        links = sorted((link.kind, link.alias, link.user_key) for link in IdentityLink.select())
    assert links == [
        ("email", email_hash("jane@acme.com"), "usr_1"),
        ("user", "usr_1", "usr_1"),
        ("visitor", "v", "usr_1"),
    ]


def test_purge_forgets_the_links_no_later_identify_renewed(app, client, cli, journey):
    send(client, journey, identify(9, email="jane@acme.com", userId="usr_1"), visitor="v")
    tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).date().isoformat()

    cli("purge", "--before", tomorrow)

    with app.app_context():
        app.extensions["journey"].activate()
        assert IdentityLink.select().count() == 0

"""Free-form properties keep no address, email, user agent or URL secret, whatever their keys.

The same leaky values go into every format's free-form properties over HTTP (seed 000's
``reason``, seed 001's custom, stage and billing ``properties`` and identify ``traits``, seed
002's extra fields, seed 003's ``props``, seed 004's ``event_data``); ``flask journey export``
shows what was stored, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from flask_journey.privacy import scrub_properties

from .helpers import ORIGIN, batch, event, post

#: Flat values, as the formats whose properties are flat take them.
FLAT = {
    "remote_addr": "203.0.113.9",
    "peer": "[2001:db8::7]:443",
    "next": "https://user:pw@shop.example/cart?token=abc&email=jane%40example.com&utm_source=mail",
    "contact": "jane@example.com",
    "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
    "client": "Dalvik/2.1.0 (Linux; U; Android 11; Pixel 5)",
    "plan": "pro",
}
FLAT_KEPT = {"next": "https://shop.example/cart?email=&utm_source=mail", "plan": "pro"}
NESTED = {
    **FLAT,
    "visitor": {
        "addr": "2001:db8::7",
        "seen": ["198.51.100.4", "kept", {"home": "https://a.example/?sid=1", "api_token": "x"}],
    },
}
NESTED_KEPT = {**FLAT_KEPT, "visitor": {"seen": ["kept", {"home": "https://a.example/?sid="}]}}
LEAKED = ("203.0.113.9", "2001:db8::7", "198.51.100.4", "jane", "Mozilla", "Dalvik", "pw@")


@pytest.fixture
def config() -> dict[str, Any]:
    return {"SECRET_KEY": "privacy-test-secret"}


REASONS = [
    "203.0.113.9",
    "jane@example.com",
    "Mozilla/5.0 (X11; Linux x86_64)",
    "https://a.example/x?email=jane%40example.com",
    "idle",
]


def send_journey(client, journey, api_key):
    events = [event("dropoff_signal", n, reason=r) for n, r in enumerate(REASONS)]
    return post(client, batch(*events))


def send_typed(client, journey, api_key):
    base = {"url": "https://example.com/p", "path": "/p"}
    body = {
        "source": "server",
        "events": [
            {**base, "type": "custom", "eventName": "paid", "properties": FLAT},
            {**base, "type": "stage", "stage": "activated", "properties": FLAT},
            {**base, "type": "billing", "status": "paid", "properties": FLAT},
            {**base, "type": "identify", "userId": "usr_1", "traits": NESTED},
        ],
    }
    return client.post(f"/api/i/v1/{journey['publicKey']}/events", json=body)


def send_collect(client, journey, api_key):
    body = {"action": "view", "object": "form", "vendor": "V", "product": "P", "instance_id": "i1"}
    return client.post(
        f"/collect/{journey['accountId']}/{journey['trackerId']}/event",
        json={**body, **NESTED},
        headers={"Origin": ORIGIN},
    )


def send_events_api(client, journey, api_key):
    body = {"site_id": journey["publicKey"], "event_name": "signup", "url": f"{ORIGIN}/x"}
    return client.post(
        "/api/v1/events/custom",
        json={**body, "props": FLAT},
        headers={"Authorization": f"Bearer {api_key}"},
    )


def send_project(client, journey, api_key):
    body = {
        "projectKey": journey["publicKey"],
        "event_name": "Click",
        "event_data": {"category": "CTA", **NESTED},
        "url": f"{ORIGIN}/page",
    }
    return client.post("/api/events", json=body, headers={"Origin": ORIGIN})


SENDERS = {
    "journey": send_journey,
    "typed": send_typed,
    "collect": send_collect,
    "events_api": send_events_api,
    "project": send_project,
}
#: What each format stores of the leaky values, event by event.
KEPT = {
    "journey": [None, None, None, {"reason": "https://a.example/x?email="}, {"reason": "idle"}],
    "typed": [FLAT_KEPT, FLAT_KEPT, FLAT_KEPT, {"traits": NESTED_KEPT}],
    "collect": [{"object": "form", "vendor": "V", "product": "P", **NESTED_KEPT}],
    "events_api": [FLAT_KEPT],
    "project": [NESTED_KEPT],
}


@pytest.mark.parametrize("wire_format", SENDERS)
def test_free_form_properties_keep_no_address_email_user_agent_or_url_secret(
    client, journey, api_key, exported, wire_format
):
    response = SENDERS[wire_format](client, journey, api_key)

    assert response.status_code < 300, response.get_data(as_text=True)
    stored = [row["properties"] for row in exported() if row["wire_format"] == wire_format]
    assert stored == KEPT[wire_format]


def test_nothing_leaked_reaches_the_export(client, journey, api_key, cli):
    for send in SENDERS.values():
        assert send(client, journey, api_key).status_code < 300

    for fmt in ("ndjson", "csv"):
        output = cli("export", "--format", fmt)
        assert output.count("\n") >= 12
        assert [leak for leak in LEAKED if leak in output] == []


@pytest.mark.parametrize(
    "value, kept",
    [
        ("10.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("[2001:db8::1]", False),
        ("192.0.2.1:8080", False),
        (" 192.0.2.1 ", False),
        ("a@b.example", False),
        ("mailto:a@b.example", False),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)", False),
        ("curl/8.4.0 (x86_64-pc-linux-gnu)", False),
        ("1.2.3", True),
        ("10", True),
        ("plan/pro", True),
        ("@SUM(1)", True),
        ("v2.0 (beta)", True),
    ],
)
def test_a_value_is_kept_unless_it_is_an_address_an_email_or_a_user_agent(value, kept):
    assert scrub_properties({"k": value}) == ({"k": value} if kept else None)


def test_urls_in_properties_follow_the_sites_query_setting():
    props = {"u": "https://a.example/?plan=pro&token=t", "f": "ftp://u:p@files.example/x?k=v"}

    assert scrub_properties(props) == {
        "u": "https://a.example/?plan=",
        "f": "ftp://files.example/x?k=",
    }
    assert scrub_properties(props, keep_query_values=True)["u"] == "https://a.example/?plan=pro"

"""CORS on the ingest routes: what a browser needs to send events and to read every answer.

The SDKs send with ``navigator.sendBeacon`` and ``fetch(..., {keepalive: true})``: credentialed
requests, preflighted when the body is ``application/json``. The answer must echo the page's
origin (never ``*``), allow credentials, vary by origin, and be there on errors too, so that a
page can read a 400 or a 429.
"""

from __future__ import annotations

import pytest

from .helpers import ORG, ORIGIN

#: One route of each wire format.
ROUTES = (
    "/api/ingest",
    "/api/i/v1/pk_unknown/events",
    "/collect/1/2/event",
    "/api/events",
    "/api/v1/events/pageview",
)


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'journey.sqlite3'}"


def assert_readable_by(response, origin: str) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response.headers.get_all("Vary")


@pytest.mark.parametrize("route", ROUTES)
def test_a_credentialed_json_preflight_passes(client, route):
    response = client.options(
        route,
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert response.status_code == 200
    assert_readable_by(response, "https://shop.example")
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()


def typed(journey) -> str:
    return f"/api/i/v1/{journey['publicKey']}/events"


def pageview() -> dict:
    return {
        "visitorId": "v1",
        "events": [
            {"type": "pageview", "url": f"{ORIGIN}/", "path": "/", "timestamp": 1699999999999},
        ],
    }


def test_a_stored_batch_is_readable_by_its_page(client, journey):
    response = client.post(typed(journey), json=pageview(), headers={"Origin": ORIGIN})

    assert response.status_code == 200
    assert_readable_by(response, ORIGIN)


@pytest.mark.parametrize(
    "body, status",
    [("not json", 400), ('{"visitorId": "v", "events": "x"}', 400), ("x" * 600_000, 413)],
)
def test_an_invalid_body_is_readable_by_the_page(client, journey, body, status):
    response = client.post(
        typed(journey), data=body, content_type="application/json", headers={"Origin": ORIGIN}
    )

    assert response.status_code == status
    assert response.get_json()["success"] is False
    assert_readable_by(response, ORIGIN)


def test_an_unknown_key_is_readable_by_the_page(client, journey):
    response = client.post("/api/i/v1/pk_nope/events", json=pageview(), headers={"Origin": ORIGIN})

    assert response.status_code == 404
    assert_readable_by(response, ORIGIN)


def test_an_origin_the_journey_does_not_allow_can_read_why(client, journey):
    response = client.post(
        typed(journey), json=pageview(), headers={"Origin": "https://evil.example"}
    )

    assert response.status_code == 403
    assert_readable_by(response, "https://evil.example")


def test_a_rate_limited_page_can_read_when_to_retry(client, cli, journey):
    cli("set-org", ORG, "--rate-limit", "1 per hour")
    client.post(typed(journey), json=pageview(), headers={"Origin": ORIGIN})

    response = client.post(typed(journey), json=pageview(), headers={"Origin": ORIGIN})

    assert response.status_code == 429
    assert_readable_by(response, ORIGIN)
    assert "Retry-After" in response.headers


def test_the_wildcard_is_never_sent(client, journey):
    for route in ROUTES:
        response = client.post(
            route, data="{}", content_type="application/json", headers={"Origin": ORIGIN}
        )
        assert response.headers.get("Access-Control-Allow-Origin") == ORIGIN, route

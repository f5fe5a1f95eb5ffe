"""Origins are compared exactly: ``scheme://host[:port]`` as a browser writes it, nothing else.

And a seed 004 request without an ``Origin`` header is held to the unknown-origin limit, however
allowed its event's ``url``: anyone can write a URL into a body.
"""

from __future__ import annotations

import json

import pytest

from flask_journey.guard import origin_is_listed
from flask_journey.privacy import is_origin, url_origin

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, post


@pytest.mark.parametrize(
    "url, origin",
    [
        ("https://grants.example.com/apply?x=1#top", "https://grants.example.com"),
        ("HTTPS://Grants.Example.COM/", "https://grants.example.com"),
        ("https://grants.example.com:443/apply", "https://grants.example.com"),
        ("http://grants.example.com:80", "http://grants.example.com"),
        ("https://grants.example.com:8443", "https://grants.example.com:8443"),
        ("http://grants.example.com:443", "http://grants.example.com:443"),
        ("https://user:pw@grants.example.com/", "https://grants.example.com"),
        ("http://[::1]:8000/x", "http://[::1]:8000"),
        ("https://grants.example.com:99999", None),
        ("https://grants.example.com:port", None),
        ("/relative/path", None),
        ("null", None),
        ("", None),
    ],
)
def test_url_origin_is_the_origin_a_browser_would_send(url, origin):
    assert url_origin(url) == origin


@pytest.mark.parametrize(
    "value, exact",
    [
        ("https://grants.example.com", True),
        ("https://grants.example.com:8443", True),
        ("http://[::1]:8000", True),
        ("https://grants.example.com/", False),
        ("https://grants.example.com/apply", False),
        ("https://user@grants.example.com", False),
        ("HTTPS://grants.example.com", False),
        ("https://Grants.example.com", False),
        ("https://grants.example.com:443", False),
        ("https://grants.example.com?", False),
        ("https://grants.example.com#", False),
        (" https://grants.example.com", False),
        ("https://grants.example.com\t", False),
        ("null", False),
    ],
)
def test_is_origin_takes_only_an_origin_as_written(value, exact):
    assert is_origin(value) is exact


def test_an_inexact_origin_is_not_listed_even_when_its_host_is():
    allowed = ["https://grants.example.com"]

    assert origin_is_listed(allowed, "https://grants.example.com") is True
    assert origin_is_listed(allowed, "https://grants.example.com/") is False
    assert origin_is_listed(allowed, "https://GRANTS.example.com") is False
    assert origin_is_listed([], "https://grants.example.com/") is None
    assert origin_is_listed(allowed, None) is None


INEXACT = [
    "https://grants.example.com/",
    "https://grants.example.com/apply",
    "https://user@grants.example.com",
    "https://user:pw@grants.example.com",
    "HTTPS://GRANTS.EXAMPLE.COM",
    "https://grants.example.com:443",
    "https://grants.example.com?x=1",
    "null",
]


@pytest.mark.parametrize("origin", INEXACT)
def test_an_origin_header_that_is_not_exact_is_403_and_stores_nothing(
    client, journey, exported, origin
):
    response = post(
        client, batch(event()), headers={"Origin": origin, "Content-Type": "application/json"}
    )

    assert response.status_code == 403
    assert response.get_json() == {"error": f"Origin {origin} is not allowed for this journey"}
    assert exported() == []


def test_the_exact_origin_is_accepted(client, journey, exported):
    response = post(
        client, batch(event()), headers={"Origin": ORIGIN, "Content-Type": "application/json"}
    )

    assert response.status_code == 204
    assert len(exported()) == 1


def test_allowed_origins_are_stored_as_origins(cli, journey):
    cli("set-origins", ORG, JOURNEY, "HTTPS://Grants.Example.com:443/", "http://x.test:80")

    assert json.loads(cli("show", ORG, JOURNEY))["allowedOrigins"] == [
        "https://grants.example.com",
        "http://x.test",
    ]


class TestSeed004WithoutAnOriginHeader:
    @pytest.fixture
    def config(self):
        return {"JOURNEY_RATELIMIT_UNKNOWN_ORIGIN": "2 per minute"}

    def send(self, client, journey, n: int, **headers):
        body = {
            "projectKey": journey["publicKey"],
            "event_name": f"click-{n}",
            "url": f"{ORIGIN}/page",
        }
        return client.post("/api/events", json=body, headers=headers)

    def test_is_held_to_the_unknown_origin_limit_though_its_url_is_allowed(
        self, client, journey, exported
    ):
        answers = [self.send(client, journey, n).status_code for n in range(3)]

        assert answers == [200, 200, 429]
        assert len(exported()) == 2

    def test_with_an_allowed_origin_header_is_not(self, client, journey, exported):
        answers = [self.send(client, journey, n, Origin=ORIGIN).status_code for n in range(3)]

        assert answers == [200, 200, 200]
        assert len(exported()) == 3

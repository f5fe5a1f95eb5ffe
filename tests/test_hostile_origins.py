"""Allowed origins are origins: ``scheme://host[:port]`` with a valid host, on every surface.

The same hostile values are refused by the Python API (``TenantError``), the management API
(400 in its own shape) and the CLI (exit 1 with a message), and change nothing. A hostile value
stored by an earlier release never reaches the dashboard's Content-Security-Policy.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flask_journey import api
from flask_journey.models import Journey as JourneyRow
from flask_journey.origins import allowed_origin, valid_origins

from .helpers import JOURNEY, ORG, ORIGIN

HOSTILE = [
    "https://a.example;script-src *",
    "http://*",
    "https://*.example",
    "https://a.example https://b.example",
    "https://a.example,https://b.example",
    "javascript:alert(1)",
    "data:text/html,x",
    "ftp://a.example",
    "https://a.example/path",
    "https://a.example?x=1",
    "https://a.example#top",
    "https://user@a.example",
    "https://a.example:0",
    "https://a.example:99999",
    "https://-bad-.example",
    "https://a..b",
    "https://a.example.",
    "https://a.example\r\nX: y",
    "https://",
    "*",
    "null",
    "'self'",
    '"https://a.example"',
    "https://a.example'",
    "https://1.2.3.999",
    "https://a b.example",
    "https://a.example\\@b.example",
]


@pytest.fixture
def config() -> dict[str, Any]:
    return {"SECRET_KEY": "origins-test-secret"}


@pytest.mark.parametrize("value", HOSTILE)
def test_the_python_api_refuses_a_value_that_is_no_origin(app, journey, value):
    with app.app_context():
        with pytest.raises(api.TenantError, match="invalid origin") as refused:
            api.update_journey(ORG, JOURNEY, origins=[ORIGIN, value])
        with pytest.raises(api.TenantError, match="invalid origin"):
            api.create_journey(ORG, "other", origins=[value])

        assert refused.value.argument == "origins"
        assert api.get_journey(ORG, JOURNEY).allowed_origins == [ORIGIN]
        assert [j.slug for j in api.list_journeys(ORG)] == [JOURNEY]


@pytest.mark.parametrize("value", HOSTILE)
def test_the_management_api_answers_400_and_changes_nothing(client, cli, api_key, value):
    auth = {"Authorization": f"Bearer {api_key}"}

    put = client.put(f"/api/journeys/{JOURNEY}", headers=auth, json={"allowedOrigins": [value]})
    post = client.post(
        "/api/journeys", headers=auth, json={"journeyKey": "other", "allowedOrigins": [value]}
    )

    for response in (put, post):
        assert response.status_code == 400
        assert response.get_json()["error"].startswith("Invalid request: invalid origin")
    assert json.loads(cli("show", ORG, JOURNEY))["allowedOrigins"] == [ORIGIN]
    assert client.get("/api/journeys/other", headers=auth).status_code == 404


@pytest.mark.parametrize("value", HOSTILE)
def test_the_cli_exits_1_with_a_message_and_changes_nothing(runner, cli, journey, value):
    for args in (
        ("set-origins", ORG, JOURNEY, ORIGIN, value),
        ("create-journey", ORG, "other", "--allowed-origin", value),
    ):
        result = runner.invoke(args=["journey", *args])
        assert result.exit_code == 1
        assert "Error: invalid origin" in result.output
        assert "\r" not in result.output and "\n" not in result.output.rstrip("\n")

    assert json.loads(cli("show", ORG, JOURNEY))["allowedOrigins"] == [ORIGIN]


@pytest.mark.parametrize(
    "given, stored",
    [
        ("HTTPS://Grants.Example.com:443/", "https://grants.example.com"),
        ("http://grants.example.com:8080", "http://grants.example.com:8080"),
        ("http://localhost:5000", "http://localhost:5000"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        # An internationalised host is kept as browsers send it: a homoglyph shows as what it is.
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://\u0430pple.example", "https://xn--pple-43d.example"),
    ],
)
def test_an_origin_is_stored_as_browsers_send_it(cli, journey, given, stored):
    cli("set-origins", ORG, JOURNEY, given)

    assert json.loads(cli("show", ORG, JOURNEY))["allowedOrigins"] == [stored]
    assert allowed_origin(given) == stored


def test_a_hostile_value_stored_by_an_earlier_release_never_reaches_the_csp(
    app, client, cli, api_key
):
    with app.app_context():
        app.extensions["journey"].activate()
        JourneyRow.update(allowed_origins=[*HOSTILE, ORIGIN]).execute()
    share = cli("share", ORG, JOURNEY).strip().removeprefix("http://localhost:5000")
    page = client.get("/journey/sign-in").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/journey/sign-in", data={"csrf_token": token, "key": api_key})

    for path in (f"/journey/{ORG}/{JOURNEY}/", share):
        response = client.get(path)
        assert response.status_code == 200
        directives = response.headers["Content-Security-Policy"].split("; ")
        assert directives == [
            "default-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
            f"frame-ancestors {ORIGIN}",
        ]


def test_only_hostile_values_leave_the_dashboard_framed_by_no_one(app, client, cli, journey):
    with app.app_context():
        app.extensions["journey"].activate()
        JourneyRow.update(allowed_origins=HOSTILE).execute()
    share = cli("share", ORG, JOURNEY).strip().removeprefix("http://localhost:5000")

    csp = client.get(share).headers["Content-Security-Policy"]

    assert csp.endswith("; frame-ancestors 'none'")
    assert valid_origins(HOSTILE) == []

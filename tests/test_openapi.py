"""GET /api/openapi.json: a valid OpenAPI 3.1 description of every endpoint, as the code answers."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from flask_journey import openapi

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, post

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: A value for each path parameter, to match the description's paths against the app's routes.
SAMPLE = {"publicKey": "pk_0", "aid": "1", "tid": "1", "journeyKey": JOURNEY}


@pytest.fixture
def database_url(tmp_path) -> str:
    """What is checked here is the shape of answers, which is the same on every database."""
    return f"sqlite:///{tmp_path / 'journey.sqlite3'}"


@pytest.fixture
def description(client) -> dict[str, Any]:
    response = client.get(openapi.URL)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def operation_of(description: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return description["paths"][path][method.lower()]


def assert_conforms(description: dict[str, Any], method: str, path: str, response) -> None:
    """The response's status, headers and body are those the description declares."""
    declared = operation_of(description, method, path)["responses"]
    assert str(response.status_code) in declared, (response.status_code, response.data)
    declared = declared[str(response.status_code)]
    for header, spec in declared.get("headers", {}).items():
        assert not spec.get("required") or header in response.headers, header
    data = response.get_data()
    response.close()
    if "content" not in declared:
        assert data == b""
        return
    assert response.mimetype in declared["content"]
    schema = declared["content"][response.mimetype].get("schema")
    if schema is not None and response.is_json:
        # The description is the root document, so that "#/components/..." references resolve.
        validator = Draft202012Validator({**description, **schema})
        errors = [e.message for e in validator.iter_errors(json.loads(data))]
        assert not errors, (data, errors)


def test_description_is_valid_openapi_3_1(description):
    assert description["openapi"] == "3.1.0"
    validate_openapi(description)


def test_every_route_the_app_serves_is_described_and_every_described_path_is_served(
    app, description
):
    adapter = app.url_map.bind("localhost")
    described = set()
    for path, operations in description["paths"].items():
        concrete = re.sub(r"{(\w+)}", lambda m: SAMPLE[m.group(1)], path)
        for method in operations:
            endpoint, _ = adapter.match(concrete, method.upper())
            described.add((endpoint, method.upper()))
    served = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        # The dashboard's pages are HTML for people (docs/dashboard.md), not part of the API.
        if rule.endpoint != "static" and not rule.endpoint.startswith("journey_dashboard.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert described == served


def test_docs_copy_is_what_the_code_generates(description):
    spec = importlib.util.spec_from_file_location(
        "build_openapi", ROOT / "scripts" / "build_openapi.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)

    generated = build.build()

    assert (DOCS / "openapi.json").read_text(encoding="utf-8") == generated, (
        "docs/openapi.json drifted from the code: run python scripts/build_openapi.py"
    )
    assert json.loads(generated) == description


@pytest.mark.parametrize("page", sorted({e.docs for e in openapi.ENDPOINTS}))
def test_every_status_a_docs_page_lists_is_declared_for_its_endpoints(description, page):
    documented = set(
        re.findall(r"^\| ([1-5]\d\d) \|", (DOCS / page).read_text(encoding="utf-8"), re.MULTILINE)
    )
    declared = {
        status
        for e in openapi.ENDPOINTS
        if e.docs == page
        for status in operation_of(description, e.method, e.path)["responses"]
    }

    assert documented <= declared


def test_only_mounted_formats_are_described(make_app):
    app = make_app(JOURNEY_FORMATS=["journey"], JOURNEY_MAX_BATCH_EVENTS=20)

    description = app.test_client().get(openapi.URL).get_json()

    ingest_paths = {e.path for e in openapi.ENDPOINTS if e.wire_format}
    assert set(description["paths"]) & ingest_paths == {"/api/ingest"}
    events = description["components"]["schemas"]["JourneyBatch"]["properties"]["events"]
    assert events["maxItems"] == 20


# The answers of each format conform to what it declares.


def _event(**extra: Any) -> dict[str, Any]:
    return {
        "_tag": "page_view",
        "schemaVersion": 1,
        "id": "evt_1",
        "ts": "2024-01-15T10:30:00Z",
        "orgKey": ORG,
        "journeyKey": JOURNEY,
        "sessionId": "s",
        "clientId": "c",
        "url": f"{ORIGIN}/apply",
        **extra,
    }


def requests_of(shown: dict[str, Any], key: str) -> dict[str, tuple[str, str, Any, dict]]:
    """A valid request to each format's endpoint, by path: (rule, url, body, headers)."""
    auth = {"Authorization": f"Bearer {key}"}
    ids = f"{shown['accountId']}/{shown['trackerId']}"
    return {
        "/api/ingest": (
            "/api/ingest",
            "/api/ingest",
            {
                "schemaVersion": 1,
                "context": {"orgKey": ORG, "journeyKey": JOURNEY},
                "events": [_event()],
            },
            {},
        ),
        "/api/i/v1/{publicKey}/events": (
            "/api/i/v1/{publicKey}/events",
            f"/api/i/v1/{shown['publicKey']}/events",
            {"visitorId": "v", "events": [{"type": "pageview", "url": f"{ORIGIN}/", "path": "/"}]},
            {},
        ),
        "/collect/{aid}/{tid}/event": (
            "/collect/{aid}/{tid}/event",
            f"/collect/{ids}/event",
            {"action": "a", "object": "o", "vendor": "v", "product": "p", "instance_id": "i"},
            {},
        ),
        "/api/v1/events/pageview": (
            "/api/v1/events/pageview",
            "/api/v1/events/pageview",
            {"site_id": shown["publicKey"], "url": f"{ORIGIN}/"},
            auth,
        ),
        "/api/events": (
            "/api/events",
            "/api/events",
            {"projectKey": shown["publicKey"], "event_name": "e", "url": f"{ORIGIN}/"},
            {},
        ),
    }


FORMAT_PATHS = [
    "/api/ingest",
    "/api/i/v1/{publicKey}/events",
    "/collect/{aid}/{tid}/event",
    "/api/v1/events/pageview",
    "/api/events",
]


@pytest.mark.parametrize("path", FORMAT_PATHS)
def test_success_and_refusals_of_each_format_are_as_described(
    client, journey, api_key, description, path
):
    rule, url, body, headers = requests_of(journey, api_key)[path]

    def send(payload: Any = body, *, origin: str = ORIGIN) -> int:
        response = client.post(url, json=payload, headers={**headers, "Origin": origin})
        assert_conforms(description, "POST", rule, response)
        return response.status_code

    assert send() in (200, 201, 204)
    assert send(["not", "an", "object"]) == 400
    assert send(origin="https://evil.example") == 403
    assert send({**body, "padding": "x" * 600_000}) == 413


@pytest.mark.parametrize("path", FORMAT_PATHS)
def test_rate_limited_answer_of_each_format_is_as_described(
    make_app, app, journey, api_key, description, path
):
    rule, url, body, headers = requests_of(journey, api_key)[path]
    client = make_app(JOURNEY_RATELIMIT_DEFAULT="1 per hour").test_client()
    statuses = []
    for _ in range(2):
        response = client.post(url, json=body, headers={**headers, "Origin": ORIGIN})
        assert_conforms(description, "POST", rule, response)
        statuses.append(response.status_code)

    assert statuses[1] == 429
    assert int(response.headers["Retry-After"]) > 0


def test_management_api_answers_are_as_described(client, journey, api_key, description):
    auth = {"Authorization": f"Bearer {api_key}"}
    calls = [
        ("GET", "/api/journeys", "/api/journeys", None, auth, 200),
        ("GET", "/api/journeys", "/api/journeys", None, {}, 401),
        ("POST", "/api/journeys", "/api/journeys", {"journeyKey": "renewal"}, auth, 201),
        ("POST", "/api/journeys", "/api/journeys", {"journeyKey": 1}, auth, 400),
        ("GET", "/api/journeys/{journeyKey}", f"/api/journeys/{JOURNEY}", None, auth, 200),
        ("GET", "/api/journeys/{journeyKey}", "/api/journeys/nope", None, auth, 404),
        (
            "PUT",
            "/api/journeys/{journeyKey}",
            f"/api/journeys/{JOURNEY}",
            {"allowedOrigins": [ORIGIN]},
            auth,
            200,
        ),
        (
            "PUT",
            "/api/journeys/{journeyKey}",
            f"/api/journeys/{JOURNEY}",
            {"allowedOrigins": ["x" * 600_000]},
            auth,
            413,
        ),
    ]
    for method, rule, url, body, headers, status in calls:
        response = client.open(url, method=method, json=body, headers=headers)
        assert response.status_code == status, (method, url, response.data)
        assert_conforms(description, method, rule, response)


def test_report_api_answers_are_as_described(client, journey, api_key, description):
    visit = [
        event("session_start", 1),
        event("step_view", 2, stepKey="eligibility"),
        event("field_focus", 3, stepKey="eligibility", fieldKey="email"),
        event("validation_error", 4, stepKey="eligibility", fieldKey="email"),
        event("dropoff_signal", 5, stepKey="eligibility", reason="idle"),
    ]
    assert post(client, batch(*visit)).status_code == 204
    auth = {"Authorization": f"Bearer {api_key}"}
    rule = "/api/journeys/{journeyKey}/report"
    day = "from=2024-01-15&to=2024-01-15"
    for query, headers, status in [
        (day, auth, 200),
        (f"{day}&breakdown=device", auth, 200),
        ("from=2024-01-01&to=2024-01-31&compare=false&device=desktop", auth, 200),
        (f"{day}&format=csv&table=trend", auth, 200),
        ("from=someday", auth, 400),
        (day, {}, 401),
    ]:
        response = client.get(f"/api/journeys/{JOURNEY}/report?{query}", headers=headers)
        assert response.status_code == status, (query, response.data)
        assert_conforms(description, "GET", rule, response)


def test_embed_script_and_description_are_as_described(client, description):
    for path in ("/embed/v1.js", openapi.URL):
        response = client.get(path)
        assert response.status_code == 200
        assert_conforms(description, "GET", path, response)

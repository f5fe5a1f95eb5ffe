"""POST /api/ingest refusals: every documented error, and hostile bodies, store nothing."""

from __future__ import annotations

import io
import json

import pytest

from .helpers import JOURNEY, ORG, batch, event, post


def refused(response, status: int) -> str:
    assert response.status_code == status, response.data
    assert response.is_json
    body = response.get_json()
    assert list(body) == ["error"]
    return body["error"]


def test_unknown_organization_is_404_organization_not_found(client, journey, exported):
    body = batch(event(orgKey="nobody"), orgKey="nobody")

    response = post(client, body)

    assert response.status_code == 404
    assert response.get_json() == {"error": "Organization not found"}
    assert exported() == []


def test_unknown_journey_is_404_journey_not_found(client, journey, exported):
    body = batch(event(journeyKey="nothing"), journeyKey="nothing")

    response = post(client, body)

    assert response.status_code == 404
    assert response.get_json() == {"error": "Journey not found"}


def test_missing_events_array_is_the_seeds_400(client, journey):
    body = {"schemaVersion": 1, "context": {"orgKey": ORG, "journeyKey": JOURNEY}}

    response = post(client, body)

    assert response.status_code == 400
    assert response.get_json() == {"error": "Invalid request: events array is required"}


def test_bad_timestamp_is_the_seeds_400_and_nothing_of_the_batch_is_stored(
    client, journey, exported
):
    body = batch(event("page_view", 1), event("page_view", 2, ts="15/01/2024 10:30"))

    response = post(client, body)

    assert response.status_code == 400
    assert response.get_json() == {
        "error": "Invalid request: ts must be a valid ISO 8601 timestamp"
    }
    assert exported() == []


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b.pop("schemaVersion"), "schemaVersion is required"),
        (lambda b: b.update(schemaVersion=2), "schemaVersion must be 1"),
        (lambda b: b.update(schemaVersion="1"), "schemaVersion must be an integer"),
        (lambda b: b.pop("context"), "context is required"),
        (lambda b: b.update(context="example-org"), "context must be an object"),
        (lambda b: b["context"].pop("orgKey"), "orgKey is required"),
        (lambda b: b["context"].update(journeyKey=7), "journeyKey must be a string"),
        (lambda b: b["context"].update(deviceClass=3), "deviceClass must be a string"),
        (lambda b: b.update(events={}), "events must be an array"),
        (lambda b: b.update(events=[1]), "events must be objects"),
        (
            lambda b: b["events"][0].update(_tag="keypress"),
            "_tag must be one of: session_start, session_end, page_view, step_view, field_focus, "
            "field_blur, field_change, validation_error, submit_attempt, submit_success, "
            "dropoff_signal",
        ),
        (lambda b: b["events"][0].pop("id"), "id is required"),
        (lambda b: b["events"][0].update(id=""), "id must be 1 to 128 characters"),
        (lambda b: b["events"][0].update(sessionId=12345), "sessionId must be a string"),
        (lambda b: b["events"][0].pop("clientId"), "clientId is required"),
        (lambda b: b["events"][0].update(url=None), "url is required"),
        (lambda b: b["events"][0].update(ts=1705314600), "ts must be a valid ISO 8601 timestamp"),
        (lambda b: b["events"][0].update(_tag="step_view"), "stepKey is required for step_view"),
        (lambda b: b["events"][0].update(orgKey="other-org"), "orgKey must match context.orgKey"),
        (
            lambda b: b["events"][0].update(journeyKey="other"),
            "journeyKey must match context.journeyKey",
        ),
        (
            lambda b: b["events"][0].update(fieldKey="f" * 129),
            "fieldKey must be at most 128 characters",
        ),
    ],
)
def test_invalid_batches_are_400_naming_the_field(client, journey, exported, mutate, message):
    body = batch(event())
    mutate(body)

    response = post(client, body)

    assert refused(response, 400) == f"Invalid request: {message}"
    assert exported() == []


def test_too_many_events_is_400_and_stores_nothing(make_app, journey, exported):
    app = make_app(JOURNEY_MAX_BATCH_EVENTS=3)
    body = batch(*(event("page_view", n) for n in range(4)))

    response = post(app.test_client(), body)

    assert refused(response, 400) == "Invalid request: events must contain at most 3 events"
    assert exported() == []


def test_huge_body_is_413(client, journey, exported):
    body = json.dumps(batch(event(title="x" * 600_000)))

    response = post(client, body)

    assert refused(response, 413) == "Request body exceeds 524288 bytes"
    assert exported() == []


def test_huge_body_without_content_length_is_413(client, journey):
    response = client.post(
        "/api/ingest",
        input_stream=io.BytesIO(b"x" * 600_000),
        headers={"Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert refused(response, 413) == "Request body exceeds 524288 bytes"


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "body must not be empty"),
        (b"   ", "body must not be empty"),
        (b"not json", "body must be valid JSON"),
        (b'{"schemaVersion": 1,', "body must be valid JSON"),
        (b"\xff\xfe{}", "body must be valid UTF-8"),
        (b'{"a": "\xc3\x28"}', "body must be valid UTF-8"),
        (b'{"a": "nul\x00"}', "body must not contain NUL characters"),
        (b'{"a": "nul\\u0000"}', "body must not contain NUL characters"),
        (b'{"a": "lone \\ud800 surrogate"}', "body must not contain unpaired surrogates"),
        (b"[" * 100_000 + b"]" * 100_000, "body is nested too deeply"),
        (b"[]", "body must be a JSON object"),
        (b'"a string"', "body must be a JSON object"),
        (b"null", "body must be a JSON object"),
        (b'{"a": NaN}', "body must not contain NaN or infinite numbers"),
        (b'{"a": -Infinity}', "body must not contain NaN or infinite numbers"),
        (b'{"a": 1e400}', "body must not contain NaN or infinite numbers"),
    ],
)
def test_hostile_bodies_are_400_never_500(client, journey, exported, body, message):
    response = post(client, body)

    assert refused(response, 400) == f"Invalid request: {message}"
    assert exported() == []


def test_nested_objects_where_strings_belong_are_400(client, journey, exported):
    deep: dict = {}
    cursor = deep
    for _ in range(500):
        cursor["a"] = {}
        cursor = cursor["a"]

    response = post(client, batch(event(title=deep)))

    assert refused(response, 400) == "Invalid request: title must be a string"
    assert exported() == []


def test_unlisted_properties_are_dropped_not_stored(client, journey, exported):
    typed = event(
        "field_change",
        fieldKey="business-name",
        value="Acme Ltd",
        fieldValue="Acme Ltd",
        text="typed text",
        properties={"v": "secret"},
    )

    response = post(client, batch(typed))

    assert response.status_code == 204
    [stored] = exported()
    assert "Acme" not in json.dumps(stored) and "typed text" not in json.dumps(stored)
    assert stored["field_key"] == "business-name"


def test_form_encoded_body_is_400(client, journey):
    response = client.post(
        "/api/ingest", data={"a": "b"}, headers={"Origin": "https://grants.example.com"}
    )

    assert refused(response, 400) == (
        "Invalid request: body must be JSON (application/json or text/plain)"
    )


def test_get_is_405(client, journey):
    assert client.get("/api/ingest").status_code == 405

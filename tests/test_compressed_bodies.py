"""Compressed request bodies and content types: gzip and deflate accepted everywhere, bombs stopped.

``Content-Encoding: gzip`` / ``deflate`` bodies are inflated within ``JOURNEY_MAX_BODY_BYTES``;
unknown encodings and a ``Content-Type`` that is no media type get 415 in the format's shape.
What a body's encoding is has nothing to do with the backend: these run on SQLite.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from flask_journey import payload

from .helpers import JOURNEY, ORG, ORIGIN, batch, event

LIMIT = 64 * 1024


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'journey.sqlite3'}"


@pytest.fixture
def config() -> dict[str, Any]:
    return {"JOURNEY_MAX_BODY_BYTES": LIMIT, "SECRET_KEY": "compressed"}


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


def zlibbed(data: bytes) -> bytes:
    return zlib.compress(data)


def raw_deflated(data: bytes) -> bytes:
    encoder = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return encoder.compress(data) + encoder.flush()


ENCODINGS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", gzipped),
    "x-gzip": ("x-gzip", gzipped),
    "deflate-zlib": ("deflate", zlibbed),
    "deflate-raw": ("deflate", raw_deflated),
    "upper-case-gzip": ("GZIP", gzipped),
}


# Each endpoint: (method, path, body, status when stored, shape of a refusal).
def endpoints(journey: dict, api_key: str) -> dict[str, tuple[str, str, dict, int, Callable]]:
    key = journey["publicKey"]
    error_only = lambda body: list(body) == ["error"] and isinstance(body["error"], str)  # noqa: E731
    return {
        "journey": ("POST", "/api/ingest", batch(event()), 204, error_only),
        "typed": (
            "POST",
            f"/api/i/v1/{key}/events",
            {"visitorId": "v1", "events": [{"type": "pageview", "url": f"{ORIGIN}/", "path": "/"}]},
            200,
            lambda body: body["success"] is False and body["errors"][0]["index"] == -1,
        ),
        "collect": (
            "POST",
            f"/collect/{journey['accountId']}/{journey['trackerId']}/event",
            {
                "action": "view",
                "object": "form",
                "vendor": "V",
                "product": "P",
                "instance_id": "i1",
            },
            204,
            error_only,
        ),
        "events_api": (
            "POST",
            "/api/v1/events/pageview",
            {"site_id": key, "url": f"{ORIGIN}/"},
            201,
            lambda body: set(body["error"]) == {"code", "message", "field"},
        ),
        "project": (
            "POST",
            "/api/events",
            {"projectKey": key, "event_name": "x", "url": f"{ORIGIN}/"},
            200,
            lambda body: body["success"] is False and isinstance(body["error"], str),
        ),
        "admin": (
            "PUT",
            f"/api/journeys/{JOURNEY}",
            {"allowedOrigins": [ORIGIN]},
            200,
            error_only,
        ),
    }


NAMES = ("journey", "typed", "collect", "events_api", "project", "admin")


def send(client, journey, api_key, name: str, data: bytes, **headers: str):
    method, path, _, _, _ = endpoints(journey, api_key)[name]
    return client.open(
        path,
        method=method,
        data=data,
        headers={
            "Content-Type": "application/json",
            "Origin": ORIGIN,
            "Authorization": f"Bearer {api_key}",
            **{k.replace("_", "-"): v for k, v in headers.items()},
        },
    )


def stored(exported) -> int:
    return len(exported())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_compressed_bodies_are_inflated_and_stored(
    client, journey, api_key, exported, name, encoding
):
    header, compress = ENCODINGS[encoding]
    _, _, body, status, _ = endpoints(journey, api_key)[name]

    response = send(
        client, journey, api_key, name, compress(json.dumps(body).encode()), Content_Encoding=header
    )

    assert response.status_code == status, response.data
    assert stored(exported) == (0 if name == "admin" else 1)


@pytest.mark.parametrize("name", NAMES)
def test_a_gzip_bomb_is_413_having_inflated_no_more_than_the_limit(
    client, journey, api_key, exported, monkeypatch, name
):
    bomb = gzipped(b"0" * 10_000_000)
    assert len(bomb) < LIMIT
    inflated = []
    real = zlib.decompressobj

    class Counting:
        def __init__(self, *args: Any) -> None:
            self._inner = real(*args)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self._inner.decompress(data, max_length)
            inflated.append(len(out))
            return out

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    monkeypatch.setattr(payload.zlib, "decompressobj", Counting)

    response = send(client, journey, api_key, name, bomb, Content_Encoding="gzip")

    assert response.status_code == 413
    assert endpoints(journey, api_key)[name][4](response.get_json())
    assert LIMIT < sum(inflated) <= LIMIT + 1
    assert stored(exported) == 0


def test_a_body_within_the_limit_compressed_but_over_it_inflated_is_413(
    client, journey, api_key, exported
):
    body = batch(event(title="x" * 500), *(event("page_view", n) for n in range(2, 400)))
    data = json.dumps(body).encode()
    assert len(data) > LIMIT

    response = send(client, journey, api_key, "journey", gzipped(data), Content_Encoding="gzip")

    assert response.status_code == 413
    assert response.get_json() == {"error": f"Request body exceeds {LIMIT} bytes once inflated"}
    assert stored(exported) == 0


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x1f\x8bnot gzip at all", "body is not valid gzip data"),
        (gzipped(b'{"a": 1}')[:-12], "body is not valid gzip data (truncated)"),
        (gzipped(b'{"a": 1}') + b"trailing", "body has data after the end of its gzip data"),
    ],
    ids=["garbage", "truncated", "trailing-data"],
)
def test_invalid_gzip_is_400_in_the_formats_shape(client, journey, api_key, data, message):
    response = send(client, journey, api_key, "journey", data, Content_Encoding="gzip")

    assert response.status_code == 400
    assert response.get_json() == {"error": f"Invalid request: {message}"}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("encoding", ["br", "compress", "gzip, gzip", "zstd"])
def test_an_unknown_encoding_is_415_in_the_formats_shape(
    client, journey, api_key, exported, name, encoding
):
    _, _, body, _, shaped = endpoints(journey, api_key)[name]

    response = send(
        client, journey, api_key, name, json.dumps(body).encode(), Content_Encoding=encoding
    )

    assert response.status_code == 415
    assert shaped(response.get_json())
    assert stored(exported) == 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("content_type", [";;;", "json", "application/", "/", "a/b/c"])
def test_a_content_type_that_is_no_media_type_is_415_in_the_formats_shape(
    client, journey, api_key, exported, name, content_type
):
    _, _, body, _, shaped = endpoints(journey, api_key)[name]

    response = send(
        client, journey, api_key, name, json.dumps(body).encode(), Content_Type=content_type
    )

    assert response.status_code == 415
    assert shaped(response.get_json())
    assert stored(exported) == 0


def test_the_415_names_what_is_wrong_in_each_formats_words(client, journey, api_key):
    journey_answer = send(client, journey, api_key, "journey", b"{}", Content_Type=";;;")
    events_api_answer = send(client, journey, api_key, "events_api", b"{}", Content_Encoding="br")

    assert journey_answer.get_json() == {
        "error": "Invalid request: Content-Type ';;;' is not a media type"
    }
    assert events_api_answer.get_json() == {
        "error": {
            "code": "invalid_request",
            "message": "Content-Encoding 'br' is not supported (gzip, deflate or identity)",
            "field": "body",
        }
    }


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain;charset=UTF-8",
        "application/vnd.journey+json",
        None,
    ],
)
def test_the_content_types_browsers_and_seed_clients_send_keep_working(
    client, journey, exported, content_type
):
    headers = {"Origin": ORIGIN}
    if content_type is not None:
        headers["Content-Type"] = content_type

    response = client.post("/api/ingest", data=json.dumps(batch(event())), headers=headers)

    assert response.status_code == 204
    assert [row["org"] for row in exported()] == [ORG]


def test_identity_encoding_is_the_body_as_it_is(client, journey, api_key, exported):
    response = send(
        client,
        journey,
        api_key,
        "journey",
        json.dumps(batch(event())).encode(),
        Content_Encoding="identity",
    )

    assert response.status_code == 204
    assert stored(exported) == 1

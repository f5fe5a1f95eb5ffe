"""The five requests issue 15 found answered 500: each now a 4xx or 503 in its format's shape.

Out-of-range times (seed 000 ``ts``, seed 004 ``timestamp``), a seed 004 ``value`` too large for
a float, the management API while the database is down, and malformed or truncated chunked bodies
sent to a real gunicorn (the test client cannot send one).
"""

from __future__ import annotations

import json
import socket

import pytest
from flask import Flask

from flask_journey import Journey
from scripts.servers import free_port

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, post

OUT_OF_RANGE = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")
TIME_MESSAGE = "must be between 0001-01-01 and 9999-12-31 in UTC"


@pytest.mark.parametrize("ts", OUT_OF_RANGE)
def test_seed_000_ts_out_of_utc_range_is_400_and_the_batch_is_not_stored(
    client, journey, exported, ts
):
    response = post(client, batch(event("page_view", 1), event("page_view", 2, ts=ts)))

    assert response.status_code == 400
    assert response.get_json() == {"error": f"Invalid request: ts {TIME_MESSAGE}"}
    assert exported() == []


def project_event(journey, **changes) -> dict:
    return {
        "projectKey": journey["publicKey"],
        "event_name": "ButtonClick",
        "url": f"{ORIGIN}/page",
        **changes,
    }


@pytest.mark.parametrize("timestamp", OUT_OF_RANGE)
def test_seed_004_timestamp_out_of_utc_range_is_400(client, journey, exported, timestamp):
    response = client.post(
        "/api/events",
        json=project_event(journey, timestamp=timestamp),
        headers={"Origin": ORIGIN},
    )

    assert response.status_code == 400
    assert response.get_json() == {"success": False, "error": f"timestamp {TIME_MESSAGE}"}
    assert exported() == []


def test_seed_004_value_too_large_for_a_float_is_400(client, journey, exported):
    body = json.dumps(project_event(journey, event_data={"value": 1})).replace(
        '"value": 1', '"value": 1' + "0" * 400
    )

    response = client.post(
        "/api/events",
        data=body,
        headers={"Origin": ORIGIN, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.get_json() == {"success": False, "error": "event_data must be a finite number"}
    assert exported() == []


@pytest.fixture
def unreachable_app(tmp_path) -> Flask:
    """A site whose database is a PostgreSQL URL on a loopback port where nothing listens."""
    app = Flask("down", instance_path=str(tmp_path / "instance"))
    app.config.update(
        TESTING=True,
        JOURNEY_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/journey",
    )
    Journey().init_app(app)
    return app


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_management_api_answers_503_json_while_the_database_is_down(unreachable_app, method):
    response = unreachable_app.test_client().open(
        f"/api/journeys/{JOURNEY}",
        method=method,
        headers={"Authorization": "Bearer sk_abcdef123456_secret"},
        json={"allowedOrigins": [ORIGIN]} if method == "PUT" else None,
    )

    assert response.status_code == 503
    assert response.get_json() == {"error": "Storage unavailable: OperationalError"}


# Chunked bodies, through gunicorn.

#: Each POST/PUT endpoint, and the error shape its refusal must have.
ENDPOINTS = {
    "/api/ingest": lambda body: list(body) == ["error"],
    "/api/i/v1/pk_x/events": lambda body: (
        body["success"] is False and body["errors"][0]["index"] == -1
    ),
    "/collect/1/1/event": lambda body: list(body) == ["error"],
    "/api/v1/events/pageview": lambda body: set(body["error"]) == {"code", "message", "field"},
    "/api/v1/events/custom": lambda body: set(body["error"]) == {"code", "message", "field"},
    "/api/events": lambda body: body["success"] is False and isinstance(body["error"], str),
    "/api/journeys": lambda body: list(body) == ["error"],
    f"/api/journeys/{JOURNEY}": lambda body: list(body) == ["error"],
}

BROKEN_BODIES = {
    "not-a-chunk-size": b"zz\r\n",
    "truncated-chunk": b'40\r\n{"schemaVersion": 1',
    "chunk-without-terminator": b"2\r\n{}XX0\r\n\r\n",
}


def raw_request(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are, half-close, and read the whole answer."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(head.encode() + b"\r\n" + body)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head_bytes, _, payload = answer.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), fields, payload


def test_malformed_or_truncated_chunked_bodies_are_4xx_in_each_formats_shape(
    app, api_key, journey, cli, exported, serve
):
    served = serve({"JOURNEY_DATABASE_URL": app.config["JOURNEY_DATABASE_URL"]}, workers=1)
    problems = []
    for path, shaped in ENDPOINTS.items():
        method = "PUT" if path.startswith("/api/journeys/") else "POST"
        headers = {
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
            "Authorization": f"Bearer {api_key}",
            "Origin": ORIGIN,
        }
        for name, body in BROKEN_BODIES.items():
            status, fields, payload = raw_request(served.port, method, path, headers, body)
            if not (
                400 <= status < 500
                and fields.get("Content-Type") == "application/json"
                and shaped(json.loads(payload))
            ):
                problems.append(f"{method} {path} {name}: {status} {payload[:200]!r}")
    assert problems == []
    assert exported() == []
    assert json.loads(cli("show", ORG, JOURNEY)) == journey

"""What tests share besides fixtures: the seed's tenant, and building and posting its batches."""

from __future__ import annotations

import json

ORG = "example-org"
JOURNEY = "small-business-grant"
ORIGIN = "https://grants.example.com"

SEED_HEADERS = {"Content-Type": "application/json", "Origin": ORIGIN}


def event(tag: str = "page_view", n: int | str = 1, **props) -> dict:
    """A valid seed-000 event for the seed's organization and journey."""
    base = {
        "_tag": tag,
        "schemaVersion": 1,
        "id": f"evt_{tag}_{n}",
        "ts": "2024-01-15T10:30:00.000Z",
        "orgKey": ORG,
        "journeyKey": JOURNEY,
        "sessionId": "sess_1",
        "clientId": "client_1",
        "url": "https://grants.example.com/apply",
    }
    base.update(props)
    return base


def batch(*events: dict, **context) -> dict:
    return {
        "schemaVersion": 1,
        "context": {"orgKey": ORG, "journeyKey": JOURNEY, **context},
        "events": list(events),
    }


def post(client, body, headers=SEED_HEADERS):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/api/ingest", data=data, headers=headers)


def from_origin(origin: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if origin:
        headers["Origin"] = origin
    return headers

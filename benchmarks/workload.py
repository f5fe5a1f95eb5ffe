"""The events the benchmark sends: seed-000 batches shaped like the embed script's traffic."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator

ORG = "bench-org"
JOURNEY = "bench-journey"
ORIGIN = "https://grants.example.com"
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)

_PAGES = (
    "https://grants.example.com/apply",
    "https://grants.example.com/apply/eligibility",
    "https://grants.example.com/apply/business?utm_source=newsletter&utm_medium=email",
    "https://grants.example.com/apply/review",
    "https://grants.example.com/apply/business#/step-2",
)
_STEPS = ("eligibility", "business-details", "review", "submitted")
_FIELDS = ("business-name", "ein", "employees", "annual-revenue", "contact-email", "zip")
#: Tags in roughly the proportions a multi-step form produces them.
_TAGS = (
    ("field_focus", 26),
    ("field_blur", 26),
    ("field_change", 22),
    ("page_view", 6),
    ("step_view", 6),
    ("validation_error", 5),
    ("session_start", 2),
    ("submit_attempt", 3),
    ("submit_success", 1),
    ("dropoff_signal", 1),
    ("session_end", 2),
)


def _event(rng: random.Random, event_id: str, session: str, client: str) -> dict:
    tag = rng.choices([t for t, _ in _TAGS], [w for _, w in _TAGS])[0]
    event = {
        "_tag": tag,
        "schemaVersion": 1,
        "id": event_id,
        "ts": f"2024-01-15T10:{rng.randrange(60):02d}:{rng.randrange(60):02d}."
        f"{rng.randrange(1000):03d}Z",
        "orgKey": ORG,
        "journeyKey": JOURNEY,
        "sessionId": session,
        "clientId": client,
        "url": rng.choice(_PAGES),
        "embedVersion": "1.0.0",
    }
    if tag == "session_start":
        event["referrer"] = "https://www.google.com/"
    elif tag == "page_view":
        event["title"] = "Small business grant application"
    elif tag == "step_view":
        event["stepKey"] = rng.choice(_STEPS)
    elif tag.startswith("field_") or tag == "validation_error":
        event["fieldKey"] = rng.choice(_FIELDS)
        if tag == "validation_error":
            event["errorType"] = rng.choice(("valueMissing", "patternMismatch"))
    elif tag == "dropoff_signal":
        event["reason"] = "idle"
    return event


def batches(count: int, size: int, run: str, seed: int = 6) -> Iterator[bytes]:
    """``count`` request bodies of ``size`` events each; event ids are unique within ``run``."""
    rng = random.Random(seed)
    for n in range(count):
        session = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        client = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        events = [_event(rng, f"evt_{run}_{n}_{i}", session, client) for i in range(size)]
        body = {
            "schemaVersion": 1,
            "context": {"orgKey": ORG, "journeyKey": JOURNEY, "language": "en-US"},
            "events": events,
        }
        yield json.dumps(body, separators=(",", ":")).encode()

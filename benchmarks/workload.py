"""The events the benchmark sends: seed-000 batches shaped like the embed script's traffic."""

from __future__ import annotations

import json
import random
import uuid
import zlib
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


#: Stands, in a template body, for what makes each request's event and session ids new.
TOKEN = "@" * 24
#: How many template bodies a load cycles through.
TEMPLATES = 64


def batches(count: int, size: int, run: str, seed: int = 6) -> Iterator[bytes]:
    """``count`` request bodies of ``size`` events each; event ids are unique within ``run``.

    Each body is a session of its own, and its ids contain ``run`` after the event's position
    in the batch, so that with :func:`fill` ids fall at random places in an index, as the embed
    script's random UUIDs do: sequential ids would all be written to the same index page.
    """
    rng = random.Random(seed)
    for n in range(count):
        session = f"s-{run}"
        client = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        events = [_event(rng, f"evt-{i}-{run}-{n}", session, client) for i in range(size)]
        body = {
            "schemaVersion": 1,
            "context": {"orgKey": ORG, "journeyKey": JOURNEY, "language": "en-US"},
            "events": events,
        }
        yield json.dumps(body, separators=(",", ":")).encode()


def templates(size: int) -> list[bytes]:
    """The bodies a load of ``size``-event batches cycles through, :data:`TOKEN` in their ids."""
    return list(batches(TEMPLATES, size, TOKEN, seed=size))


def fill(template: bytes, prefix: str, n: int) -> bytes:
    """Request ``n`` of a load whose ids start with ``prefix``: ``template`` with fresh ids.

    The token is 8 hex digits that look random (a CRC of ``prefix`` and ``n``), then ``prefix``
    and ``n``, which keep it unique; it has :data:`TOKEN`'s width, so the body's length stays.
    """
    unique = f"{prefix}{n:0{len(TOKEN) - 8 - len(prefix)}d}"
    if len(unique) > len(TOKEN) - 8:
        raise ValueError(f"request {n} of load {prefix!r} does not fit in the token")
    token = f"{zlib.crc32(unique.encode()):08x}{unique}"
    return template.replace(TOKEN.encode(), token.encode())

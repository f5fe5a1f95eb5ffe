"""Storing seed-000 batches from Python (``ingest.store_batch``): the HTTP flow, trusted.

What is stored is read back through ``flask journey export``; refusals through ``stats``.
"""

from __future__ import annotations

import json

import pytest

from flask_journey import store, tenants
from flask_journey.events import CanonicalEvent, utcnow
from flask_journey.ingest import Stored, store_batch
from flask_journey.outcomes import InvalidRequest, RateLimited, TenantNotFound

from .helpers import JOURNEY, ORG, batch, event


@pytest.fixture
def state(app):
    return app.extensions["journey"]


def refusals(cli) -> dict:
    return json.loads(cli("stats")).get(f"{ORG}/{JOURNEY}", {}).get("refusals", {})


def test_a_batch_is_stored_outside_any_request_and_a_retry_stores_nothing_twice(
    state, journey, exported
):
    sent = batch(event("session_start", 1), event("step_view", 2, stepKey="eligibility"))

    assert store_batch(state, sent) == Stored(2, [])
    assert store_batch(state, sent) == Stored(0, [])

    rows = exported()
    assert [(row["event_id"], row["type"]) for row in rows] == [
        ("evt_session_start_1", "session_start"),
        ("evt_step_view_2", "step_view"),
    ]
    assert {row["wire_format"] for row in rows} == {"journey"}
    assert rows[1]["step_key"] == "eligibility"


def test_privacy_applies_as_over_http(state, journey, exported):
    url = "https://grants.example.com/apply?email=jane@example.com&step=2"
    store_batch(state, batch(event(url=url)))

    (row,) = exported()
    assert "jane@example.com" not in json.dumps(row)


def test_invalid_events_are_set_aside_and_counted_the_valid_ones_stored(
    state, journey, exported, cli
):
    sent = batch(
        event("page_view", 1),
        event("page_view", 2, ts="yesterday"),
        event("page_view", 3, journeyKey="another-journey"),
        event("page_view", 4),
    )

    stored, rejected = store_batch(state, sent)

    assert stored == 2
    assert rejected == [
        (1, "ts must be a valid ISO 8601 timestamp"),
        (2, "journeyKey must match context.journeyKey"),
    ]
    assert [row["event_id"] for row in exported()] == ["evt_page_view_1", "evt_page_view_4"]
    assert refusals(cli) == {"invalid_event": 2}


def test_an_unknown_journey_is_refused(state, journey, exported):
    sent = batch(event(journeyKey="nope"), journeyKey="nope")

    with pytest.raises(TenantNotFound) as refused:
        store_batch(state, sent)

    assert refused.value.what == "journey"
    assert refused.value.code == 404
    assert exported() == []


def test_a_malformed_batch_is_refused_whole(state, journey, exported):
    with pytest.raises(InvalidRequest) as refused:
        store_batch(state, {**batch(event()), "schemaVersion": 2})

    assert refused.value.message == "schemaVersion must be 1"
    assert exported() == []


def test_a_batch_past_the_quota_stores_nothing(state, journey, exported, cli):
    cli("set-org", ORG, "--quota", "3")
    store_batch(state, batch(event(n=1), event(n=2)))

    with pytest.raises(RateLimited) as refused:
        store_batch(state, batch(event(n=3), event(n=4)))

    assert refused.value.quota
    assert [row["event_id"] for row in exported()] == ["evt_page_view_1", "evt_page_view_2"]
    assert refusals(cli) == {"quota": 1}


def test_no_origin_check_and_no_rate_limit_for_the_sites_own_code(state, journey, exported, cli):
    cli("set-org", ORG, "--rate-limit", "1 per hour")
    cli("set-origins", ORG, JOURNEY, "https://elsewhere.example")

    for n in range(3):
        assert store_batch(state, batch(event(n=n))).stored == 1

    assert len(exported()) == 3


def test_an_event_with_a_key_that_is_no_canonical_field_is_an_error_and_nothing_is_stored(
    app, journey, exported
):
    misspelt = {"event_id": "evt_typo", "type": "step_view", "occurred_at": utcnow()}
    misspelt["stepkey"] = "eligibility"
    state = app.extensions["journey"]
    with app.app_context():
        tenant = tenants.by_slugs(ORG, JOURNEY, state.tenants)
        with pytest.raises(TypeError, match="stepkey"):
            store.store(state.database, tenant, "journey", [CanonicalEvent(**misspelt)])
    assert exported() == []

"""Each worker keeps the journeys ingest looked up for JOURNEY_TENANT_CACHE_SECONDS (default 10).

Changes made through this process (CLI, management API) apply to the next request; changes
another process makes (a CLI run against a live site, another worker) within that time.
"""

from __future__ import annotations

import pytest

from flask_journey import tenants
from flask_journey.models import Journey, Organization

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, from_origin, post

NEW_ORIGIN = "https://new.example.com"


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """The cache's clock, moved by hand: ``clock[0] += seconds``."""
    now = [1000.0]
    monkeypatch.setattr(tenants.time, "monotonic", lambda: now[0])
    return now


def change_elsewhere(app, **values) -> None:
    """Change the journey's row as another process would: without this process knowing."""
    state = app.extensions["journey"]
    state.activate()
    with state.database.connection_context():
        Journey.update(**values).where(Journey.slug == JOURNEY).execute()


def test_a_change_by_another_process_applies_once_the_cached_journey_expires(
    app, client, journey, clock
):
    assert post(client, batch(event(n=1)), headers=from_origin(ORIGIN)).status_code == 204
    change_elsewhere(app, allowed_origins=[NEW_ORIGIN])

    clock[0] += 9.9
    assert post(client, batch(event(n=2)), headers=from_origin(ORIGIN)).status_code == 204
    clock[0] += 0.2
    assert post(client, batch(event(n=3)), headers=from_origin(ORIGIN)).status_code == 403
    assert post(client, batch(event(n=4)), headers=from_origin(NEW_ORIGIN)).status_code == 204


def test_a_change_through_this_process_applies_to_the_next_request(client, cli, journey, clock):
    assert post(client, batch(event(n=1)), headers=from_origin(ORIGIN)).status_code == 204

    cli("set-origins", ORG, JOURNEY, NEW_ORIGIN)

    assert post(client, batch(event(n=2)), headers=from_origin(ORIGIN)).status_code == 403


def test_an_organization_limit_set_through_this_process_applies_at_once(
    client, cli, journey, exported, clock
):
    assert post(client, batch(event(n=1)), headers=from_origin(ORIGIN)).status_code == 204

    cli("set-org", ORG, "--quota", "1")

    response = post(client, batch(event(n=2)), headers=from_origin(ORIGIN))
    assert response.status_code == 429
    assert [e["event_id"] for e in exported()] == ["evt_page_view_1"]


def test_zero_seconds_reads_the_journey_on_every_request(make_app, journey):
    app = make_app(JOURNEY_TENANT_CACHE_SECONDS=0)
    client = app.test_client()
    assert post(client, batch(event(n=1)), headers=from_origin(ORIGIN)).status_code == 204

    change_elsewhere(app, allowed_origins=[NEW_ORIGIN])

    assert post(client, batch(event(n=2)), headers=from_origin(ORIGIN)).status_code == 403


def test_a_deleted_journey_is_not_found_once_the_cached_one_expires(app, client, journey, clock):
    assert post(client, batch(event(n=1)), headers=from_origin(ORIGIN)).status_code == 204
    state = app.extensions["journey"]
    with state.database.connection_context():
        Organization.delete().where(Organization.slug == ORG).execute()

    clock[0] += 10.1
    response = post(client, batch(event(n=2)), headers=from_origin(ORIGIN))

    assert response.status_code == 404
    assert response.get_json() == {"error": "Organization not found"}


@pytest.mark.parametrize("seconds", [-1, "10", True, None])
def test_the_setting_must_be_zero_or_more_seconds(make_app, seconds):
    with pytest.raises(ValueError, match="JOURNEY_TENANT_CACHE_SECONDS"):
        make_app(JOURNEY_TENANT_CACHE_SECONDS=seconds)

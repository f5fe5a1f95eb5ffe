"""Retention: ``flask journey purge`` deletes old events in bounded chunks."""

from __future__ import annotations

import datetime as dt

import pytest

from flask_journey.models import Event, utcnow

from .helpers import JOURNEY, ORG, ORIGIN


def event(event_id: str, org: str = ORG) -> dict:
    return {
        "_tag": "page_view",
        "schemaVersion": 1,
        "id": event_id,
        "ts": "2024-01-15T10:30:00Z",
        "orgKey": org,
        "journeyKey": JOURNEY,
        "sessionId": "sess_1",
        "clientId": "client_1",
        "url": "https://grants.example.com/apply",
    }


@pytest.fixture
def ingest(client):
    """Store events of ``org``'s journey, then date their arrival ``received``."""

    def post(org: str, ids: list[str], received: dt.datetime) -> None:
        body = {
            "schemaVersion": 1,
            "context": {"orgKey": org, "journeyKey": JOURNEY},
            "events": [event(i, org) for i in ids],
        }
        response = client.post("/api/ingest", json=body, headers={"Origin": ORIGIN})
        assert response.status_code == 204, response.get_json()
        Event.update(received_at=received).where(Event.event_id.in_(ids)).execute()

    return post


@pytest.fixture
def stored(exported):
    return lambda: sorted((e["org"], e["event_id"]) for e in exported())


@pytest.fixture
def two_orgs(cli, journey, ingest):
    cli("create-org", "other-org")
    cli("create-journey", "other-org", JOURNEY, "--allowed-origin", ORIGIN)
    ingest(ORG, ["old_1", "old_2", "old_3"], dt.datetime(2023, 12, 31, 23, 59, 59))
    ingest(ORG, ["new_1"], dt.datetime(2024, 1, 1, 0, 0, 0))
    ingest("other-org", ["other_old"], dt.datetime(2023, 6, 1))


def test_purge_before_a_day_deletes_the_events_received_earlier(cli, two_orgs, stored):
    output = cli("purge", "--before", "2024-01-01")

    assert output == "Deleted 4 events received before 2024-01-01T00:00:00.000Z.\n"
    assert stored() == [(ORG, "new_1")]


def test_purge_of_one_org_keeps_the_other_orgs_events(cli, two_orgs, stored):
    output = cli("purge", "--before", "2024-01-01", "--org", ORG)

    assert output.startswith("Deleted 3 events ")
    assert stored() == [(ORG, "new_1"), ("other-org", "other_old")]


def test_purge_deletes_in_chunks_until_nothing_old_is_left(cli, two_orgs, stored):
    output = cli("purge", "--before", "2024-01-01", "--chunk", "2")

    assert output.startswith("Deleted 4 events ")
    assert stored() == [(ORG, "new_1")]


def test_purge_keeps_the_usage_that_was_metered(cli, two_orgs):
    cli("purge", "--before", "2024-01-01")

    assert '"events": 4' in cli("usage", ORG)


def test_purge_with_retention_deletes_events_older_than_the_setting(
    make_app, two_orgs, ingest, stored
):
    ingest(ORG, ["recent"], utcnow() - dt.timedelta(days=29))
    ingest(ORG, ["expired"], utcnow() - dt.timedelta(days=31))
    runner = make_app(JOURNEY_RETENTION_DAYS=30).test_cli_runner()

    result = runner.invoke(args=["journey", "purge", "--retention"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Deleted 6 events received before ")
    assert stored() == [(ORG, "recent")]


EITHER = "give either --before YYYY-MM-DD or --retention"


@pytest.mark.parametrize(
    "args, message",
    [
        ([], EITHER),
        (["--before", "2024-01-01", "--retention"], EITHER),
        (["--retention"], "--retention needs JOURNEY_RETENTION_DAYS to be set"),
        (["--before", "01/01/2024"], "Invalid value for '--before'"),
        (["--before", "2024-01-01", "--org", "nobody"], "organization 'nobody' not found"),
    ],
)
def test_purge_refuses_unclear_requests_and_deletes_nothing(
    runner, two_orgs, stored, args, message
):
    result = runner.invoke(args=["journey", "purge", *args])

    assert result.exit_code != 0
    assert message in result.output
    assert len(stored()) == 5


@pytest.mark.parametrize("days", [0, -1, "30", True])
def test_retention_days_must_be_a_positive_integer(make_app, days):
    with pytest.raises(ValueError, match="JOURNEY_RETENTION_DAYS must be a positive integer"):
        make_app(JOURNEY_RETENTION_DAYS=days)

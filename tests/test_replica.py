"""Reports from a hot standby (``JOURNEY_REPORT_DATABASE_URL``): ingest and the refresh write to
the primary; reports, the dashboard and exports read what the replica has replayed, and never
refresh there."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from .helpers import JOURNEY, ORG, ORIGIN
from .servers import PostgresServer, Replica

PAGE = f"/journey/{ORG}/{JOURNEY}/"


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def replica(postgres_replica: Replica, postgres_url: str) -> tuple[Replica, str]:
    """The replica, and the test database's name on it."""
    return postgres_replica, postgres_url.rsplit("/", 1)[1]


@pytest.fixture
def config(postgres_replica: Replica, postgres_url: str) -> dict[str, Any]:
    name = postgres_url.rsplit("/", 1)[1]
    return {
        "SECRET_KEY": "replica-test-secret",
        "JOURNEY_REPORT_DATABASE_URL": postgres_replica.url(name),
        # Every report would refresh first if it could: on the replica it must not.
        "JOURNEY_REPORT_MAX_STALENESS": 0,
    }


def post(client, *sessions: str) -> None:
    at = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).isoformat()
    events = [
        {
            "_tag": "field_focus",
            "schemaVersion": 1,
            "id": f"evt_{session}",
            "ts": at.replace("+00:00", "Z"),
            "orgKey": ORG,
            "journeyKey": JOURNEY,
            "sessionId": session,
            "clientId": "c",
            "url": f"{ORIGIN}/apply",
            "stepKey": "eligibility",
            "fieldKey": "business-name",
        }
        for session in sessions
    ]
    body = {"schemaVersion": 1, "context": {"orgKey": ORG, "journeyKey": JOURNEY}, "events": events}
    assert client.post("/api/ingest", json=body, headers={"Origin": ORIGIN}).status_code == 204


def replay(replica: Replica, database: str, paused: bool) -> None:
    """Pause or resume the replica's replay of what the primary writes."""
    call = "pg_wal_replay_pause()" if paused else "pg_wal_replay_resume()"
    PostgresServer.execute(replica.url(database), f"SELECT {call}")


def sessions_everywhere(client, cli, key: str) -> dict[str, Any]:
    """The sessions the CLI report, the report API and the dashboard's download show, the
    events the export lists, and the refreshedAt of the report."""
    reported = json.loads(cli("report", ORG, JOURNEY, "--format", "json"))
    api = client.get(
        f"/api/journeys/{JOURNEY}/report", headers={"Authorization": f"Bearer {key}"}
    ).json
    page = client.get(PAGE + "report.json").json
    return {
        "cli": reported["totals"]["sessions"],
        "api": api["totals"]["sessions"],
        "dashboard": page["totals"]["sessions"],
        "exported": len(cli("export").splitlines()),
        "refreshedAt": reported["refreshedAt"],
    }


def test_reports_read_the_replica_as_it_stands_and_never_refresh_there(app, client, cli, replica):
    standby, database = replica
    cli("create-org", ORG)
    cli("create-journey", ORG, JOURNEY, "--allowed-origin", ORIGIN)
    key = cli("create-key", ORG).strip().split()[-1]
    signed_in = client.post(
        "/journey/sign-in",
        data={"csrf_token": _csrf(client), "key": key},
    )
    assert signed_in.status_code == 303
    post(client, "sess_a", "sess_b")
    standby.catch_up(database)

    # Nobody refreshed on the primary yet: the replica has no summaries, and a report there
    # shows that rather than trying to write them (a standby refuses writes).
    never = sessions_everywhere(client, cli, key)
    assert never == {"cli": 0, "api": 0, "dashboard": 0, "exported": 2, "refreshedAt": None}

    cli("refresh")
    standby.catch_up(database)
    refreshed = sessions_everywhere(client, cli, key)
    assert {k: v for k, v in refreshed.items() if k != "refreshedAt"} == {
        "cli": 2,
        "api": 2,
        "dashboard": 2,
        "exported": 2,
    }
    assert refreshed["refreshedAt"] is not None

    replay(standby, database, paused=True)
    try:
        post(client, "sess_c")
        cli("refresh")  # on the primary: the replica does not see it while paused
        assert sessions_everywhere(client, cli, key) == refreshed
    finally:
        replay(standby, database, paused=False)
    standby.catch_up(database)
    caught_up = sessions_everywhere(client, cli, key)
    assert {k: v for k, v in caught_up.items() if k != "refreshedAt"} == {
        "cli": 3,
        "api": 3,
        "dashboard": 3,
        "exported": 3,
    }
    assert caught_up["refreshedAt"] >= refreshed["refreshedAt"]

    # A filter with a breakdown is added up from the session rows, on the replica too.
    filtered = client.get(
        f"/api/journeys/{JOURNEY}/report?country=(none)&breakdown=device",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert filtered.status_code == 200
    assert filtered.json["totals"]["sessions"] == 3
    assert sum(value["totals"]["sessions"] for value in filtered.json["breakdownValues"]) == 3


def _csrf(client) -> str:
    page = client.get("/journey/sign-in").get_data(as_text=True)
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]

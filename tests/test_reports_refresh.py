"""The summaries follow the events table: out-of-order commits, retries, rebuilds."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flask_journey import api, reports
from flask_journey.reports import refresh as refreshing
from flask_journey.reports import rollups

from .helpers import JOURNEY, ORG, ORIGIN

DAY = "2024-01-15"


@pytest.fixture
def config() -> dict:
    return {"JOURNEY_REPORT_MAX_STALENESS": 0}


def event(number: int, session: str) -> dict:
    return {
        "_tag": "field_focus",
        "schemaVersion": 1,
        "id": f"evt_{number}",
        "ts": f"{DAY}T10:00:{number:02d}Z",
        "orgKey": ORG,
        "journeyKey": JOURNEY,
        "sessionId": session,
        "clientId": "c",
        "url": f"{ORIGIN}/apply",
        "stepKey": "eligibility",
        "fieldKey": "business-name",
    }


def post(client, *events: dict, language: str | None = None) -> None:
    body = {
        "schemaVersion": 1,
        "context": {"orgKey": ORG, "journeyKey": JOURNEY, "language": language},
        "events": list(events),
    }
    assert client.post("/api/ingest", json=body, headers={"Origin": ORIGIN}).status_code == 204


def totals(cli) -> tuple[int, int, int]:
    report = json.loads(cli("report", ORG, JOURNEY, "--from", DAY, "--to", DAY, "--format", "json"))
    return report["totals"]["sessions"], report["totals"]["starters"], report["events"]["total"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_event_committed_after_a_later_id_was_read_is_still_counted(
    database_url, app, client, cli, journey
):
    import psycopg2

    late = psycopg2.connect(database_url)
    try:
        with late.cursor() as cursor:  # holds an id, uncommitted, while later ids commit
            cursor.execute(
                "INSERT INTO journey_event (journey_id, event_id, wire_format, type, "
                "occurred_at, received_at, session_id, step_key, field_key) "
                "VALUES (%s, 'evt_late', 'journey', 'field_focus', %s, %s, 'sess_late', "
                "'eligibility', 'email')",
                (journey["trackerId"], dt.datetime(2024, 1, 15, 10), dt.datetime.now()),
            )
        post(client, event(1, "sess_a"), event(2, "sess_b"))
        assert totals(cli) == (2, 2, 2)

        late.commit()
    finally:
        late.close()
    assert totals(cli) == (3, 3, 3)
    assert totals(cli) == (3, 3, 3)  # read once: the gap is filled, not counted again


def test_retried_and_late_events_count_once(client, cli, journey):
    post(client, event(1, "sess_a"))
    assert totals(cli) == (1, 1, 1)
    post(client, event(1, "sess_a"), event(3, "sess_a"))  # a retry carrying one new event
    assert totals(cli) == (1, 1, 2)


def test_a_rebuild_gives_the_same_report(client, cli, journey):
    post(client, *(event(n, f"sess_{n % 3}") for n in range(9)))
    before = cli("report", ORG, JOURNEY, "--from", DAY, "--to", DAY, "--format", "json")

    assert cli("refresh", "--rebuild") == "Read 9 events; summarised 3 sessions.\n"

    after = cli("report", ORG, JOURNEY, "--from", DAY, "--to", DAY, "--format", "json")
    strip = lambda text: {k: v for k, v in json.loads(text).items() if k != "refreshedAt"}  # noqa: E731
    assert strip(after) == strip(before)


def test_a_backlog_read_in_many_chunks_gives_the_same_report(client, cli, journey, monkeypatch):
    post(client, *(event(n, f"sess_{n % 3}") for n in range(9)))
    before = cli("report", ORG, JOURNEY, "--from", DAY, "--to", DAY, "--format", "json")
    monkeypatch.setattr(refreshing, "CHUNK", 2)  # sessions span chunks; the last rolls its own

    assert cli("refresh", "--rebuild") == "Read 9 events; summarised 9 sessions.\n"

    after = cli("report", ORG, JOURNEY, "--from", DAY, "--to", DAY, "--format", "json")
    strip = lambda text: {k: v for k, v in json.loads(text).items() if k != "refreshedAt"}  # noqa: E731
    assert strip(after) == strip(before)


def test_purge_forgets_the_summaries_of_what_it_deleted(client, cli, journey):
    post(client, event(1, "sess_a"))
    assert totals(cli) == (1, 1, 1)

    cli("purge", "--before", "2999-01-01")

    assert totals(cli) == (0, 0, 0)


def test_a_report_refreshes_first_as_the_apps_policy_says(app, client, cli, journey):
    post(client, event(1, "s1"))
    state = app.extensions["journey"]
    assert state.refresh_policy == reports.default_policy(state.settings)
    assert totals(cli)[0] == 1  # the default policy: stale (0 s here), so refreshed first

    state.refresh_policy = reports.NeverRefresh()  # cron refreshes
    post(client, event(2, "s2"))
    assert totals(cli)[0] == 1
    cli("refresh")
    assert totals(cli)[0] == 2


@pytest.mark.parametrize(
    "config", [{"JOURNEY_REPORT_MAX_STALENESS": 0, "JOURNEY_MAX_SEGMENT_VALUES": 1}]
)
def test_a_refresh_that_another_one_overtakes_reads_again_and_keeps_the_segment_limit(
    app, client, journey, monkeypatch
):
    now = dt.datetime.now(dt.timezone.utc)
    post(client, {**event(1, "sess_open"), "ts": now.isoformat()}, language="fr-FR")
    with app.app_context():
        api.refresh()  # sess_open is summarised, still open: not rolled up
    post(client, event(2, "sess_old"), language="en-US")  # over as soon as it is read
    changes, overtaken = rollups.changes, []

    def overtaken_once(deltas):
        if not overtaken:  # another process rolls up sess_open: fr-FR takes the only place
            overtaken.append(True)
            database = app.extensions["journey"].database
            refreshing.roll(database, refreshing.Rolling(idle=dt.timedelta(0), segment_values=1))
        return changes(deltas)

    monkeypatch.setattr(rollups, "changes", overtaken_once)
    with app.app_context():
        assert api.refresh().sessions == 1
        report = api.report(
            ORG, JOURNEY, start=dt.date(2024, 1, 1), end=now.date(), breakdown="language"
        )

    assert overtaken == [True]
    languages = [
        json.loads(value)[1]
        for (value,) in app.extensions["journey"].database.execute_sql(
            "SELECT value FROM journey_vocabulary WHERE kind = 'segment'"
        )
        if json.loads(value)[0] == "language"
    ]
    assert languages == ["fr-FR"]  # sess_old's en-US is summed as (other): no room was left
    breakdown = {row["value"]: row["totals"]["sessions"] for row in report["breakdownValues"]}
    assert breakdown == {"fr-FR": 1, "(other)": 1}

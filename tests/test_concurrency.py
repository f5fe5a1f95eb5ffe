"""Many clients, several gunicorn workers, one database: nothing lost, nothing stored twice."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from flask_journey.db import retrying_transaction

from .helpers import JOURNEY, ORG, ORIGIN

CLIENTS = 8
BATCHES = 320
EVENTS_PER_BATCH = 5


def batch(number: int, *, reverse: bool = False) -> dict:
    events = [
        {
            "_tag": "field_focus",
            "schemaVersion": 1,
            "id": f"evt_{number}_{i}",
            "ts": "2024-01-15T10:30:00Z",
            "orgKey": ORG,
            "journeyKey": JOURNEY,
            "sessionId": f"sess_{number}",
            "clientId": f"client_{number % CLIENTS}",
            "url": "https://grants.example.com/apply",
            "fieldKey": f"field-{i}",
        }
        for i in range(EVENTS_PER_BATCH)
    ]
    return {
        "schemaVersion": 1,
        "context": {"orgKey": ORG, "journeyKey": JOURNEY},
        "events": events[::-1] if reverse else events,
    }


def sends(client: int) -> list[tuple[int, bool]]:
    """What one client posts: its share of the batches, some retried, some also by a neighbour.

    Every fourth batch is sent again (a retry after a lost answer). Every tenth is also sent,
    events reversed, by the next client at about the same time: a retry racing the original.
    """
    plan = []
    for number in range(client, BATCHES, CLIENTS):
        plan.append((number, False))
        if number % 4 == 0:
            plan.append((number, False))
        neighbour = number - 1 if client else number + CLIENTS - 1
        if 0 <= neighbour < BATCHES and neighbour % 10 == 0:
            plan.append((neighbour, True))
    return plan


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_concurrent_clients_posting_to_three_workers_lose_and_duplicate_nothing(
    database_url, journey, serve, exported, cli, worker_class
):
    served = serve(
        {"JOURNEY_DATABASE_URL": database_url, "JOURNEY_RATELIMIT_ENABLED": False},
        workers=3,
        worker_class=worker_class,
        threads=4 if worker_class == "gthread" else 1,
    )

    def client(number: int) -> list[tuple[int, int]]:
        answers = []
        for batch_number, reverse in sends(number):
            status, body, _ = served.post(
                "/api/ingest", batch(batch_number, reverse=reverse), {"Origin": ORIGIN}
            )
            answers.append((batch_number, status))
            assert status == 204, body
        return answers

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = [answer for answers in pool.map(client, range(CLIENTS)) for answer in answers]

    assert Counter(status for _, status in answers) == {204: len(answers)}
    accepted = {number for number, _ in answers}
    assert accepted == set(range(BATCHES))
    stored = Counter(e["event_id"] for e in exported())
    assert max(stored.values()) == 1
    assert set(stored) == {
        f"evt_{number}_{i}" for number in accepted for i in range(EVENTS_PER_BATCH)
    }
    usage = json.loads(cli("usage", ORG))["months"]
    [month] = usage.values()
    assert month == {"events": BATCHES * EVENTS_PER_BATCH, "requests": len(answers)}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_sqlite_write_that_finds_the_database_locked_is_run_again(app, database_url):
    database = app.extensions["journey"].database
    database.execute_sql("CREATE TABLE busy_test (id INTEGER PRIMARY KEY)")
    database.execute_sql("PRAGMA busy_timeout = 50")  # this thread's connection: fail fast
    other_process = sqlite3.connect(database_url[len("sqlite:///") :], isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")  # holds the write lock
    attempts = []

    @retrying_transaction
    def insert(db) -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 2:
            other_process.execute("ROLLBACK")  # the other writer is done by the second try
        db.execute_sql("INSERT INTO busy_test VALUES (1)")

    try:
        insert(database)
    finally:
        other_process.close()

    assert attempts == [1, 2]
    assert database.execute_sql("SELECT id FROM busy_test").fetchall() == [(1,)]

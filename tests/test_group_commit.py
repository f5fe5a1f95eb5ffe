"""Group commit: concurrent requests share transactions, and lose, duplicate or blame nothing."""

from __future__ import annotations

import json
import threading

import pytest
from peewee import IntegrityError

from flask_journey import store
from flask_journey.db import is_sqlite
from flask_journey.events import CanonicalEvent
from flask_journey.models import Event, Usage

from .helpers import ORG, ORIGIN, batch, event

HEADERS = {"Content-Type": "application/json", "Origin": ORIGIN}


def body(prefix: str, size: int = 5) -> str:
    events = (event("field_focus", f"{prefix}_{i}", fieldKey="business-name") for i in range(size))
    return json.dumps(batch(*events))


@pytest.mark.parametrize("group_commit", [True, False])
def test_concurrent_requests_are_each_stored_once_and_metered_exactly(
    make_app, cli, journey, exported, group_commit
):
    app = make_app(JOURNEY_GROUP_COMMIT=group_commit)
    threads, posts = 8, 6
    statuses: list[int] = []

    def client(n: int) -> None:
        http = app.test_client()
        for m in range(posts):
            # every third batch is sent twice: a retry stores nothing new
            for _ in range(2 if m % 3 == 0 else 1):
                statuses.append(
                    http.post("/api/ingest", data=body(f"{n}_{m}"), headers=HEADERS).status_code
                )

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert set(statuses) == {204}
    ids = [event["event_id"] for event in exported()]
    assert len(ids) == len(set(ids)) == threads * posts * 5
    usage = json.loads(cli("usage", ORG))["months"]
    assert [month["events"] for month in usage.values()] == [threads * posts * 5]
    assert [month["requests"] for month in usage.values()] == [len(statuses)]


def rows(app, tenant_journey_id: int, prefix: str, *, event_id: str | None = "ok") -> list:
    events = [
        CanonicalEvent(
            event_id=f"{prefix}_{i}" if event_id else None,  # type: ignore[arg-type]
            type="page_view",
            occurred_at=store.utcnow(),
            url="https://grants.example.com/apply",
        )
        for i in range(3)
    ]
    sqlite = is_sqlite(app.extensions["journey"].database)
    return store._rows(tenant_journey_id, "journey", store.utcnow(), events, False, sqlite)


def new_batch(app, journey, prefix: str, **options) -> store._Batch:
    """A request's batch of three events for the seed's journey, ids ``<prefix>_0..2``."""
    return store._Batch(
        journey["accountId"],
        journey["trackerId"],
        "2024-01",
        rows(app, journey["trackerId"], prefix, **options),
    )


def waiting_together(app, *batches: store._Batch) -> store.GroupCommitter:
    """A committer with ``batches`` queued, as concurrent requests leave them for a leader."""
    state = app.extensions["journey"]
    state.activate()
    committer = store.GroupCommitter(state.database)
    committer._waiting = list(batches)
    committer._busy = True
    return committer


def test_a_failing_batch_in_a_shared_transaction_fails_alone(app, journey):
    """Batches that arrived together are retried one by one; only the bad one is refused."""
    state = app.extensions["journey"]
    good = [new_batch(app, journey, f"g{n}") for n in range(3)]
    bad = new_batch(app, journey, "b", event_id=None)
    committer = waiting_together(app, good[0], bad, good[1], good[2])

    committer._lead()  # as the first of them would, finding the others waiting

    assert [waiting.state for waiting in (good[0], bad, good[1], good[2])] == ["alone"] * 4
    for waiting in good:
        committer.store(waiting)  # what each request thread does when woken "alone"
    with pytest.raises(IntegrityError):
        committer.store(bad)
    with state.database.connection_context():
        assert Event.select().count() == 9
        usage = Usage.get(Usage.organization == journey["accountId"])
        assert (usage.events, usage.requests) == (9, 3)


def test_batches_waiting_together_share_one_transaction(app, journey, monkeypatch):
    state = app.extensions["journey"]
    batches = [new_batch(app, journey, f"s{n}") for n in range(4)]
    committer = waiting_together(app, *batches)
    commits = []
    commit = state.database.commit
    monkeypatch.setattr(state.database, "commit", lambda: commits.append(1) or commit())

    committer._lead()

    assert [batch.state for batch in batches] == ["stored"] * 4
    assert [batch.inserted for batch in batches] == [3] * 4
    assert all(batch.wake.is_set() for batch in batches)
    assert len(commits) == 1
    assert committer._busy is False


def test_a_retried_batch_among_others_makes_each_learn_what_was_new(app, journey):
    """Shared, a count of new rows cannot say whose were known: each batch is written alone."""
    state = app.extensions["journey"]
    together = (
        new_batch(app, journey, "f0"),
        new_batch(app, journey, "r"),
        new_batch(app, journey, "f1"),
    )
    committer = waiting_together(app, *together)
    store.GroupCommitter(state.database).store(new_batch(app, journey, "r"))  # stored before

    committer._lead()

    assert [waiting.state for waiting in together] == ["alone"] * 3
    for waiting in together:
        committer.store(waiting)  # what each request thread does when woken "alone"
    assert [waiting.inserted for waiting in together] == [3, 0, 3]
    with state.database.connection_context():
        assert Event.select().count() == 9
        usage = Usage.get(Usage.organization == journey["accountId"])
        assert (usage.events, usage.requests) == (9, 4)


def test_batches_longer_than_one_statement_are_stored_whole(app, journey, monkeypatch):
    monkeypatch.setattr(store, "ROWS_PER_STATEMENT", 2)
    batches = [new_batch(app, journey, f"l{n}") for n in range(2)]
    committer = waiting_together(app, *batches)

    committer._lead()

    assert [(stored.state, stored.inserted) for stored in batches] == [("stored", 3)] * 2
    with app.extensions["journey"].database.connection_context():
        assert Event.select().count() == 6

"""What only PostgreSQL needs: jsonb columns, NUL characters, the connection pool."""

from __future__ import annotations

import threading

import pytest

from flask_journey import db as journey_db
from flask_journey import store, tenants
from flask_journey.events import CanonicalEvent
from flask_journey.models import Event, utcnow

from .helpers import JOURNEY, ORG, ORIGIN, event
from .helpers import batch as ingest_batch
from .servers import wait_until


@pytest.fixture
def database_url(postgres_url) -> str:
    return postgres_url


def batch(*ids: str) -> dict:
    return ingest_batch(*(event("session_start", id=event_id) for event_id in ids))


def column_types(app, table: str) -> dict[str, str]:
    database = app.extensions["journey"].database
    rows = database.execute_sql(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
        (table,),
    ).fetchall()
    return dict(rows)


def test_json_columns_are_jsonb(app):
    assert column_types(app, "journey_event")["properties"] == "jsonb"
    assert column_types(app, "journey_journey")["allowed_origins"] == "jsonb"


def test_properties_are_queryable_as_jsonb(app, client, journey):
    body = batch("evt_1")
    body["events"][0].update(_tag="dropoff_signal", reason="idle")
    assert client.post("/api/ingest", json=body, headers={"Origin": ORIGIN}).status_code == 204

    with app.app_context():
        reasons = [
            e.properties["reason"]
            for e in Event.select().where(Event.properties["reason"] == "idle")
        ]
    assert reasons == ["idle"]


def test_a_nul_that_reaches_storage_is_stored_as_a_replacement_character(app, journey, exported):
    """A NUL copied from a header into an event must not fail the batch on PostgreSQL."""
    with app.app_context():
        state = app.extensions["journey"]
        state.activate()
        tenant = tenants.by_slugs(ORG, JOURNEY, state.tenants)
        event = CanonicalEvent(
            event_id="evt_nul",
            type="custom",
            name="sign\x00up",
            occurred_at=utcnow(),
            referrer="https://example.com/\x00",
            properties={"plan\x00": ["pro\x00"]},
        )
        assert store.store(state.database, tenant, "journey", [event]) == 1

    [stored] = exported()
    assert stored["name"] == "sign\ufffdup"
    assert stored["properties"] == {"plan\ufffd": ["pro\ufffd"]}


def test_a_nul_in_the_user_agent_does_not_fail_the_batch(client, journey, exported):
    headers = {"Origin": ORIGIN, "User-Agent": "Mozilla/5.0\x00 (X11; Linux x86_64) Firefox/120.0"}
    response = client.post("/api/ingest", json=batch("evt_1"), headers=headers)

    assert response.status_code == 204
    assert [e["event_id"] for e in exported()] == ["evt_1"]


def test_a_nul_in_a_looked_up_key_finds_nothing(client, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}

    assert client.get("/api/journeys/small%00business", headers=auth).status_code == 404
    lookup = api_key.split("_")[1]
    forged = {"Authorization": f"Bearer sk_{lookup}\x00_secret"}
    assert client.get(f"/api/journeys/{JOURNEY}", headers=forged).status_code == 401


def test_each_request_returns_its_connection_to_the_pool(make_app, database_url, journey, exported):
    app = make_app(JOURNEY_DATABASE_URL=f"{database_url}?max_connections=1&timeout=1")
    client = app.test_client()

    statuses = [
        client.post("/api/ingest", json=batch(f"evt_{i}"), headers={"Origin": ORIGIN}).status_code
        for i in range(5)
    ]

    assert statuses == [204] * 5
    assert len(exported()) == 5


def test_an_exhausted_pool_is_answered_503_not_500(make_app, database_url, journey, exported):
    app = make_app(JOURNEY_DATABASE_URL=f"{database_url}?max_connections=1&timeout=1")
    database = app.extensions["journey"].database
    held, release = threading.Event(), threading.Event()

    def hold_the_only_connection() -> None:
        database.connect()
        held.set()
        release.wait(30)
        database.close()

    holder = threading.Thread(target=hold_the_only_connection)
    holder.start()
    try:
        held.wait(30)
        response = app.test_client().post(
            "/api/ingest", json=batch("evt_1"), headers={"Origin": ORIGIN}
        )
    finally:
        release.set()
        holder.join()

    assert response.status_code == 503
    assert response.get_json() == {"error": "Storage unavailable: OperationalError"}
    assert exported() == []


def test_pool_defaults_apply_unless_the_url_sets_them(make_app):
    def database(url: str):
        return make_app(JOURNEY_DATABASE_URL=url).extensions["journey"].database

    pooled = database("postgresql://u@db.example/journey")
    tuned = database("postgresql://u@db.example/journey?max_connections=50&stale_timeout=60")
    cockroach = database("cockroachdb://root@crdb.example:26257/journey")

    assert isinstance(pooled, journey_db.PostgresqlPool)
    assert (pooled._max_connections, pooled._stale_timeout, pooled._wait_timeout) == (20, 300, 10)
    assert (tuned._max_connections, tuned._stale_timeout) == (50, 60)
    assert isinstance(cockroach, journey_db.CockroachPool)


def test_a_transaction_aborted_to_break_a_deadlock_is_run_again(app, postgres_url):
    import psycopg2

    database = app.extensions["journey"].database
    database.execute_sql("CREATE TABLE deadlock_test (id integer PRIMARY KEY)")
    insert = "INSERT INTO deadlock_test VALUES (%s) ON CONFLICT DO NOTHING"
    attempts = []

    backend: list[int] = []

    @journey_db.retrying_transaction
    def insert_one_then_two(db) -> None:
        attempts.append(len(attempts) + 1)
        backend.append(db.execute_sql("SELECT pg_backend_pid()").fetchone()[0])
        db.execute_sql(insert, (1,))
        db.execute_sql(insert, (2,))

    other, watcher = psycopg2.connect(postgres_url), psycopg2.connect(postgres_url)
    watcher.autocommit = True
    # PostgreSQL aborts the transaction whose backend looks for the deadlock first, after its
    # deadlock_timeout: the other connection never looks, so the one aborted is always ours.
    other.cursor().execute("SET deadlock_timeout = '1h'")
    other.cursor().execute(insert, (2,))

    def first_transaction_waits() -> bool:
        # Its own backend's wait: other tests share the server, and may wait for locks too.
        if not backend:
            return False
        with watcher.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted", (backend[0],))
            return bool(cursor.fetchall())

    def insert_one_once_blocked() -> None:
        # Once the first transaction waits for row 2, take row 1: a deadlock.
        wait_until(first_transaction_waits, "the first transaction's lock wait")
        other.cursor().execute(insert, (1,))
        other.commit()

    helper = threading.Thread(target=insert_one_once_blocked)
    helper.start()
    try:
        insert_one_then_two(database)
    finally:
        helper.join()
        other.close()
        watcher.close()

    assert attempts == [1, 2]
    assert database.execute_sql("SELECT id FROM deadlock_test ORDER BY id").fetchall() == [
        (1,),
        (2,),
    ]

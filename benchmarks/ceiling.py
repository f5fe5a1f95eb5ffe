"""The storage ceiling: the same events, ``json.loads`` and the driver's own ``executemany``.

No Flask, no validation, no scrubbing: each batch is decoded, mapped to the events table's
columns and inserted with flask-journey's INSERT written for one row, in a transaction of its
own, on a connection with the same settings (SQLite pragmas, PostgreSQL's default durability).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

from peewee import Database

from flask_journey.db import is_sqlite
from flask_journey.models import utcnow
from flask_journey.store import COLUMNS, _insert_sql

from . import workload

#: Where each column's value comes from in a wire event (None: the column stays empty).
SOURCES = {
    "event_id": "id",
    "type": "_tag",
    "occurred_at": "ts",
    "session_id": "sessionId",
    "client_id": "clientId",
    "url": "url",
    "referrer": "referrer",
    "title": "title",
    "step_key": "stepKey",
    "field_key": "fieldKey",
    "error_type": "errorType",
    "schema_version": "schemaVersion",
    "embed_version": "embedVersion",
}
_KEYS = [SOURCES.get(column) for column in COLUMNS[3:]]


def _cursor(db: Database) -> Any:
    """A plain cursor of the driver, on a connection opened with the app's settings."""
    conn = db.connection()
    if is_sqlite(db):
        return conn.cursor()
    from psycopg2.extensions import cursor

    return conn.cursor(cursor_factory=cursor)


def insert(
    db: Database, journey_id: int, bodies: Iterable[bytes], per_transaction: int = 1
) -> tuple[int, float]:
    """Store the bodies' events, ``per_transaction`` bodies a transaction.

    Return how many events were inserted and the seconds spent doing it.
    """
    received: Any = utcnow()
    received = received.isoformat(" ", "microseconds") if is_sqlite(db) else received
    sql = _insert_sql(db, 1)
    cursor = _cursor(db)
    events = 0
    spent = 0.0
    pending = 0
    for body in bodies:
        started = time.perf_counter()
        rows = [
            [journey_id, "journey", received, *(e.get(k) if k else None for k in _KEYS)]
            for e in json.loads(body)["events"]
        ]
        if not pending:
            cursor.execute("BEGIN")
        cursor.executemany(sql, rows)
        pending += 1
        if pending == per_transaction:
            cursor.execute("COMMIT")
            pending = 0
        spent += time.perf_counter() - started
        events += len(rows)
    if pending:
        cursor.execute("COMMIT")
    return events, spent


def bodies(size: int, prefix: str, count: int | None = None) -> Iterator[bytes]:
    """Batches like the load generator's, with event ids unique for ``prefix``."""
    templates = workload.templates(size)
    n = 0
    while count is None or n < count:
        yield workload.fill(templates[n % len(templates)], prefix, n)
        n += 1


def measure(db: Database, journey_id: int, size: int, prefix: str, seconds: float) -> float:
    """Events per second the ceiling stores, over about ``seconds`` of work."""
    events = 0
    spent = 0.0
    source = bodies(size, prefix)
    while spent < seconds:
        done, took = insert(db, journey_id, (next(source) for _ in range(20)))
        events += done
        spent += took
    return events / spent

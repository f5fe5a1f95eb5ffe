"""The store: the one way events are stored, whatever format they came in.

A wire-format adapter hands :func:`store` a list of canonical events
(:class:`flask_journey.events.CanonicalEvent`), whose fields are the columns written. Here they
are scrubbed (:mod:`flask_journey.privacy`), enriched from the user agent, and written in one
transaction that skips event ids the journey already has.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from peewee import EXCLUDED, Database

from .db import is_sqlite, per_database, retrying_transaction, storable_json
from .events import FIELDS, CanonicalEvent, Tenant, utcnow
from .identities import Identify, identify_of, link
from .models import Event, JourneyUsage, Usage
from .privacy import describe_user_agent, scrub_properties, scrub_url, url_path

COLUMNS = ("journey", "wire_format", "received_at", *FIELDS)


#: Rows per INSERT statement: within every backend's limit on bound parameters (SQLite 32,766).
ROWS_PER_STATEMENT = 500


@per_database
def _insert_sql(db: Database, rows: int) -> str:
    """An INSERT of ``rows`` rows of :data:`COLUMNS` that skips event ids the journey has.

    One statement per batch rather than one per row: each statement is one round trip to
    PostgreSQL, and one release and re-acquisition of the GIL by a SQLite call, which under a
    threaded server can cost a switch interval (5 ms).
    """

    def quote(name: str) -> str:
        return f"{db.quote[0]}{name}{db.quote[1]}"

    columns = ", ".join(quote(Event._meta.fields[c].column_name) for c in COLUMNS)
    row = "(" + ", ".join([db.param] * len(COLUMNS)) + ")"
    return (
        f"INSERT INTO {quote(Event._meta.table_name)} ({columns}) VALUES "
        + ", ".join([row] * rows)
        + f" ON CONFLICT ({quote('journey_id')}, {quote('event_id')}) DO NOTHING"
    )


def _insert(cursor: Any, db: Database, rows: list[list[Any]]) -> int:
    """Insert ``rows``, a statement per :data:`ROWS_PER_STATEMENT`; return how many were new."""
    inserted = 0
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        cursor.execute(_insert_sql(db, len(chunk)), [value for row in chunk for value in row])
        inserted += max(cursor.rowcount, 0)
    return inserted


#: URLs that scrubbing leaves unchanged, with their paths: the repeated pages of a site.
CleanUrls = dict[tuple[str, bool], tuple[str | None, str | None]]
_CLEAN_URLS_MAX = 4096


@per_database
def _clean_urls(db: Database) -> CleanUrls:
    """The clean URLs of the site storing into ``db``, kept as long as its database."""
    return {}


def _scrub(url: str, keep_query_values: bool, clean: CleanUrls) -> tuple[str | None, str | None]:
    """The scrubbed URL and its path.

    Only URLs that scrubbing does not change are remembered in ``clean``, so the memory holds
    nothing that is not stored anyway.
    """
    key = (url, keep_query_values)
    known = clean.get(key)
    if known is not None:
        return known
    scrubbed = scrub_url(url, keep_query_values)
    result = (scrubbed, url_path(url))
    if scrubbed == url:
        if len(clean) >= _CLEAN_URLS_MAX:
            clean.clear()
        clean[key] = result
    return result


def _sqlite_time(value: dt.datetime) -> str:
    """A naive UTC datetime as SQLite stores it (``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    return value.isoformat(" ", "microseconds")


#: A canonical event's stored values, in the order of :data:`FIELDS`.
_VALUES = attrgetter(*FIELDS)
#: Where the fields the store rewrites sit in a row of :data:`COLUMNS`.
_DEVICE, _BROWSER, _OS, _OCCURRED, _URL, _PATH, _REFERRER, _PROPERTIES = (
    COLUMNS.index(name)
    for name in (
        "device_class",
        "browser",
        "os",
        "occurred_at",
        "url",
        "path",
        "referrer",
        "properties",
    )
)


def _rows(
    journey_id: int,
    wire_format: str,
    received: dt.datetime,
    events: Sequence[CanonicalEvent],
    keep_query_values: bool,
    sqlite: bool,
    clean_urls: CleanUrls | None = None,
) -> list[list[Any]]:
    """The events as rows of :data:`COLUMNS`, with the privacy rules and the user-agent
    enrichment applied (``clean_urls``: the URLs known to need no scrubbing, filled as they are
    found)."""
    clean = {} if clean_urls is None else clean_urls
    head: list[Any] = [journey_id, wire_format, _sqlite_time(received) if sqlite else received]
    rows = []
    for event in events:
        row = [*head, *_VALUES(event)]
        if event.user_agent:
            device = describe_user_agent(event.user_agent)
            row[_DEVICE] = row[_DEVICE] or device.device_class
            row[_BROWSER] = row[_BROWSER] or device.browser
            row[_OS] = row[_OS] or device.os
        if event.url:
            row[_URL], path = _scrub(event.url, keep_query_values, clean)
            row[_PATH] = row[_PATH] or path
        if event.referrer:
            row[_REFERRER] = _scrub(event.referrer, keep_query_values, clean)[0]
        if sqlite:
            row[_OCCURRED] = _sqlite_time(row[_OCCURRED])
        properties = scrub_properties(event.properties, keep_query_values)
        row[_PROPERTIES] = None if properties is None else storable_json(properties)
        rows.append(row)
    return rows


@dataclass(eq=False)
class _Batch:
    """One request's rows on their way to the database, and what became of them."""

    org_id: int
    journey_id: int
    period: str
    rows: list[list[Any]]
    #: What its identify events link (:mod:`flask_journey.identities`).
    identifies: list[Identify] = field(default_factory=list)
    inserted: int = 0
    #: queued, then lead (write the waiting batches), stored, or alone (write yourself).
    state: str = "queued"
    wake: threading.Event = field(default_factory=threading.Event)


def store(
    db: Database,
    tenant: Tenant,
    wire_format: str,
    events: Sequence[CanonicalEvent],
    *,
    keep_query_values: bool = False,
    group_commit: bool = False,
) -> int:
    """Store a batch in one transaction and meter it; return how many events were new.

    Events whose ``event_id`` the journey already has are skipped, so a retried batch stores
    nothing twice. Nothing is written unless everything is, and nothing is returned before the
    commit. With ``group_commit``, batches stored at the same time by other threads of this
    process may share the transaction (:class:`GroupCommitter`).
    """
    received = utcnow()
    identifies = [found for event in events if (found := identify_of(event)) is not None]
    rows = _rows(
        tenant.journey.id,
        wire_format,
        received,
        events,
        keep_query_values,
        is_sqlite(db),
        _clean_urls(db),
    )
    batch = _Batch(tenant.org.id, tenant.journey.id, received.strftime("%Y-%m"), rows, identifies)
    if group_commit:
        _committer(db).store(batch)
    else:
        _write(db, [batch])
    return batch.inserted


class _SharedDuplicates(Exception):
    """Batches written together held event ids already stored; whose is not known."""


@retrying_transaction
def _write(db: Database, batches: list[_Batch]) -> None:
    """Insert and meter ``batches`` in one transaction, setting each one's ``inserted``, and
    record what their identify events link.

    Their rows go in together, in as few statements as the parameter limit allows. When some
    were already stored, the count does not say which batch they came from: the transaction is
    rolled back with :class:`_SharedDuplicates`, for each batch to be written alone.
    """
    cursor = db.cursor()
    rows = [row for batch in batches for row in batch.rows]
    inserted = _insert(cursor, db, rows)
    if len(batches) == 1:
        batches[0].inserted = inserted
    elif inserted == len(rows):
        for batch in batches:
            batch.inserted = len(batch.rows)
    else:
        raise _SharedDuplicates
    usage: dict[tuple[int, str], list[int]] = {}
    by_journey: dict[tuple[int, str], list[int]] = {}
    for batch in batches:
        for metered in (
            usage.setdefault((batch.org_id, batch.period), [0, 0]),
            by_journey.setdefault((batch.journey_id, batch.period), [0, 0]),
        ):
            metered[0] += batch.inserted
            metered[1] += 1
    for (org_id, period), (events, requests) in usage.items():
        cursor.execute(_meter_sql(db), (org_id, period, events, requests))
    for (journey_id, period), (events, requests) in by_journey.items():
        cursor.execute(_meter_journey_sql(db), (journey_id, period, events, requests))
    for batch in batches:
        for identify in batch.identifies:
            link(db, batch.journey_id, identify)


@per_database
def _meter_sql(db: Database) -> str:
    """Add to an organization's usage of a month; parameters as in :meth:`Usage.insert`."""
    query = Usage.insert(organization=0, period="", events=0, requests=0).on_conflict(
        conflict_target=[Usage.organization, Usage.period],
        update={
            Usage.events: Usage.events + EXCLUDED.events,
            Usage.requests: Usage.requests + EXCLUDED.requests,
        },
    )
    return db.get_sql_context().sql(query).query()[0]


@per_database
def _meter_journey_sql(db: Database) -> str:
    """Add to a journey's usage of a month; parameters as in :meth:`JourneyUsage.insert`."""
    query = JourneyUsage.insert(journey=0, period="", events=0, requests=0).on_conflict(
        conflict_target=[JourneyUsage.journey, JourneyUsage.period],
        update={
            JourneyUsage.events: JourneyUsage.events + EXCLUDED.events,
            JourneyUsage.requests: JourneyUsage.requests + EXCLUDED.requests,
        },
    )
    return db.get_sql_context().sql(query).query()[0]


class GroupCommitter:
    """Coalesces the batches that threads of one process store at the same time.

    The first thread to arrive leads: it writes every batch waiting at that moment in one
    transaction and wakes their threads after the commit. Batches arriving meanwhile wait for
    the next leader, the first of them. If a shared transaction fails, or some of its events
    were already stored (a retried batch), each of its batches is written again in a transaction
    of its own: one bad batch never fails another, and each learns how many of its events were
    new.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._waiting: list[_Batch] = []
        self._busy = False

    def store(self, batch: _Batch) -> None:
        """Write ``batch``, alone or with others; return once it is committed."""
        with self._lock:
            self._waiting.append(batch)
            leading = not self._busy
            self._busy = True
        if not leading:
            batch.wake.wait()
        if leading or batch.state == "lead":
            self._lead()
        if batch.state == "alone":
            _write(self._db, [batch])

    def _lead(self) -> None:
        with self._lock:
            group, self._waiting = self._waiting, []
        try:
            if len(group) == 1:
                _write(self._db, group)  # its errors are its own: let them reach its request
                group[0].state = "stored"
            else:
                try:
                    _write(self._db, group)
                except Exception:
                    for batch in group:
                        batch.state = "alone"
                else:
                    for batch in group:
                        batch.state = "stored"
        finally:
            for batch in group:
                if batch.state == "queued":
                    batch.state = "alone"
                batch.wake.set()
            with self._lock:
                if self._waiting:
                    self._waiting[0].state = "lead"
                    self._waiting[0].wake.set()
                else:
                    self._busy = False


_COMMITTERS: weakref.WeakKeyDictionary[Database, GroupCommitter] = weakref.WeakKeyDictionary()
_COMMITTERS_LOCK = threading.Lock()


def _committer(db: Database) -> GroupCommitter:
    with _COMMITTERS_LOCK:
        committer = _COMMITTERS.get(db)
        if committer is None:
            committer = _COMMITTERS[db] = GroupCommitter(db)
        return committer

"""Keeping the report summaries up to date with the events table, off the ingest path.

A refresh reads the events stored since the last one (by id), adds them to the hourly counts,
and summarises again, whole, every session they belong to. It runs in chunks, each one
transaction that also moves the watermark, so an interrupted rebuild resumes where it stopped
and no event is counted twice. Refreshes exclude one another (an advisory lock on PostgreSQL,
an immediate transaction on SQLite).

Concurrent writers on PostgreSQL commit out of order: ids below the watermark that were missing
when it moved past them are kept as gaps and looked for again by each refresh for
:data:`GAP_SECONDS`, so an event whose transaction committed after one with a later id is still
read, exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from peewee import EXCLUDED, Database, PostgresqlDatabase

from ..db import is_sqlite
from ..models import Event as EventModel
from ..models import FieldSummary, HourlyCount, RefreshState, SessionSummary, utcnow
from .query import PAGEVIEW_TYPES, url_host
from .summary import EVENT_COLUMNS, Event, SessionRow, summarise

#: Events read per transaction.
CHUNK = 20_000
#: How long an id found missing below the watermark is looked for again, seconds.
GAP_SECONDS = 600
#: Gap ranges kept at most (the newest).
MAX_GAPS = 1000
#: Rows per INSERT and ids per IN (...) list: within every backend's parameter limits.
BATCH = 500
#: Key of the PostgreSQL advisory lock that serialises refreshes.
_LOCK_KEY = 0x6A6F7572726566  # "jourref"

#: Columns of an event that the hourly counts read.
COUNT_COLUMNS = (
    "id",
    "journey_id",
    "session_id",
    "occurred_at",
    "type",
    "name",
    "url",
    "path",
    "referrer",
    "category",
    "label",
    "value",
)


@dataclass
class Refreshed:
    """What a refresh read: events and the sessions summarised again."""

    events: int = 0
    sessions: int = 0


Progress = Callable[[int], None]


def _time(value: Any) -> dt.datetime:
    """A stored time as a naive datetime (SQLite returns text)."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _chunks(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _columns(names: Iterable[str]) -> str:
    return ", ".join(
        EventModel._meta.fields[n].column_name if n in EventModel._meta.fields else n for n in names
    )


def _lock(db: Database) -> None:
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))


def _new_events(db: Database, watermark: int, gaps: list[list[Any]]) -> list[tuple]:
    """Events after the watermark (a chunk) and those that filled a gap."""
    table = EventModel._meta.table_name
    select = f"SELECT {_columns(COUNT_COLUMNS)} FROM {table}"
    param = db.param
    rows = list(
        db.execute_sql(
            f"{select} WHERE id > {param} ORDER BY id LIMIT {CHUNK}", (watermark,)
        ).fetchall()
    )
    if gaps:
        where = " OR ".join(f"id BETWEEN {param} AND {param}" for _ in gaps)
        bounds = [bound for low, high, _ in gaps for bound in (low, high)]
        rows.extend(db.execute_sql(f"{select} WHERE {where}", bounds).fetchall())
    return rows


def _next_gaps(
    gaps: list[list[Any]], found: set[int], watermark: int, ids: list[int], now: float
) -> list[list[Any]]:
    """The id ranges still missing after a chunk: old gaps not filled, and the chunk's holes."""
    kept: list[list[Any]] = []
    for low, high, seen in gaps:
        if now - seen <= GAP_SECONDS:
            kept.extend([a, b, seen] for a, b in _missing(low, high, found))
    kept.extend([a, b, now] for a, b in _missing(watermark + 1, ids[-1] if ids else 0, found))
    return kept[-MAX_GAPS:]


def _missing(low: int, high: int, found: set[int]) -> Iterator[tuple[int, int]]:
    """The runs of ids from ``low`` to ``high`` that are not in ``found``."""
    start = low
    for hit in sorted(i for i in found if low <= i <= high):
        if hit > start:
            yield start, hit - 1
        start = hit + 1
    if start <= high:
        yield start, high


def _counts(rows: list[tuple]) -> dict[tuple, list[float]]:
    """The hourly counts a chunk of events adds, ``{(journey, hour, kind, keys...): [n, sum]}``."""
    added: dict[tuple, list[float]] = defaultdict(lambda: [0, 0.0])
    for _, journey, _, occurred, kind, name, url, path, referrer, category, label, value in rows:
        hour = _time(occurred).replace(minute=0, second=0, microsecond=0)
        added[(journey, hour, "type", kind, (name or "")[:256], "")][0] += 1
        if kind in PAGEVIEW_TYPES:
            added[(journey, hour, "page", (path or "")[:512], "", "")][0] += 1
            host = url_host(referrer)
            if host and host != url_host(url):
                added[(journey, hour, "referrer", host[:512], "", "")][0] += 1
        if kind == "custom":
            entry = added[
                (journey, hour, "custom", (name or "")[:512], category or "", label or "")
            ]
            entry[0] += 1
            entry[1] += value or 0.0
    return added


def _add_counts(db: Database, added: dict[tuple, list[float]]) -> None:
    rows = [
        {
            "journey": j,
            "hour": h,
            "kind": k,
            "key1": a,
            "key2": b,
            "key3": c,
            "count": n,
            "value_sum": v,
        }
        for (j, h, k, a, b, c), (n, v) in added.items()
    ]
    for chunk in _chunks(rows):
        HourlyCount.insert_many(chunk).on_conflict(
            conflict_target=[
                HourlyCount.journey,
                HourlyCount.hour,
                HourlyCount.kind,
                HourlyCount.key1,
                HourlyCount.key2,
                HourlyCount.key3,
            ],
            update={
                HourlyCount.count: HourlyCount.count + EXCLUDED.count,
                HourlyCount.value_sum: HourlyCount.value_sum + EXCLUDED.value_sum,
            },
        ).execute()


def session_events(db: Database, journey_id: int, session_ids: list[str]) -> dict[str, list[Event]]:
    """Every stored event of the given sessions of a journey, each session's in order."""
    table = EventModel._meta.table_name
    found: dict[str, list[Event]] = defaultdict(list)
    for chunk in _chunks(session_ids):
        marks = ", ".join([db.param] * len(chunk))
        cursor = db.execute_sql(
            f"SELECT session_id, {_columns(EVENT_COLUMNS)} FROM {table} "
            f"WHERE journey_id = {db.param} AND session_id IN ({marks})",
            (journey_id, *chunk),
        )
        for session_id, *values in cursor.fetchall():
            values[1] = _time(values[1])
            found[session_id].append(Event(*values))
    for events in found.values():
        events.sort(key=lambda e: (e.occurred_at, e.id))
    return found


def _store_sessions(db: Database, journey_id: int, summaries: dict[str, SessionRow]) -> None:
    """Replace the summaries of these sessions of a journey."""
    ids = list(summaries)
    for chunk in _chunks(ids):
        old = SessionSummary.select(SessionSummary.id).where(
            SessionSummary.journey == journey_id, SessionSummary.session_id.in_(chunk)
        )
        FieldSummary.delete().where(FieldSummary.session.in_(old)).execute()
        SessionSummary.delete().where(
            SessionSummary.journey == journey_id, SessionSummary.session_id.in_(chunk)
        ).execute()
    for chunk in _chunks(ids):
        rows = []
        for session_id in chunk:
            row = summaries[session_id]
            rows.append(
                {
                    "journey": journey_id,
                    "session_id": session_id,
                    "first_at": row.first_at,
                    "last_at": row.last_at,
                    **row.segments,
                    "source": row.source[:256],
                    "started": row.started,
                    "submitted": row.submitted,
                    "completed": row.completed,
                    "ended": row.ended,
                    "steps": json.dumps(row.steps, separators=(",", ":")),
                    "last_step": row.last_step,
                    "last_field": row.last_field,
                }
            )
        created = (
            SessionSummary.insert_many(rows)
            .returning(SessionSummary.id, SessionSummary.session_id)
            .tuples()
            .execute()
        )
        fields = [
            {
                "session": pk,
                "step_key": f.step_key,
                "field_key": f.field_key,
                "started": f.started,
                "returned": f.returned,
                "errors": f.errors,
                "error_types": json.dumps(dict(f.error_types)) if f.error_types else None,
                "seconds": f.seconds,
                "hesitation": f.hesitation,
            }
            for pk, session_id in created
            for f in summaries[session_id].fields
        ]
        for part in _chunks(fields):
            FieldSummary.insert_many(part).execute()


def _read_state(db: Database) -> tuple[int, str]:
    """The watermark and the gaps (as stored JSON) the last refresh left."""
    state = RefreshState.get_or_none(RefreshState.id == 1)
    return (state.watermark, state.gaps) if state else (0, "[]")


def _write_transaction(db: Database) -> Any:
    """A transaction that takes the write lock as it begins on SQLite (a read that turns into a
    write later fails at once there when another writer committed meanwhile)."""
    return db.atomic(lock_type="IMMEDIATE") if is_sqlite(db) else db.atomic()


def _refresh_chunk(db: Database) -> tuple[int, int, bool]:
    """Read one chunk; return (events read, sessions summarised, whether more may follow).

    Everything is read and summarised first, outside any transaction, so that writers wait
    only for the short transaction that stores the result; if another refresh stored one in
    between, the chunk is read again.
    """
    while True:
        seen = _read_state(db)
        watermark, gaps = seen[0], json.loads(seen[1])
        rows = _new_events(db, watermark, gaps)
        ids = sorted(row[0] for row in rows if row[0] > watermark)
        next_gaps = _next_gaps(gaps, {row[0] for row in rows}, watermark, ids, time.time())
        by_journey: dict[int, set[str]] = defaultdict(set)
        for row in rows:
            if row[2] is not None:
                by_journey[row[1]].add(row[2])
        summaries = {
            journey_id: {
                s: summarise(e) for s, e in session_events(db, journey_id, sorted(ids_)).items()
            }
            for journey_id, ids_ in by_journey.items()
        }
        with _write_transaction(db):
            _lock(db)
            if _read_state(db) != seen:
                continue  # another refresh stored this chunk meanwhile
            _add_counts(db, _counts(rows))
            for journey_id, sessions in summaries.items():
                _store_sessions(db, journey_id, sessions)
            values = {
                "watermark": ids[-1] if ids else watermark,
                "gaps": json.dumps(next_gaps),
                "refreshed_at": utcnow(),
            }
            RefreshState.insert(id=1, **values).on_conflict(
                conflict_target=[RefreshState.id], update=values
            ).execute()
        sessions_done = sum(len(sessions) for sessions in summaries.values())
        return len(rows), sessions_done, len(ids) >= CHUNK


def refresh(db: Database, *, progress: Progress | None = None) -> Refreshed:
    """Bring the summaries up to date with every event committed so far.

    ``progress`` is called with the number of events read after each chunk.
    """
    done = Refreshed()
    with db.bind_ctx([RefreshState, SessionSummary, FieldSummary, HourlyCount]):
        while True:
            events, sessions, more = _refresh_chunk(db)
            done.events += events
            done.sessions += sessions
            if progress is not None and events:
                progress(events)
            if not more:
                return done


def rebuild(db: Database, *, progress: Progress | None = None) -> Refreshed:
    """Forget every summary and build them again from the stored events."""
    tables = [RefreshState, SessionSummary, FieldSummary, HourlyCount]
    with db.bind_ctx(tables), _write_transaction(db):
        _lock(db)
        for table in (FieldSummary, SessionSummary, HourlyCount, RefreshState):
            table.delete().execute()
    return refresh(db, progress=progress)


def forget_before(db: Database, before: dt.datetime, journeys: Any = None) -> None:
    """Delete the summaries of sessions whose last event, and the counts of hours, before
    ``before`` (of the ``journeys`` query's journeys, or of all): what purge removed."""
    with db.bind_ctx([SessionSummary, FieldSummary, HourlyCount]), _write_transaction(db):
        old = SessionSummary.select(SessionSummary.id).where(SessionSummary.last_at < before)
        hours = HourlyCount.delete().where(HourlyCount.hour < before)
        if journeys is not None:
            old = old.where(SessionSummary.journey.in_(journeys))
            hours = hours.where(HourlyCount.journey.in_(journeys))
        FieldSummary.delete().where(FieldSummary.session.in_(old)).execute()
        SessionSummary.delete().where(SessionSummary.id.in_(old)).execute()
        hours.execute()


def pending(db: Database) -> int:
    """How many events the next refresh would read after the watermark."""
    with db.bind_ctx([RefreshState]):
        state = RefreshState.get_or_none(RefreshState.id == 1)
    watermark = state.watermark if state else 0
    table = EventModel._meta.table_name
    return db.execute_sql(
        f"SELECT COUNT(*) FROM {table} WHERE id > {db.param}", (watermark,)
    ).fetchone()[0]


def refreshed_at(db: Database) -> dt.datetime | None:
    """When the summaries were last brought up to date, or None if never."""
    with db.bind_ctx([RefreshState]):
        state = RefreshState.get_or_none(RefreshState.id == 1)
    return state.refreshed_at if state else None

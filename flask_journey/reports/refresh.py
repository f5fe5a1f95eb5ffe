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

Each journey's values are admitted to its vocabulary (:mod:`.vocabulary`) as the refresh reads
its events, in id order, and the summaries and counts hold them folded: a journey's reports show
at most ``JOURNEY_MAX_*`` distinct step keys, fields, event names, error types and reasons, the
rest as ``(other)``. The labels pages give those steps and fields (a ``field_focus``'s or
``step_view``'s ``title``) are kept beside them (``journey_page_label``). A rebuild admits them
again, under the limits then in force.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from peewee import Database, PostgresqlDatabase

from ..db import is_sqlite, using
from ..models import (
    PAGE_LABEL_LENGTH,
    FieldSummary,
    HourlyCount,
    JourneySteps,
    PageLabel,
    RefreshState,
    Rollup,
    SessionForm,
    SessionSummary,
    VocabularyValue,
    utcnow,
)
from ..models import Event as EventModel
from . import forms, rollups
from .query import FIELD_TYPES, PAGEVIEW_TYPES, db_time, local_midnight, stored_time, url_host
from .rollup import SessionSeen
from .summary import EVENT_COLUMNS, SEGMENT_COLUMNS, SESSION_COLUMNS, Event, SessionRow, summarise
from .vocabulary import (
    KINDS,
    OTHER,
    STEP_TYPES,
    Folded,
    Limits,
    Value,
    Vocabulary,
    decode,
    encode,
)

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

#: Columns of the events a refresh reads besides what a summary is made from (:class:`Event`):
#: the journey, the session and the hourly counts' columns (:class:`ChunkEvent`).
CHUNK_COLUMNS = (
    "journey_id",
    "session_id",
    "name",
    "path",
    "category",
    "label",
    "value",
    "title",
)
#: The event types whose ``title`` is the label a page gives their key: a field's label on its
#: first focus on a page, a step's heading on its view (the embed script sends them).
LABEL_TYPES = {"field_focus": "field_key", "step_view": "step_key"}
_CHUNK_WIDTH = len(CHUNK_COLUMNS)


@dataclass
class ChunkEvent:
    """One event a refresh reads: what summaries read of it, then :data:`CHUNK_COLUMNS`."""

    #: What the session's summary and the journey's vocabulary read of it.
    event: Event
    journey_id: int
    session_id: str | None
    name: str | None
    path: str | None
    category: str | None
    label: str | None
    value: float | None
    title: str | None


@dataclass(frozen=True)
class Rolling:
    """How the refresh keeps the rollups: the time zone of their days, and how long a session
    without events stays open (``JOURNEY_REPORT_TIMEZONE``, ``JOURNEY_SESSION_IDLE_MINUTES``)."""

    timezone: str = "UTC"
    idle: dt.timedelta = dt.timedelta(minutes=30)
    #: How many values of each segment the rollups sum on their own
    #: (``JOURNEY_MAX_SEGMENT_VALUES``).
    segment_values: int = 100


@dataclass
class Refreshed:
    """What a refresh read: events and the sessions summarised again."""

    events: int = 0
    sessions: int = 0


Progress = Callable[[int], None]


def _chunks(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _columns(names: Iterable[str]) -> str:
    """``names`` as a SELECT list of the events table, each column named as given."""
    fields = EventModel._meta.fields
    return ", ".join(f"{fields[n].column_name} AS {n}" if n in fields else n for n in names)


def _chunk_event(row: tuple) -> ChunkEvent:
    """The :class:`ChunkEvent` of a row selected as :data:`CHUNK_COLUMNS` then
    :data:`EVENT_COLUMNS`."""
    return ChunkEvent(_event(row[_CHUNK_WIDTH:]), *row[:_CHUNK_WIDTH])


def _lock(db: Database) -> None:
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))


def _new_events(db: Database, watermark: int, gaps: list[list[Any]]) -> list[ChunkEvent]:
    """Events after the watermark (a chunk) and those that filled a gap."""
    table = EventModel._meta.table_name
    select = f"SELECT {_columns((*CHUNK_COLUMNS, *EVENT_COLUMNS))} FROM {table}"
    param = db.param
    cursor = db.execute_sql(f"{select} WHERE id > {param} ORDER BY id LIMIT {CHUNK}", (watermark,))
    rows = [_chunk_event(row) for row in cursor.fetchall()]
    if gaps:
        where = " OR ".join(f"id BETWEEN {param} AND {param}" for _ in gaps)
        bounds = [bound for low, high, _ in gaps for bound in (low, high)]
        cursor = db.execute_sql(f"{select} WHERE {where}", bounds)
        rows.extend(_chunk_event(row) for row in cursor.fetchall())
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


def _properties(value: Any) -> dict[str, Any] | None:
    """An event's stored properties as a dict (JSON text on SQLite)."""
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else None


def _vocabularies(db: Database, rows: list[ChunkEvent], limits: Limits) -> dict[int, Vocabulary]:
    """The vocabulary of each journey of a chunk: what earlier refreshes admitted and the
    journey's configured steps, then the chunk's values, read in id order."""
    found: dict[int, Vocabulary] = {}
    table = VocabularyValue._meta.table_name
    for journey_id in sorted({row.journey_id for row in rows}):
        known = [
            (kind, decode(kind, value))
            for kind, value in db.execute_sql(
                f"SELECT kind, value FROM {table} WHERE journey_id = {db.param}"
                " AND kind <> 'segment'",
                (journey_id,),
            ).fetchall()
        ]
        steps = JourneySteps.get_or_none(JourneySteps.journey == journey_id)
        found[journey_id] = Vocabulary(limits, steps.steps if steps else (), known)
    for row in sorted(rows, key=lambda row: row.event.id):
        found[row.journey_id].admit(*_keys(row.event), row.name, row.category, row.label)
    return found


def _keys(event: Event) -> tuple[str, str | None, str | None, str | None, dict[str, Any] | None]:
    """An event's type, step key, field key, error type and (of a drop-off) properties."""
    properties = _properties(event.properties) if event.type == "dropoff_signal" else None
    return event.type, event.step_key, event.field_key, event.error_type, properties


def _store_vocabularies(db: Database, vocabularies: dict[int, Vocabulary]) -> None:
    rows = [
        (journey_id, kind, encode(value))
        for journey_id, vocabulary in vocabularies.items()
        for kind, value in vocabulary.added
    ]
    _insert(db, VocabularyValue._meta.table_name, ("journey_id", "kind", "value"), rows)


def page_label(title: str | None) -> str | None:
    """A label a page gave a key as it is kept: whitespace collapsed, at most
    :data:`~flask_journey.models.PAGE_LABEL_LENGTH` characters; None when nothing is left."""
    text = " ".join((title or "").split())[:PAGE_LABEL_LENGTH].rstrip()
    return text or None


def _page_labels(
    rows: list[ChunkEvent], vocabularies: dict[int, Vocabulary]
) -> dict[tuple[int, str], str]:
    """The labels a chunk's events give the keys of their journey's vocabulary,
    ``{(journey, key): label}``, the latest (by id) of each key; keys folded as ``(other)``
    get none, so a journey keeps at most a label per step and field its reports show."""
    found: dict[tuple[int, str], str] = {}
    for row in sorted(rows, key=lambda row: row.event.id):
        event = row.event
        column = LABEL_TYPES.get(event.type)
        label = page_label(row.title) if column else None
        if column is None or label is None:
            continue
        folded = vocabularies[row.journey_id].fold(*_keys(event), None, None, None)
        key = getattr(folded, column)
        if key and key != OTHER:
            found[(row.journey_id, key)] = label
    return found


def _store_page_labels(db: Database, labels: dict[tuple[int, str], str]) -> None:
    _insert(
        db,
        PageLabel._meta.table_name,
        ("journey_id", "key", "label"),
        [(journey, key, label) for (journey, key), label in labels.items()],
        "ON CONFLICT (journey_id, key) DO UPDATE SET label = excluded.label",
    )


def _counts(
    rows: list[ChunkEvent], vocabularies: dict[int, Vocabulary], zone: ZoneInfo
) -> dict[tuple, list[float]]:
    """The counts a chunk of events adds, ``{(journey, grain, start, kind, keys...): [n, sum]}``:
    each event's once for the local hour of ``zone`` it occurred in (grain ``h``) and once for
    its local day (``d``), ``start`` being the hour's or the day's start (UTC)."""
    hourly: dict[tuple, list[float]] = defaultdict(lambda: [0, 0.0])
    local_hour = _local_hours(zone)
    for row in rows:
        journey, name, category, label = row.journey_id, row.name, row.category, row.label
        path, value, event = row.path, row.value, row.event
        kind, url, referrer = event.type, event.url, event.referrer
        if name is not None:
            folded = vocabularies[journey].fold(*_keys(event), name, category, label)
            name, category, label = folded.name, folded.category, folded.label
        hour = local_hour(event.occurred_at)
        hourly[(journey, hour, "type", kind, (name or "")[:256], "")][0] += 1
        if kind in PAGEVIEW_TYPES:
            hourly[(journey, hour, "page", (path or "")[:512], "", "")][0] += 1
            host = url_host(referrer)
            if host and host != url_host(url):
                hourly[(journey, hour, "referrer", host[:512], "", "")][0] += 1
        if kind == "custom":
            key = (journey, hour, "custom", (name or "")[:512], category or "", label or "")
            hourly[key][0] += 1
            hourly[key][1] += value or 0.0
    added: dict[tuple, list[float]] = defaultdict(lambda: [0, 0.0])
    days: dict[dt.datetime, dt.datetime] = {}
    for (journey, hour, *keys), (n, total) in hourly.items():
        added[(journey, "h", hour, *keys)] = [n, total]
        day = days.get(hour)
        if day is None:
            local = hour.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()
            day = days[hour] = local_midnight(local, zone)
        entry = added[(journey, "d", day, *keys)]
        entry[0] += n
        entry[1] += total
    return added


def _local_hours(zone: ZoneInfo) -> Callable[[dt.datetime], dt.datetime]:
    """A function from a naive UTC time to the start (naive UTC) of its local hour in ``zone``:
    the UTC hour's start, moved by the minutes of the zone's offset then (cached per hour)."""
    minutes: dict[dt.datetime, int] = {}
    hour = dt.timedelta(hours=1)

    def start(at: dt.datetime) -> dt.datetime:
        utc_hour = at.replace(minute=0, second=0, microsecond=0)
        shift = minutes.get(utc_hour)
        if shift is None:
            offset = utc_hour.replace(tzinfo=dt.timezone.utc).astimezone(zone).utcoffset()
            assert offset is not None
            shift = minutes[utc_hour] = int(-offset.total_seconds() // 60) % 60
        begins = utc_hour + dt.timedelta(minutes=shift)
        return begins if at >= begins else begins - hour

    return start


_COUNT_COLUMNS = (
    "journey_id",
    "grain",
    "hour",
    "kind",
    "key1",
    "key2",
    "key3",
    "count",
    "value_sum",
)
_SESSION_COLUMNS = ("journey_id", "session_id", *SESSION_COLUMNS, "rolled")
_FIELD_COLUMNS = (
    "session_id",
    "step_key",
    "field_key",
    "started",
    "returned",
    "errors",
    "error_types",
    "seconds",
    "hesitation",
)


@lru_cache(maxsize=64)
def _insert_sql(db: Database, table: str, columns: tuple[str, ...], rows: int, tail: str) -> str:
    """A multi-row INSERT, compiled once per shape: building it with Peewee's query builder
    costs more than running it."""
    row = "(" + ", ".join([db.param] * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * rows)} {tail}"


def _insert(
    db: Database, table: str, columns: tuple[str, ...], rows: list[tuple], tail: str = ""
) -> list[tuple]:
    """Insert ``rows`` a statement per :data:`BATCH`; what ``tail``'s RETURNING returned."""
    returned: list[tuple] = []
    for chunk in _chunks(rows):
        cursor = db.execute_sql(
            _insert_sql(db, table, columns, len(chunk), tail),
            [value for row in chunk for value in row],
        )
        if "RETURNING" in tail:
            returned.extend(cursor.fetchall())
    return returned


def _add_counts(db: Database, added: dict[tuple, list[float]]) -> None:
    rows = [
        (journey, grain, db_time(db, hour), kind, a, b, c, n, v)
        for (journey, grain, hour, kind, a, b, c), (n, v) in added.items()
    ]
    table = HourlyCount._meta.table_name
    _insert(
        db,
        table,
        _COUNT_COLUMNS,
        rows,
        "ON CONFLICT (journey_id, grain, kind, hour, key1, key2, key3) DO UPDATE SET "
        f"count = {table}.count + excluded.count, "
        f"value_sum = {table}.value_sum + excluded.value_sum",
    )


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
            found[session_id].append(_event(values))
    for events in found.values():
        events.sort(key=lambda e: (e.occurred_at, e.id))
    return found


def _event(values: Sequence[Any]) -> Event:
    """The :class:`Event` of a row's values selected as :data:`EVENT_COLUMNS`."""
    event = Event(*values)
    event.occurred_at = stored_time(event.occurred_at)
    return event


def _folder(vocabulary: Vocabulary) -> Callable[[Event], Event]:
    """A function that folds an event's step key, field key, error type and drop-off reason,
    remembering each combination's answer (sessions repeat the same few)."""
    answers: dict[tuple, Folded | None] = {}

    def fold(event: Event) -> Event:
        if event.type not in STEP_TYPES:
            return event
        properties = event.props() if event.type == "dropoff_signal" else None
        reason = str(properties.get("reason") or "unknown") if properties is not None else None
        key = (event.type, event.step_key, event.field_key, event.error_type, reason)
        if key not in answers:
            folded = vocabulary.fold(*key[:4], properties, None, None, None)
            unchanged = folded.step_key == event.step_key and folded.field_key == event.field_key
            unchanged &= folded.error_type == event.error_type
            unchanged &= folded.reason is None or folded.reason == reason
            answers[key] = None if unchanged else folded
        answer = answers[key]
        if answer is None:
            return event
        event = copy.copy(event)
        event.step_key, event.field_key = answer.step_key, answer.field_key
        event.error_type = answer.error_type
        if answer.reason is not None:
            event.properties = {**(properties or {}), "reason": answer.reason}
        return event

    return fold


def _summaries(
    db: Database,
    journey_id: int,
    chunk: list[ChunkEvent],
    vocabulary: Vocabulary,
    cutoff: dt.datetime | None,
) -> _SessionRows:
    """The summaries (and :mod:`.forms` rows) of the sessions a chunk's events of one journey
    belong to, with the journey's values folded, as the rows that store them.

    A session summarised before is summarised again from all its stored events; a session new
    in this chunk, from the chunk's own events: any others are read by a later refresh.
    """
    new: dict[str, list[Event]] = defaultdict(list)
    for row in chunk:
        assert row.session_id is not None
        new[row.session_id].append(row.event)
    table = SessionSummary._meta.table_name
    known: set[str] = set()
    for part in _chunks(sorted(new)):
        marks = ", ".join([db.param] * len(part))
        known.update(
            row[0]
            for row in db.execute_sql(
                f"SELECT session_id FROM {table} "
                f"WHERE journey_id = {db.param} AND session_id IN ({marks})",
                (journey_id, *part),
            ).fetchall()
        )
    for events in new.values():
        events.sort(key=lambda e: (e.occurred_at, e.id))
    new.update(session_events(db, journey_id, sorted(known)))
    fold = _folder(vocabulary)
    summaries = {}
    for session_id, events in new.items():
        folded = [fold(event) for event in events]
        summaries[session_id] = (summarise(folded), forms.summarise(folded))
    return _session_rows(db, journey_id, summaries, sorted(known), cutoff)


@dataclass
class _SessionRows:
    """A journey's sessions summarised, as the rows that store them: built before the
    transaction that writes them, so that writers wait only for the writing."""

    journey_id: int
    sessions: list[tuple]
    #: Each session's field and form rows, without the session's row id.
    fields: dict[str, list[tuple]]
    forms: dict[str, tuple]
    #: The sessions summarised before, whose rows these replace.
    replaced: list[str]

    def over(self) -> Iterator[SessionSeen]:
        """The sessions that are over, stored rolled up: what they add to the rollups."""
        for row in self.sessions:
            values = dict(zip(_SESSION_COLUMNS, row, strict=True))
            if values["rolled"]:
                session_id = values["session_id"]
                yield rollups.seen(values, self.fields[session_id], self.forms[session_id])


def _session_rows(
    db: Database,
    journey_id: int,
    summaries: dict[str, tuple[SessionRow, forms.FormRow]],
    replaced: list[str],
    cutoff: dt.datetime | None,
) -> _SessionRows:
    """The rows of ``summaries``, those of sessions over at ``cutoff`` (they ended, or nothing
    happened since) marked rolled up; none without a cutoff."""
    sessions = [
        (
            journey_id,
            session_id,
            db_time(db, row.first_at),
            db_time(db, row.last_at),
            *(row.segments[column] for column in SEGMENT_COLUMNS),
            row.source[:256],
            row.started,
            row.submitted,
            row.completed,
            row.ended,
            json.dumps(row.steps, separators=(",", ":")),
            row.last_step,
            row.last_field,
            int(cutoff is not None and (bool(row.ended) or row.last_at <= cutoff)),
        )
        for session_id, (row, _) in summaries.items()
    ]
    fields = {
        session_id: [
            (
                f.step_key,
                f.field_key,
                f.started,
                f.returned,
                f.errors,
                json.dumps(dict(f.error_types)) if f.error_types else None,
                f.seconds,
                f.hesitation,
            )
            for f in row.fields
        ]
        for session_id, (row, _) in summaries.items()
    }
    paths = {session_id: forms.stored(form) for session_id, (_, form) in summaries.items()}
    return _SessionRows(journey_id, sessions, fields, paths, replaced)


def _store_sessions(db: Database, rows: _SessionRows) -> None:
    """Replace the summaries of these sessions of a journey."""
    sessions = SessionSummary._meta.table_name
    for chunk in _chunks(rows.replaced):
        old = (
            f"SELECT id FROM {sessions} WHERE journey_id = {db.param}"
            f" AND session_id IN ({', '.join([db.param] * len(chunk))})"
        )
        for table in (FieldSummary._meta.table_name, SessionForm._meta.table_name):
            db.execute_sql(
                f"DELETE FROM {table} WHERE session_id IN ({old})", (rows.journey_id, *chunk)
            )
        db.execute_sql(f"DELETE FROM {sessions} WHERE id IN ({old})", (rows.journey_id, *chunk))
    created = _insert(
        db,
        SessionSummary._meta.table_name,
        _SESSION_COLUMNS,
        rows.sessions,
        "RETURNING id, session_id",
    )
    fields = [(pk, *field) for pk, session_id in created for field in rows.fields[session_id]]
    _insert(db, FieldSummary._meta.table_name, _FIELD_COLUMNS, fields)
    paths = [(pk, *rows.forms[session_id]) for pk, session_id in created]
    columns = ("session_id", "path", "errors", "application", "completion_seconds")
    _insert(db, SessionForm._meta.table_name, columns, paths)


def _read_state(db: Database) -> tuple[int, str]:
    """The watermark and the gaps (as stored JSON) the last refresh left."""
    state = RefreshState.get_or_none(RefreshState.id == 1)
    return (state.watermark, state.gaps) if state else (0, "[]")


def _write_transaction(db: Database) -> Any:
    """A transaction that takes the write lock as it begins on SQLite (a read that turns into a
    write later fails at once there when another writer committed meanwhile)."""
    return db.atomic(lock_type="IMMEDIATE") if is_sqlite(db) else db.atomic()


def _refresh_chunk(db: Database, limits: Limits, rolling: Rolling) -> tuple[int, int, bool]:
    """Read one chunk; return (events read, sessions summarised, whether more may follow).

    Everything is read and summarised first, outside any transaction, so that writers wait
    only for the short transaction that stores the result; if another refresh stored one (or
    admitted segment values) in between, the chunk is read again. The transaction also takes
    the sessions summarised again out of the rollups and, unless more chunks follow, adds
    those that are over, stored rolled up (:mod:`.rollups`).
    """
    while True:
        seen = _read_state(db)
        watermark, gaps = seen[0], json.loads(seen[1])
        rows = _new_events(db, watermark, gaps)
        found = {row.event.id for row in rows}
        ids = sorted(event_id for event_id in found if event_id > watermark)
        next_gaps = _next_gaps(gaps, found, watermark, ids, time.time())
        by_journey: dict[int, list[ChunkEvent]] = defaultdict(list)
        for row in rows:
            if row.session_id is not None:
                by_journey[row.journey_id].append(row)
        vocabularies = _vocabularies(db, rows, limits)
        more = len(ids) >= CHUNK
        # A chunk of a backlog leaves its sessions to roll(), which adds up ROLL_LIMIT of them
        # at a time: they share far more rollup rows than a chunk's few hundred do.
        cutoff = None if more else utcnow() - rolling.idle
        summaries = [
            _summaries(db, journey_id, chunk, vocabularies[journey_id], cutoff)
            for journey_id, chunk in by_journey.items()
        ]
        labels = _page_labels(rows, vocabularies)
        counts = _counts(rows, vocabularies, ZoneInfo(rolling.timezone))
        admitted = {
            journey_id: [encode(value) for kind, value in vocabulary.added if kind == "step"]
            for journey_id, vocabulary in vocabularies.items()
        }
        contexts = rollups.Contexts(
            db, ZoneInfo(rolling.timezone), rolling.segment_values, admitted
        )
        over: rollups.Deltas = {}
        for sessions in summaries:
            for session in sessions.over():
                context = contexts[sessions.journey_id]
                rollups.add_to(over, sessions.journey_id, session, True, context)
        rolled_up = rollups.changes(over)
        with _write_transaction(db):
            _lock(db)
            if _read_state(db) != seen or not contexts.current(db):
                continue  # another refresh stored this chunk, or admitted values, meanwhile
            _store_vocabularies(db, vocabularies)
            _store_page_labels(db, labels)
            _add_counts(db, counts)
            taken: rollups.Deltas = {}
            for sessions in summaries:
                rollups.take_out(db, sessions.journey_id, sessions.replaced, contexts, taken)
                _store_sessions(db, sessions)
            rollups.write(db, rollups.changes(taken))
            rollups.write(db, rolled_up)
            contexts.store(db)
            values = {
                "watermark": ids[-1] if ids else watermark,
                "gaps": json.dumps(next_gaps),
                "refreshed_at": utcnow(),
                "zone": rolling.timezone,
            }
            RefreshState.insert(id=1, **values).on_conflict(
                conflict_target=[RefreshState.id], update=values
            ).execute()
        sessions_done = sum(len(sessions.sessions) for sessions in summaries)
        return len(rows), sessions_done, more


def _roll_chunk(db: Database, rolling: Rolling) -> int:
    """Roll up sessions that are over (at most :data:`~.rollups.ROLL_LIMIT`); return how many.

    They are read and added up first, outside any transaction; the short transaction that
    writes the sums also marks them rolled up, and starts again if another refresh changed
    one of them meanwhile.
    """
    while True:
        contexts = rollups.Contexts(db, ZoneInfo(rolling.timezone), rolling.segment_values)
        deltas: rollups.Deltas = {}
        ids = rollups.roll_over(db, utcnow() - rolling.idle, contexts, deltas)
        if not ids:
            return 0
        changes = rollups.changes(deltas)
        try:
            with _write_transaction(db):
                _lock(db)
                if not rollups.mark_rolled(db, ids):
                    raise _Raced
                rollups.write(db, changes)
                contexts.store(db)
        except _Raced:
            continue
        return len(ids)


class _Raced(Exception):
    """Another refresh changed what this one read: it reads again."""


def refresh(
    db: Database,
    *,
    limits: Limits | None = None,
    progress: Progress | None = None,
    rolling: Rolling | None = None,
) -> Refreshed:
    """Bring the summaries and rollups up to date with every event committed so far.

    ``limits`` bound each journey's vocabulary (default: the ``JOURNEY_MAX_*`` defaults);
    ``rolling`` gives the rollups' (and hourly counts') time zone and the idle time that ends a
    session (default: UTC, 30 minutes; a new time zone rebuilds them all); ``progress`` is
    called with the number of events read after each chunk.
    """
    limits = limits or Limits.default()
    rolling = rolling or Rolling()
    if rollups.zone_of(db) not in (None, rolling.timezone):
        return rebuild(db, limits=limits, progress=progress, rolling=rolling)
    done = Refreshed()
    with using(db):
        while True:
            events, sessions, more = _refresh_chunk(db, limits, rolling)
            done.events += events
            done.sessions += sessions
            if progress is not None and events:
                progress(events)
            if not more:
                break
    roll(db, rolling)
    return done


def roll(db: Database, rolling: Rolling | None = None) -> None:
    """Roll up the sessions summarised that are over and not rolled up yet (the refresh does
    this after reading the events; a journey whose steps changed needs it at once)."""
    rolling = rolling or Rolling()
    with using(db):
        while _roll_chunk(db, rolling) >= rollups.ROLL_LIMIT:
            pass


def rebuild(
    db: Database,
    *,
    limits: Limits | None = None,
    progress: Progress | None = None,
    rolling: Rolling | None = None,
) -> Refreshed:
    """Forget every summary, rollup, vocabulary and page label and build them again from the
    stored events."""
    with using(db), _write_transaction(db):
        _lock(db)
        for table in (
            Rollup,
            FieldSummary,
            SessionForm,
            SessionSummary,
            HourlyCount,
            VocabularyValue,
            PageLabel,
            RefreshState,
        ):
            table.delete().execute()
    return refresh(db, limits=limits, progress=progress, rolling=rolling)


def forget_before(db: Database, before: dt.datetime, journeys: Any = None) -> None:
    """Delete the summaries of sessions whose last event, and the counts of hours and of days
    that ended, before ``before`` (of the ``journeys`` query's journeys, or of all): what purge
    removed."""
    with using(db), _write_transaction(db):
        old = SessionSummary.select(SessionSummary.id).where(SessionSummary.last_at < before)
        hours = HourlyCount.delete().where(
            ((HourlyCount.grain == "h") & (HourlyCount.hour < before))
            | ((HourlyCount.grain == "d") & (HourlyCount.hour <= before - dt.timedelta(hours=25)))
        )
        if journeys is not None:
            old = old.where(SessionSummary.journey.in_(journeys))
            hours = hours.where(HourlyCount.journey.in_(journeys))
        zone = rollups.zone_of(db)
        if zone is not None:
            contexts = rollups.Contexts(db, ZoneInfo(zone), 0)
            deltas: rollups.Deltas = {}
            rolled = [row.id for row in old.where(SessionSummary.rolled == 1)]
            for part in _chunks(rolled):
                found = rollups.load(db, f"s.id IN ({', '.join(['{p}'] * len(part))})", part)
                for journey_id, session in found.values():
                    rollups.add_to(deltas, journey_id, session, True, contexts[journey_id], -1)
            rollups.write(db, rollups.changes(deltas))
        FieldSummary.delete().where(FieldSummary.session.in_(old)).execute()
        SessionForm.delete().where(SessionForm.session.in_(old)).execute()
        SessionSummary.delete().where(SessionSummary.id.in_(old)).execute()
        hours.execute()


#: The names ``folded`` counts each kind under, as ``flask journey stats`` prints them.
FOLDED_NAMES = {
    "step": "steps",
    "field": "fields",
    "name": "eventNames",
    "custom": "customEvents",
    "error": "errorTypes",
    "reason": "reasons",
}


def folded(db: Database, journey_id: int) -> dict[str, int]:
    """How many distinct values of each kind (:data:`FOLDED_NAMES`) the journey's events read
    by the refreshes so far hold beyond its vocabulary: its reports count them as ``(other)``."""
    with using(db):
        state = RefreshState.get_or_none(RefreshState.id == 1)
        known = VocabularyValue.select(VocabularyValue.kind, VocabularyValue.value).where(
            VocabularyValue.journey == journey_id, VocabularyValue.kind != "segment"
        )
        vocabulary = Vocabulary(
            Limits.default(), (), [(kind, decode(kind, value)) for kind, value in known.tuples()]
        )
    events = EventModel._meta.table_name
    where = f"journey_id = {db.param} AND id <= {db.param}"
    params = (journey_id, state.watermark if state else 0)

    def distinct(columns: str, condition: str) -> list[tuple]:
        return db.execute_sql(
            f"SELECT DISTINCT {columns} FROM {events} WHERE {where} AND {condition}", params
        ).fetchall()

    def types(names: Iterable[str]) -> str:
        return "type IN (" + ", ".join(f"'{name}'" for name in names) + ")"

    found: dict[str, set[Value]] = {kind: set() for kind in KINDS}
    for (step_key,) in distinct("step_key", f"step_key <> '' AND {types(STEP_TYPES)}"):
        found["step"].add(step_key)
    for step_key, field_key in distinct(
        "step_key, field_key", f"field_key <> '' AND {types(FIELD_TYPES)}"
    ):
        step = vocabulary.fold("step_view", step_key, None, None, None, None, None, None).step_key
        found["field"].add((step, field_key))
    for (error_type,) in distinct("error_type", "type = 'validation_error'"):
        found["error"].add(error_type or "unknown")
    for (properties,) in distinct("CAST(properties AS TEXT)", "type = 'dropoff_signal'"):
        found["reason"].add(str((_properties(properties) or {}).get("reason") or "unknown"))
    for kind, name in distinct("type, name", "name IS NOT NULL"):
        found["name"].add((kind, name))
    for name, category, label in distinct("name, category, label", "type = 'custom'"):
        if name is not None:
            name = vocabulary.fold("custom", None, None, None, None, name, None, None).name
            found["custom"].add((name, category, label))
    return {FOLDED_NAMES[kind]: len(found[kind] - vocabulary.known[kind]) for kind in KINDS}


def pending(db: Database) -> int:
    """How many events the next refresh would read after the watermark."""
    with using(db):
        state = RefreshState.get_or_none(RefreshState.id == 1)
    watermark = state.watermark if state else 0
    table = EventModel._meta.table_name
    return db.execute_sql(
        f"SELECT COUNT(*) FROM {table} WHERE id > {db.param}", (watermark,)
    ).fetchone()[0]


def refreshed_at(db: Database) -> dt.datetime | None:
    """When the summaries were last brought up to date, or None if never."""
    with using(db):
        state = RefreshState.get_or_none(RefreshState.id == 1)
    return state.refreshed_at if state else None

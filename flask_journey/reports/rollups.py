"""The rollups in the database: kept by the refresh, added up by the reports.

The refresh rolls up each session once it is over (it ended, or nothing happened for
``JOURNEY_SESSION_IDLE_MINUTES``): it adds its contribution to the rows of its local day, for
all sessions and for each of its segment values, and marks it ``rolled`` (as it stores the
session's summary when it is over by then, else later with :func:`roll_over`). A
rolled session that gets more events is taken out first (:func:`take_out`) and rolled again
when it is over again. :func:`sums` adds up a report's days: the rollup rows, aggregated by the
database, then the sessions of the range not rolled up or still open at the report's ``now``,
read row by row (the only ones that are).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from peewee import Database

from ..models import (
    FieldSummary,
    JourneySteps,
    RefreshState,
    Rollup,
    SessionForm,
    SessionSummary,
    VocabularyValue,
)
from . import aggregate, rollup
from .query import (
    NONE,
    SEGMENTS,
    TOP_VALUES,
    Query,
    Where,
    db_time,
    segment_sql,
    stored_time,
    top,
)
from .rollup import Histogram, Key, SessionSeen

_ROLLUP = Rollup._meta.table_name
_SESSION = SessionSummary._meta.table_name
_FIELD = FieldSummary._meta.table_name
_FORM = SessionForm._meta.table_name
#: Sessions rolled up per transaction of a refresh.
ROLL_LIMIT = 10_000
#: Rows per INSERT and ids per IN (...) list: within every backend's parameter limits.
BATCH = 500
#: Kinds whose rows a report keeps by day: the trend and the weekly completion times.
DAILY = ("total", "hour", "completion_time", "single")
_COLUMNS = (
    "journey_id",
    "grain",
    "day",
    "segment",
    "value",
    "kind",
    "key1",
    "key2",
    "key3",
    "bucket",
    "n",
    "total",
    "squares",
)
_SEGMENT_COLUMNS = tuple(dict.fromkeys(SEGMENTS.values()))
_SESSION_COLUMNS = (
    "id",
    "journey_id",
    "first_at",
    "last_at",
    *_SEGMENT_COLUMNS,
    "started",
    "submitted",
    "completed",
    "ended",
    "steps",
    "last_step",
    "last_field",
)

#: Rollup changes as sessions are added up: ``{(journey, day, selectors): {key: [n, total,
#: squares]}}``. The sessions of a day with the same segment values share an entry, which
#: :func:`write` spreads over the rows of each of those values.
Deltas = dict[tuple[int, str, tuple[tuple[str, str], ...]], dict[Key, list[float]]]
#: The grains of the rollups: the :data:`DAILY` kinds by day (``t``), the others by day (``d``)
#: and by week (``w``, its Monday): a range reads its whole weeks and the days around them.
TREND, DAY, WEEK = "t", "d", "w"


def _run(db: Database, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
    return list(db.execute_sql(sql.format(p=db.param), list(params)).fetchall())


def _parts(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load(db: Database, where: str, params: Iterable[Any]) -> dict[int, tuple[int, SessionSeen]]:
    """The sessions a WHERE clause over ``journey_session s`` selects, with their field and
    path rows: ``{row id: (journey id, session)}``."""
    rows = {
        row[0]: dict(zip(_SESSION_COLUMNS, row, strict=True))
        for row in _run(
            db,
            f"SELECT {', '.join('s.' + c for c in _SESSION_COLUMNS)} FROM {_SESSION} s"
            f" WHERE {where}",
            params,
        )
    }
    fields: dict[int, list[tuple]] = defaultdict(list)
    paths: dict[int, tuple] = {}
    for part in _parts(list(rows)):
        marks = ", ".join(["{p}"] * len(part))
        for session_id, *columns in _run(
            db,
            "SELECT session_id, step_key, field_key, started, returned, errors, error_types,"
            f" seconds, hesitation FROM {_FIELD} WHERE session_id IN ({marks})",
            part,
        ):
            fields[session_id].append(tuple(columns))
        for session_id, *columns in _run(
            db,
            "SELECT session_id, path, errors, application, completion_seconds"
            f" FROM {_FORM} WHERE session_id IN ({marks})",
            part,
        ):
            paths[session_id] = tuple(columns)
    return {
        pk: (values["journey_id"], seen(values, fields[pk], paths.get(pk)))
        for pk, values in rows.items()
    }


def seen(values: Mapping[str, Any], fields: Iterable[tuple], form: tuple | None) -> SessionSeen:
    """A session as its rows store it: its summary row's values by column name, its field
    rows' (:func:`rollup.field_seen`'s arguments) and its form row's (path, errors,
    application, completion seconds)."""
    session = SessionSeen(
        first_at=stored_time(values["first_at"]),
        last_at=stored_time(values["last_at"]),
        segments={column: values[column] for column in _SEGMENT_COLUMNS},
        started=values["started"],
        submitted=values["submitted"],
        completed=values["completed"],
        ended=values["ended"],
        steps=json.loads(values["steps"]),
        last_step=values["last_step"],
        last_field=values["last_field"],
        fields=[rollup.field_seen(*columns) for columns in fields],
    )
    if form is not None:
        path, errors, session.application, session.completion_seconds = form
        session.path, session.errors = json.loads(path), json.loads(errors)
    return session


def journey(
    db: Database,
    journey_id: int,
    zone: ZoneInfo,
    configured: Iterable[str] | None = None,
    optional: Iterable[str] | None = None,
    segment_values: int | None = None,
    admitting: bool = False,
    admitted: Iterable[str] = (),
) -> rollup.Journey:
    """What contributions of a journey's sessions depend on: its configured steps, then the
    other steps in the order its vocabulary admitted them (those stored, then ``admitted``),
    its optional steps (read from the journey when not given), and the segment values its
    rollups sum on their own, at most ``segment_values`` of each (admitting more as sessions
    are rolled up when ``admitting``)."""
    if configured is None or optional is None:
        kept = JourneySteps.get_or_none(JourneySteps.journey == journey_id)
        configured = list(kept.steps) if kept else []
        optional = (kept.optional or []) if kept else []
    steps = list(configured)
    values = []
    table = VocabularyValue._meta.table_name
    for kind, value in _run(
        db,
        f"SELECT kind, value FROM {table} WHERE journey_id = {{p}}"
        " AND kind IN ('step', 'segment') ORDER BY id",
        [journey_id],
    ):
        if kind == "segment":
            values.append(tuple(json.loads(value)))
        elif value not in steps:
            steps.append(value)
    steps += [step for step in dict.fromkeys(admitted) if step not in steps]
    return rollup.Journey(
        {step: n for n, step in enumerate(steps)},
        frozenset(optional),
        zone,
        rollup.SegmentValues(segment_values, values, admitting),
    )


def add_to(
    deltas: Deltas,
    journey_id: int,
    session: SessionSeen,
    closed: bool,
    context: rollup.Journey,
    sign: int = 1,
) -> None:
    """Add a session's contribution (or take it away: ``sign`` -1) to ``deltas``."""
    day = rollup.local_day(session, context.zone)
    chosen = tuple((segment, value[:256]) for segment, value in rollup.selectors(session, context))
    _merge(
        deltas.setdefault((journey_id, day, chosen), {}),
        rollup.contribution(session, closed, context),
        sign,
    )


def _merge(into: dict[Key, list[float]], rows: Mapping[Key, list[float]], sign: int = 1) -> None:
    for key, (n, total, squares) in rows.items():
        entry = into.get(key)
        if entry is None:
            into[key] = [sign * n, sign * total, sign * squares]
        else:
            entry[0] += sign * n
            entry[1] += sign * total
            entry[2] += sign * squares


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _spread(deltas: Deltas) -> dict[tuple[int, str, str, str, str], dict[Key, list[float]]]:
    """``deltas`` by the rows they change, ``{(journey, grain, day, segment, value): {key:
    [n, total, squares]}}``: the :data:`DAILY` kinds by day (:data:`TREND`), the others by day
    and by week (segment values other than all sessions without the ``segment`` kind)."""
    rows: dict[tuple[int, str, str, str, str], dict[Key, list[float]]] = {}
    for (journey_id, day, chosen), sums in deltas.items():
        daily = {key: value for key, value in sums.items() if key[0] in DAILY}
        others = {key: value for key, value in sums.items() if key[0] not in DAILY}
        without = {key: value for key, value in others.items() if key[0] != "segment"}
        week = monday(dt.date.fromisoformat(day)).isoformat()
        for segment, value in chosen:
            part = without if segment else others
            _merge(rows.setdefault((journey_id, TREND, day, segment, value), {}), daily)
            _merge(rows.setdefault((journey_id, DAY, day, segment, value), {}), part)
            _merge(rows.setdefault((journey_id, WEEK, week, segment, value), {}), part)
    return rows


def changes(deltas: Deltas) -> list[tuple]:
    """What ``deltas`` add to the rollup rows (those by day also to their week's), as rows of
    the rollups' columns for :func:`write`."""
    return [
        (*target, *key, int(n), total, squares)
        for target, sums in _spread(deltas).items()
        for key, (n, total, squares) in sums.items()
        if n or total
    ]


def write(db: Database, rows: list[tuple]) -> None:
    """Add rows of :func:`changes` to the rollup rows."""
    conflict = "journey_id, segment, value, grain, day, kind, key1, key2, key3, bucket"
    tail = (
        f"ON CONFLICT ({conflict}) DO UPDATE SET n = {_ROLLUP}.n + excluded.n,"
        f" total = {_ROLLUP}.total + excluded.total,"
        f" squares = {_ROLLUP}.squares + excluded.squares"
    )
    for part in _parts(rows):
        row = "(" + ", ".join([db.param] * len(_COLUMNS)) + ")"
        db.execute_sql(
            f"INSERT INTO {_ROLLUP} ({', '.join(_COLUMNS)}) VALUES"
            f" {', '.join([row] * len(part))} {tail}",
            [value for entry in part for value in entry],
        )


class Contexts:
    """Each journey's :class:`rollup.Journey`, read once per refresh transaction, admitting up
    to ``segment_values`` values of each segment (0: none, as when sessions are only taken
    out); :meth:`store` keeps the values admitted. ``steps`` are each journey's steps its
    vocabulary admits in the transaction, before the sessions are rolled up."""

    def __init__(
        self,
        db: Database,
        zone: ZoneInfo,
        segment_values: int,
        steps: Mapping[int, list[str]] | None = None,
    ) -> None:
        self.db, self.zone, self.segment_values = db, zone, segment_values
        self.steps = steps or {}
        self.found: dict[int, rollup.Journey] = {}
        self.read: dict[int, int] = {}

    def __getitem__(self, journey_id: int) -> rollup.Journey:
        if journey_id not in self.found:
            self.read[journey_id] = self._segment_values(self.db, journey_id)
            self.found[journey_id] = journey(
                self.db,
                journey_id,
                self.zone,
                None,
                None,
                self.segment_values,
                True,
                self.steps.get(journey_id, ()),
            )
        return self.found[journey_id]

    def current(self, db: Database) -> bool:
        """Whether no refresh has admitted segment values since these contexts were read."""
        return all(self._segment_values(db, journey_id) == n for journey_id, n in self.read.items())

    @staticmethod
    def _segment_values(db: Database, journey_id: int) -> int:
        table = VocabularyValue._meta.table_name
        where = "journey_id = {p} AND kind = 'segment'"
        return _run(db, f"SELECT COUNT(*) FROM {table} WHERE {where}", [journey_id])[0][0]

    def store(self, db: Database) -> None:
        rows = [
            (journey_id, "segment", json.dumps(list(value), ensure_ascii=False))
            for journey_id, context in self.found.items()
            for value in context.values.added
        ]
        table = VocabularyValue._meta.table_name
        for part in _parts(rows):
            marks = ", ".join(["({p}, {p}, {p})"] * len(part))
            db.execute_sql(
                f"INSERT INTO {table} (journey_id, kind, value) VALUES {marks}".format(p=db.param),
                [value for row in part for value in row],
            )


def take_out(
    db: Database, journey_id: int, session_ids: list[str], contexts: Contexts, deltas: Deltas
) -> None:
    """Take the rolled-up sessions among these out of the rollups (their summaries are about to
    be replaced)."""
    for part in _parts(session_ids):
        marks = ", ".join(["{p}"] * len(part))
        found = load(
            db,
            f"s.journey_id = {{p}} AND s.rolled = 1 AND s.session_id IN ({marks})",
            [journey_id, *part],
        )
        for journey_of, session in found.values():
            add_to(deltas, journey_of, session, True, contexts[journey_of], -1)


def roll_over(db: Database, cutoff: dt.datetime, contexts: Contexts, deltas: Deltas) -> list[int]:
    """Add up at most :data:`ROLL_LIMIT` sessions that are over and not rolled up yet into
    ``deltas``; return their row ids (:func:`mark_rolled` marks them)."""
    found = load(
        db,
        f"s.rolled = 0 AND (s.ended <> 0 OR s.last_at <= {{p}}) LIMIT {ROLL_LIMIT}",
        [db_time(db, cutoff)],
    )
    for journey_id, session in found.values():
        add_to(deltas, journey_id, session, True, contexts[journey_id])
    return list(found)


def mark_rolled(db: Database, ids: list[int]) -> bool:
    """Mark sessions rolled up; False when one of them is gone or rolled up already (another
    refresh got there first)."""
    marked = 0
    for part in _parts(ids):
        marks = ", ".join(["{p}"] * len(part))
        cursor = db.execute_sql(
            f"UPDATE {_SESSION} SET rolled = 1 WHERE rolled = 0 AND id IN ({marks})".format(
                p=db.param
            ),
            part,
        )
        marked += cursor.rowcount
    return marked == len(ids)


def forget(db: Database, journey_id: int | None = None) -> None:
    """Empty the rollups (of one journey, or all): the next refresh rolls up its sessions
    again, and reports read them row by row until then."""
    where, params = ("WHERE journey_id = {p}", [journey_id]) if journey_id is not None else ("", [])
    db.execute_sql(f"DELETE FROM {_ROLLUP} {where}".format(p=db.param), params)
    db.execute_sql(
        f"UPDATE {_SESSION} SET rolled = 0 {where} ".format(p=db.param)
        + ("AND rolled = 1" if where else "WHERE rolled = 1"),
        params,
    )


def zone_of(db: Database) -> str | None:
    """The time zone the rollups' days are kept in."""
    table = RefreshState._meta.table_name
    found = _run(db, f"SELECT zone FROM {table} WHERE id = 1")
    return found[0][0] if found else None


@dataclass
class Sums:
    """A report's numbers added up: rows by kind,
    ``{(key1, key2, key3, bucket): [n, total, squares]}``,
    and for :data:`DAILY` kinds also by day."""

    kinds: dict[str, dict[tuple[str, str, str, int], list[float]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    days: dict[str, dict[str, dict[tuple[str, str, str, int], list[float]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(dict))
    )

    def add(self, day: str, key: Key, n: float, total: float, squares: float) -> None:
        kind, rest = key[0], key[1:]
        _accumulate(self.kinds[kind], rest, n, total, squares)
        if kind in DAILY and day:
            _accumulate(self.days[day][kind], rest, n, total, squares)

    def add_session(
        self, session: SessionSeen, closed: bool, context: rollup.Journey, sign: int = 1
    ) -> None:
        day = rollup.local_day(session, context.zone)
        for key, (n, total, squares) in rollup.contribution(session, closed, context).items():
            self.add(day, key, sign * n, sign * total, sign * squares)

    def segment_counts(self, name: str) -> Counter:
        """Sessions by the values of a segment (of the sums of all sessions)."""
        return Counter({value: n for k1, value, _, n in self.counts("segment") if k1 == name})

    def n(self, kind: str, k1: str = "", k2: str = "", k3: str = "") -> int:
        entry = self.kinds.get(kind, {}).get((k1, k2, k3, rollup.NO_BUCKET))
        return int(entry[0]) if entry else 0

    def counts(self, kind: str) -> Iterator[tuple[str, str, str, int]]:
        """``(key1, key2, key3, n)`` of each non-zero count of a kind."""
        for (k1, k2, k3, _), (n, _, _) in self.kinds.get(kind, {}).items():
            if n:
                yield k1, k2, k3, int(n)

    def histograms(self, kind: str) -> dict[tuple[str, str, str], Histogram]:
        """The histogram of each ``(key1, key2, key3)`` of a duration kind."""
        found: dict[tuple[str, str, str], Histogram] = {}
        for (k1, k2, k3, index), (n, total, squares) in self.kinds.get(kind, {}).items():
            if n:
                histogram = found.get((k1, k2, k3))
                if histogram is None:
                    histogram = found[(k1, k2, k3)] = Histogram()
                histogram.buckets[index] = [n, total, squares]
        return found


def _accumulate(
    into: dict[tuple[str, str, str, int], list[float]],
    rest: tuple[str, str, str, int],
    n: float,
    total: float,
    squares: float,
) -> None:
    entry = into.get(rest)
    if entry is None:
        into[rest] = [n, total, squares]
    else:
        entry[0] += n
        entry[1] += total
        entry[2] += squares


def selector(query: Query) -> tuple[str, str] | None:
    """The rollup rows that answer a query's filters: all sessions, one segment's value, or
    None for several filters (answered from session rows)."""
    if not query.filters:
        return "", ""
    if len(query.filters) == 1:
        ((name, value),) = query.filters.items()
        return name, value[:256]
    return None


def sums(
    db: Database,
    query: Query,
    breakdown: str | None = None,
    kinds: tuple[str, ...] | None = None,
) -> tuple[Sums, dict[str, Sums]]:
    """The query's sums (of the rollup ``kinds`` only, when given), and with ``breakdown``
    those of each of the segment's :data:`~.query.TOP_VALUES` values with the most sessions.

    From the rollups where they answer the query (its filters select one row set, and its days
    are in the rollups' time zone), with the sessions of the range that are not rolled up or
    still open at ``query.now`` read row by row; otherwise added up by the database from the
    range's session rows (:mod:`.aggregate`).
    """
    context = journey(
        db, query.journey_id, query.zone, query.steps, query.optional, query.segment_values
    )
    cutoff = query.now - query.idle
    chosen = selector(query) if zone_of(db) == query.timezone else None
    if chosen and chosen[0] and not context.values.admitted(*chosen):
        chosen = None  # a value summed as (other): its sessions are read
    if breakdown and query.filters:
        chosen = None  # a breakdown of filtered sessions: two segments at once
    total: Sums = Sums()
    groups: dict[str, Sums] = defaultdict(Sums)
    if chosen is None:
        return _aggregated(db, query, context, breakdown, kinds or aggregate.KINDS)
    # Sessions not rolled up, and rolled-up sessions open at ``now`` (a report of the past),
    # found through the indexes of sessions not rolled up and of recent ones, not the range's.
    journeys = Where(db, query, ranged=False)
    start, end = query.bounds()
    found = [
        (session, rolled)
        for rolled, condition, params in (
            (False, "s.rolled = 0", []),
            (True, "s.rolled = 1 AND s.ended = 0 AND s.last_at > {p}", [db_time(db, cutoff)]),
        )
        for _, session in load(
            db, f"{journeys.sql} AND {condition}", [*journeys.params, *params]
        ).values()
        if start <= session.first_at < end
    ]

    def add(into: Sums, session: SessionSeen, rolled: bool) -> None:
        if rolled:
            into.add_session(session, True, context, -1)
        into.add_session(session, session.closed(cutoff), context)

    for session, rolled in found:
        add(total, session, rolled)
    _add_rollups(db, query, chosen, [""], {"": total}, kinds)
    if breakdown:
        values = [value for value, _ in top(total.segment_counts(breakdown))]
        for session, rolled in found:
            value = context.values(breakdown, session.segment(breakdown))
            if value in values:
                add(groups[value], session, rolled)
        if values:
            _add_rollups(db, query, (breakdown, ""), values, groups, kinds)
    return total, _top(groups)


def _aggregated(
    db: Database,
    query: Query,
    context: rollup.Journey,
    breakdown: str | None,
    kinds: Iterable[str],
) -> tuple[Sums, dict[str, Sums]]:
    """The sums of a query the rollups do not answer, added up by the database from its
    session rows (:mod:`.aggregate`), with its breakdown's top values by sessions."""
    group = None
    if breakdown:
        where = Where(db, query)
        counted = _run(
            db,
            f"SELECT {segment_sql(breakdown)}, COUNT(*) FROM {_SESSION} s"
            f" WHERE {where.sql} GROUP BY 1",
            where.params,
        )
        values = [value for value, _ in top(dict(counted))]
        group = (breakdown, values) if values else None
    total: Sums = Sums()
    groups: dict[str, Sums] = defaultdict(Sums)
    for value, day, kind, k1, k2, k3, bucket, n, whole, squares in aggregate.rows(
        db, query, context, kinds, group
    ):
        total.add(day, (kind, k1, k2, k3, bucket), n, whole, squares)
        if value is not None and group is not None:
            groups[value].add(day, (kind, k1, k2, k3, bucket), n, whole, squares)
    return total, _top(groups)


def _add_rollups(
    db: Database,
    query: Query,
    chosen: tuple[str, str],
    values: list[str],
    into: Mapping[str, Sums],
    kinds: tuple[str, ...] | None,
) -> None:
    """Add the rollup rows of a segment's values (``chosen[1]`` when ``values`` is ``['']``)
    over the query's days to ``into[value]``: the trend kinds by day (the hourly trend only
    for a range short enough to be shown by hour), the others summed by the database over the
    whole weeks of the range and the days around them."""
    start, end = query.start, query.end
    first = monday(start + dt.timedelta(days=6))
    last = monday(end + dt.timedelta(days=1)) - dt.timedelta(days=7)
    spans: list[tuple[str, dt.date, dt.date]] = []
    if first <= last:
        spans += [(WEEK, first, last), (DAY, start, first - dt.timedelta(days=1))]
        spans.append((DAY, last + dt.timedelta(days=7), end))
    else:
        spans.append((DAY, start, end))
    spans = [span for span in spans if span[1] <= span[2]]
    named = [chosen[1]] if values == [""] else values
    marks = ", ".join(["{p}"] * len(named))
    selected = f"journey_id = {{p}} AND segment = {{p}} AND value IN ({marks})"
    sums = "CAST(SUM(n) AS BIGINT), SUM(total), SUM(squares)"
    daily = [kind for kind in kinds or DAILY if kind in DAILY and (query.hourly or kind != "hour")]
    others = [kind for kind in kinds or () if kind not in DAILY]
    if daily:
        for value, day, *rest in _run(
            db,
            f"SELECT value, day, kind, key1, key2, key3, bucket, {sums} FROM {_ROLLUP}"
            f" WHERE {selected} AND grain = {{p}} AND day >= {{p}} AND day <= {{p}}"
            f" AND kind IN ({', '.join(['{p}'] * len(daily))})"
            " GROUP BY value, day, kind, key1, key2, key3, bucket",
            [
                query.journey_id,
                chosen[0],
                *named,
                TREND,
                start.isoformat(),
                end.isoformat(),
                *daily,
            ],
        ):
            *key, n, total, squares = rest
            into["" if values == [""] else value].add(day, tuple(key), n, total, squares)
    if kinds is not None and not others:
        return
    only = f" AND kind IN ({', '.join(['{p}'] * len(others))})" if others else ""
    for grain, low, high in spans:
        for value, kind, k1, k2, k3, bucket, n, total, squares in _run(
            db,
            f"SELECT value, kind, key1, key2, key3, bucket, {sums} FROM {_ROLLUP}"
            f" WHERE {selected} AND grain = {{p}} AND day >= {{p}} AND day <= {{p}}{only}"
            " GROUP BY value, kind, key1, key2, key3, bucket",
            [query.journey_id, chosen[0], *named, grain, low.isoformat(), high.isoformat()]
            + others,
        ):
            _accumulate(
                into["" if values == [""] else value].kinds[kind],
                (k1, k2, k3, bucket),
                n,
                total,
                squares,
            )


def _top(groups: Mapping[str, Sums]) -> dict[str, Sums]:
    ranked = sorted(groups, key=lambda value: (-groups[value].n("total", "sessions"), value))
    return {
        value: groups[value]
        for value in ranked[:TOP_VALUES]
        if groups[value].n("total", "sessions")
    }


def segment_counts(db: Database, query: Query, found: Sums) -> dict[str, dict[str, int]]:
    """Sessions by each segment's value, the :data:`~.query.TOP_VALUES` largest: from the
    report's sums without filters, else counted by the database from the session rows."""
    if selector(query) == ("", "") and zone_of(db) == query.timezone:
        return {name: dict(top(found.segment_counts(name))) for name in SEGMENTS}
    counted: dict[str, Counter] = {name: Counter() for name in SEGMENTS}
    where = Where(db, query)
    for name, column in SEGMENTS.items():
        for value, n in _run(
            db,
            f"SELECT s.{column}, COUNT(*) FROM {_SESSION} s WHERE {where.sql} GROUP BY s.{column}",
            where.params,
        ):
            counted[name][value or NONE] += n
    return {name: dict(top(+counts)) for name, counts in counted.items()}

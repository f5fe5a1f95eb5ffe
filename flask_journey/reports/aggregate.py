"""A query's sums added up by the database from its sessions' summary rows: for the questions
the rollups do not answer (several filters, a filter with a breakdown, a time zone other than
the rollups', a segment value summed as ``(other)``).

One statement reads the selected sessions once (``sel``, with their forms; ``fx``, their
field rows) and adds up, in a ``GROUP BY`` per kind, what :func:`.rollup.contribution` adds
for each session, reading the steps, path and errors the summaries keep as JSON arrays with the
database's JSON functions: the report gets a few hundred aggregated rows, not the sessions. The
tests hold both ways against the raw-event reference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from peewee import Database

from ..db import is_sqlite
from ..models import FieldSummary, SessionForm, SessionSummary
from .query import Query, Where, db_time, segment_sql
from .rollup import BINS, NO_BUCKET, OFFSET, PER_OCTAVE, Journey

_SESSION = SessionSummary._meta.table_name
_FIELD = FieldSummary._meta.table_name
_FORM = SessionForm._meta.table_name


class _Dialect:
    """The SQL that differs between SQLite and PostgreSQL: JSON arrays, local time, spans."""

    def __init__(self, db: Database) -> None:
        self.sqlite = is_sqlite(db)

    def elements(self, column: str, alias: str, scalars: bool = False) -> str:
        """A JSON array's elements as rows: ``alias.key`` (their order), ``alias.value``
        (text, for an array of ``scalars``)."""
        if self.sqlite:
            return f"json_each({column}) {alias}"
        each = "json_array_elements_text" if scalars else "json_array_elements"
        return f"{each}(CAST({column} AS json)) WITH ORDINALITY {alias}(value, key)"

    def nested(self, alias: str, index: int, new: str) -> str:
        """The text elements of the array that is item ``index`` of ``alias.value``."""
        if self.sqlite:
            return f"json_each({alias}.value, '$[{index}]') {new}"
        return (
            f"json_array_elements_text({alias}.value -> {index}) WITH ORDINALITY {new}(value, key)"
        )

    def members(self, column: str, alias: str) -> str:
        """A JSON object's members as rows ``alias.key`` and ``alias.value``."""
        if self.sqlite:
            return f"json_each({column}) {alias}"
        return f"json_each_text(CAST({column} AS json)) {alias}"

    def item(self, alias: str, index: int, kind: str = "text") -> str:
        """Item ``index`` of the JSON array ``alias.value``, as ``text``, ``int`` or ``float``."""
        if self.sqlite:
            return f"json_extract({alias}.value, '$[{index}]')"
        return self.cast(f"({alias}.value ->> {index})", kind)

    def cast(self, expression: str, kind: str) -> str:
        if self.sqlite or kind == "text":
            return expression
        return f"CAST({expression} AS {'INTEGER' if kind == 'int' else 'DOUBLE PRECISION'})"

    def local(self, offset: str, pattern: str) -> str:
        """``s.first_at`` moved by ``offset`` minutes, as ``%H`` (its hour) or ``%Y-%m-%d``."""
        if self.sqlite:
            return f"strftime('{pattern}', s.first_at, ({offset}) || ' minutes')"
        shown = {"%H": "HH24", "%Y-%m-%d": "YYYY-MM-DD"}[pattern]
        return f"to_char(s.first_at + ({offset}) * INTERVAL '1 minute', '{shown}')"

    def seconds(self, start: str, end: str) -> str:
        """The seconds from one stored time to another."""
        if self.sqlite:
            return f"((julianday({end}) - julianday({start})) * 86400.0)"
        return f"EXTRACT(EPOCH FROM ({end} - {start}))"

    def bucket(self, seconds: str) -> str:
        """:func:`.rollup.bucket` of a duration (a hair above the floor's argument keeps an
        exact power of two in the bucket Python's ``log2`` puts it in)."""
        greatest = "MAX" if self.sqlite else "GREATEST"
        return (
            f"(CASE WHEN {seconds} <= 0 THEN 0 ELSE {greatest}(1, CAST(FLOOR({PER_OCTAVE}"
            f" * LN({seconds}) / LN(2) + 1e-9) AS INTEGER) + {OFFSET}) END)"
        )


class _Params(list[Any]):
    """Parameters in the order an f-string asks for them: ``f"... {p(value)} ..."``."""

    def __call__(self, value: Any) -> str:
        self.append(value)
        return "{p}"

    def many(self, values: Iterable[Any]) -> str:
        return ", ".join(self(value) for value in values)


def _offsets(query: Query) -> list[tuple[dt.datetime, int]]:
    """The report zone's UTC offset in minutes over the query's range:
    ``[(from when, minutes)]``, the first from the range's start."""
    zone = query.zone
    start, end = query.bounds()

    def minutes(at: dt.datetime) -> int:
        offset = at.replace(tzinfo=dt.timezone.utc).astimezone(zone).utcoffset()
        return int(offset.total_seconds() // 60) if offset else 0

    found = [(start, minutes(start))]
    at = start
    while at < end:
        following = at + dt.timedelta(hours=1)
        if minutes(following) != found[-1][1]:
            low, high = at, following  # the change lies in (low, high]
            while high - low > dt.timedelta(minutes=1):
                middle = low + (high - low) / 2
                low, high = (low, middle) if minutes(middle) != found[-1][1] else (middle, high)
            found.append((high, minutes(high)))
        at = following
    return found


class _Statement:
    """The one statement that reads a set of sessions (a query's, or with ``group``, those of
    some values of a segment) once, into ``sel``, and adds up each kind from it."""

    def __init__(
        self, db: Database, query: Query, journey: Journey, group: tuple[str, list[str]] | None
    ) -> None:
        self.db, self.query, self.journey, self.group = db, query, journey, group
        self.d = _Dialect(db)
        self.p = _Params()
        self.offsets = [(db_time(db, at), minutes) for at, minutes in _offsets(query)]

    def selected(self) -> str:
        """``sel``: the sessions, with what every part reads of them (``g``: the group)."""
        p, d = self.p, self.d
        where = Where(self.db, self.query)
        key = "''"
        if self.group is not None:
            value = segment_sql(self.group[0])
            key = f"CASE WHEN {value} IN ({p.many(self.group[1])}) THEN {value} END"
        cutoff = db_time(self.db, self.query.now - self.query.idle)
        columns = (
            f"s.id AS id, {key} AS g, {self._local('%Y-%m-%d')} AS local_day,"
            f" {self._local('%H')} AS local_hour, s.started AS started, s.submitted AS submitted,"
            " s.completed AS completed,"
            f" CASE WHEN s.ended <> 0 OR s.last_at <= {p(cutoff)} THEN 1 ELSE 0 END AS is_over,"
            " s.last_step AS last_step, s.last_field AS last_field, s.steps AS steps,"
            f" {d.seconds('s.first_at', 's.last_at')} AS span, f.path AS path,"
            " f.errors AS errors, f.application AS application,"
            " f.completion_seconds AS completion"
        )
        p.extend(where.params)
        return (
            f"SELECT {columns} FROM {_SESSION} s LEFT JOIN {_FORM} f ON f.session_id = s.id"
            f" WHERE {where.sql}"
        )

    def _local(self, pattern: str) -> str:
        """The local day (or with ``%H``, hour) of the session's start."""
        (_, first), *changes = self.offsets
        offset = str(first)
        if changes:
            cases, before = [], first
            for at, minutes in changes:
                cases.append(f"WHEN s.first_at < {self.p(at)} THEN {before}")
                before = minutes
            offset = f"CASE {' '.join(cases)} ELSE {before} END"
        return self.d.local(offset, pattern)

    def run(self, parts: list[Callable[[_Statement], list[str]]]) -> list[tuple]:
        """The rows of ``parts``' selects over ``sel``, in one statement."""
        sql = f"WITH sel AS MATERIALIZED ({self.selected()})"
        if _fields in parts:
            sql += f", fx AS MATERIALIZED ({_field_rows(self)})"
        selects = [select for part in parts for select in part(self)]
        sql += " " + " UNION ALL ".join(
            f"SELECT * FROM ({select}) q{n}" for n, select in enumerate(selects)
        )
        with self.db.atomic():
            if not self.d.sqlite:
                # PostgreSQL guesses 100 rows for each JSON function call, so the plan looks
                # costly enough to compile: seconds of JIT for a statement that runs in ms.
                self.db.execute_sql("SET LOCAL jit = off")
            return list(self.db.execute_sql(sql.format(p=self.db.param), self.p).fetchall())


#: ``sel``'s sessions that were abandoned: started, over and not completed.
ABANDONED = "(sel.started <> 0 AND sel.is_over = 1 AND sel.completed = 0)"
#: Where a session stands at the end: ``c`` completed, ``a`` abandoned, ``o`` neither yet.
SIDE = f"CASE WHEN sel.completed <> 0 THEN 'c' WHEN {ABANDONED} THEN 'a' ELSE 'o' END"
_VALUES = 7


def _timed(kind: str, keys: str, seconds: str, d: _Dialect) -> str:
    """The columns after the group and day of a duration kind's rows: its tag and keys, the
    bucket, and the count, sum and sum of squares."""
    return (
        f"'{kind}', {keys}, {d.bucket(seconds)}, COUNT(*), SUM({seconds}),"
        f" SUM({seconds} * {seconds}), 0, 0, 0, 0"
    )


def _values(*columns: str) -> str:
    """A select's numbers, ``v1`` to ``v7``: each row of the statement is ``(group, day, tag,
    key1, key2, key3, bucket, v1 … v7)``, its tag a kind of row or several (:func:`_unfold`)."""
    return ", ".join([*columns, *["0"] * (_VALUES - len(columns))])


def _totals(t: _Statement) -> list[str]:
    counts = _values(
        "COUNT(*)",
        "SUM(sel.started)",
        "SUM(sel.submitted)",
        "SUM(sel.completed)",
        f"SUM(CASE WHEN {ABANDONED} THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN sel.is_over = 0 AND sel.completed = 0 THEN 1 ELSE 0 END)",
    )
    return [
        f"SELECT g, local_day, 'total', local_hour, '', '', {NO_BUCKET}, {counts} FROM sel"
        " GROUP BY g, local_day, local_hour"
    ]


def _forms(t: _Statement) -> list[str]:
    d = t.d
    bins = " ".join(f"WHEN sel.completion <= {b} THEN '{n}'" for n, b in enumerate(BINS))
    coarse = f"CASE {bins} ELSE '{len(BINS)}' END"
    single = "sel.application IS NULL"
    done = f"{single} AND sel.completed <> 0"
    timed = "sel.completion IS NOT NULL"
    count = f"'', '', {NO_BUCKET}, {_values('COUNT(*)')}"
    parts = (
        (timed, _timed("completion_time", "'', '', ''", "sel.completion", d)),
        (timed, f"'completion_bin', {coarse}, {count}"),
        (single, f"'single', 'sessions', {count}"),
        (done, f"'single', 'completed', {count}"),
        (done, _timed("single_days", "'', '', ''", "sel.span", d)),
        (f"{done} AND {timed}", _timed("single_time", "'', '', ''", "sel.completion", d)),
        (f"{done} AND {timed}", f"'single_bin', {coarse}, {count}"),
    )
    return [
        f"SELECT g, local_day, {select} FROM sel WHERE {which} GROUP BY 1, 2, 3, 4, 5, 6, 7"
        for which, select in parts
    ]


def _field_rows(t: _Statement) -> str:
    """``fx``: the field rows of ``sel``'s sessions, with where each session stands."""
    return (
        "SELECT sel.g AS g, x.step_key AS step_key, x.field_key AS field_key,"
        f" {SIDE} AS side, x.started AS started, x.returned AS returned, x.errors AS errors,"
        " x.error_types AS error_types, x.seconds AS seconds, x.hesitation AS hesitation,"
        " CASE WHEN sel.is_over = 1 AND sel.completed = 0 AND sel.last_field = x.field_key"
        " AND sel.last_step = x.step_key THEN 1 ELSE 0 END AS here"
        f" FROM sel JOIN {_FIELD} x ON x.session_id = sel.id"
    )


def _fields(t: _Statement) -> list[str]:
    d = t.d
    keys = "step_key, field_key"
    counts = _values(
        "COUNT(*)",
        "SUM(started)",
        "SUM(returned)",
        "SUM(CASE WHEN errors > 0 THEN 1 ELSE 0 END)",
        "SUM(here)",
        "SUM(CASE WHEN errors = 0 THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN errors = 0 AND side = 'a' THEN 1 ELSE 0 END)",
    )
    types = d.members("fx.error_types", "e")
    errors = d.cast("e.value", "int")
    return [
        f"SELECT g, '', 'field', {keys}, side, {NO_BUCKET}, {counts} FROM fx GROUP BY 1, 4, 5, 6",
        f"SELECT g, '', {_timed('field_time', f'{keys}, side', 'seconds', d)}"
        " FROM fx WHERE seconds IS NOT NULL GROUP BY 1, 4, 5, 6, 7",
        f"SELECT g, '', {_timed('hesitation', f'{keys}, {EMPTY}', 'hesitation', d)}"
        " FROM fx WHERE hesitation IS NOT NULL GROUP BY 1, 4, 5, 6, 7",
        f"SELECT g, '', 'error', {keys}, e.key, {NO_BUCKET}, {_values(f'SUM({errors})')}"
        f" FROM fx JOIN {types} ON 1 = 1 WHERE fx.error_types IS NOT NULL GROUP BY 1, 4, 5, 6",
    ]


def _steps(t: _Statement) -> list[str]:
    d, p = t.d, t.p
    each = f"sel JOIN {d.elements('sel.steps', 'e')} ON 1 = 1"
    step, viewed, spent = d.item("e", 0), d.item("e", 1, "int"), d.item("e", 2, "float")
    ranks = sorted(t.journey.ranks.items(), key=lambda item: item[1])
    rank = "0"
    if ranks:
        rank = f"CASE {step} {' '.join(f'WHEN {p(k)} THEN {n}' for k, n in ranks)}"
        rank += f" ELSE {len(ranks)} END"
    order = "" if d.sqlite else ' COLLATE "C"'
    last = (
        f"SELECT sel.g AS g, {step} AS k, ROW_NUMBER() OVER (PARTITION BY sel.id"
        f" ORDER BY {rank} DESC, {step}{order} DESC) AS n FROM {each}"
        f" WHERE {viewed} <> 0 AND sel.is_over = 1 AND sel.completed = 0"
    )
    reach = (
        f"SELECT sel.g AS g, {step} AS k,"
        " ROW_NUMBER() OVER (PARTITION BY sel.id ORDER BY e.key) - 1 AS place"
        f" FROM {each} WHERE {viewed} <> 0"
    )
    reasons = f"{each} JOIN {d.nested('e', 3, 'why')} ON 1 = 1"
    return [
        f"SELECT g, '', 'steps', k, '', '', {NO_BUCKET}, {_values('COUNT(*)', 'SUM(place)')}"
        f" FROM ({reach}) v GROUP BY g, k",
        f"SELECT g, '', {_timed('step_time', f'{step}, {EMPTY}, {EMPTY}', spent, d)}"
        f" FROM {each} WHERE {viewed} <> 0 AND {spent} IS NOT NULL GROUP BY 1, 4, 5, 6, 7",
        f"SELECT g, '', 'reason', {step}, why.value, '', {NO_BUCKET}, {_values('COUNT(*)')}"
        f" FROM {reasons} GROUP BY 1, 4, 5",
        f"SELECT g, '', 'step', k, 'dropoffs', '', {NO_BUCKET}, {_values('COUNT(*)')}"
        f" FROM ({last}) v WHERE n = 1 GROUP BY g, k",
    ]


def _paths(t: _Statement) -> list[str]:
    d, p = t.d, t.p
    each = f"sel JOIN {d.elements('sel.path', 'a', scalars=True)} ON 1 = 1"
    end = (
        "SELECT sel.g AS g, a.value AS here, sel.completed AS done, sel.is_over AS is_over,"
        f" ROW_NUMBER() OVER (PARTITION BY sel.id ORDER BY a.key DESC) AS n FROM {each}"
    )
    there = "CASE WHEN done <> 0 THEN '(completed)' ELSE '(exit)' END"
    pairs = f"{each} JOIN {d.elements('sel.path', 'b', scalars=True)} ON b.key = a.key + 1"
    optional = sorted(t.journey.optional)
    skipped = f" AND b.value NOT IN ({p.many(optional)})" if optional else ""
    source = (
        f"(SELECT b.value FROM {d.elements('sel.path', 'b', scalars=True)}"
        f" WHERE b.key < a.key AND b.value <> a.value{skipped} ORDER BY b.key DESC LIMIT 1)"
    )
    first = (
        f"SELECT sel.g AS g, a.value AS k, {source} AS came FROM {each} WHERE NOT EXISTS"
        f" (SELECT 1 FROM {d.elements('sel.path', 'c', scalars=True)}"
        " WHERE c.key < a.key AND c.value = a.value)"
    )
    return [
        f"SELECT g, '', 'end', here, {there}, '', {NO_BUCKET}, {_values('COUNT(*)')} FROM ({end}) v"
        " WHERE n = 1 AND (done <> 0 OR is_over = 1) GROUP BY 1, 4, 5",
        f"SELECT g, '', 'move', a.value, b.value, '', {NO_BUCKET},"
        f" {_values('COUNT(DISTINCT sel.id)')}"
        f" FROM {pairs} GROUP BY 1, 4, 5",
        f"SELECT g, '', 'came', k, came, '', {NO_BUCKET}, {_values('COUNT(*)')} FROM ({first}) v"
        " WHERE came IS NOT NULL GROUP BY 1, 4, 5",
    ]


def _errors(t: _Statement) -> list[str]:
    d = t.d
    each = f"sel JOIN {d.elements('sel.errors', 'e')} ON 1 = 1"
    keys = f"{d.item('e', 0)}, {d.item('e', 1)}, {d.item('e', 2)}"
    recovered, last = d.item("e", 3, "int"), d.item("e", 4, "int")
    seconds = d.item("e", 5, "float")
    counts = _values(
        "COUNT(*)",
        f"SUM({recovered})",
        f"SUM(CASE WHEN {ABANDONED} AND {last} <> 0 THEN 1 ELSE 0 END)",
    )
    return [
        f"SELECT g, '', 'outcome', {keys}, {NO_BUCKET}, {counts} FROM {each} GROUP BY 1, 4, 5, 6",
        f"SELECT g, '', {_timed('fix_time', keys, seconds, d)} FROM {each}"
        f" WHERE {seconds} IS NOT NULL GROUP BY 1, 4, 5, 6, 7",
    ]


EMPTY = "''"
#: A row :func:`rows` gives.
Row = tuple[str | None, str, str, str, str, str, int, int, float, float]
_FORMS = ("completion_time", "completion_bin", "single", "single_days", "single_time")
#: Each part of the statement and the kinds of rows it gives.
_PARTS: tuple[tuple[Callable[[_Statement], list[str]], frozenset[str]], ...] = (
    (_totals, frozenset({"total", "hour"})),
    (_forms, frozenset({*_FORMS, "single_bin"})),
    (_fields, frozenset({"field", "behaviour", "field_time", "hesitation", "error"})),
    (_steps, frozenset({"step", "step_time", "reason"})),
    (_paths, frozenset({"step", "move", "came"})),
    (_errors, frozenset({"outcome", "fix_time"})),
)
#: Every kind of row :func:`rows` gives.
KINDS = frozenset().union(*(kinds for _, kinds in _PARTS))
#: The metrics of the values ``v1``, ``v2`` … of a tag that bundles several.
_TOTALS = ("sessions", "starters", "submitters", "completions", "abandons", "active")
_FIELD_METRICS = (
    "sessions",
    "starters",
    "returns",
    "errorSessions",
    "abandons",
    "clean",
    "cleanAbandons",
)
_OUTCOMES = ("sessions", "recovered", "abandoned")


def rows(
    db: Database,
    query: Query,
    journey: Journey,
    kinds: Iterable[str],
    group: tuple[str, list[str]] | None = None,
) -> Iterator[Row]:
    """The query's rollup rows of ``kinds`` as :func:`.rollup.contribution` would add them up,
    by local day: ``(group, day, kind, key1, key2, key3, bucket, n, total, squares)``. The
    group is '' for all sessions; with ``group`` (a segment and some of its values), the value
    of each of those values' sessions and None for the others'. One statement, reading the
    sessions once."""
    wanted = set(kinds)
    parts = [part for part, gives in _PARTS if wanted & gives]
    if not parts:
        return
    for value, day, tag, k1, k2, k3, bucket, *numbers in _Statement(db, query, journey, group).run(
        parts
    ):
        for kind, keys, n, total, squares in _unfold(
            tag, str(k1), str(k2 or ""), str(k3 or ""), numbers
        ):
            if kind in wanted and (n or total):
                yield (
                    value,
                    day or "",
                    kind,
                    *keys,
                    int(bucket),
                    int(n),
                    float(total),
                    float(squares),
                )


def _unfold(
    tag: str, k1: str, k2: str, k3: str, numbers: list[Any]
) -> Iterator[tuple[str, tuple[str, str, str], Any, Any, Any]]:
    """A row of the statement as rollup rows: ``(kind, keys, n, total, squares)``."""
    if tag == "total":
        for metric, n in zip(_TOTALS, numbers, strict=False):
            yield "total", (metric, "", ""), n, 0, 0
            if metric in ("sessions", "starters", "completions"):
                yield "hour", (k1, metric, ""), n, 0, 0
    elif tag == "steps":
        yield "step", (k1, "reach", ""), numbers[0], 0, 0
        yield "step", (k1, "position", ""), numbers[1], 0, 0
    elif tag == "end":
        yield "move", (k1, k2, ""), numbers[0], 0, 0
        if k2 == "(exit)":
            yield "step", (k1, "exits", ""), numbers[0], 0, 0
    elif tag == "field":
        for metric, n in zip(_FIELD_METRICS, numbers, strict=False):
            yield tag, (k1, k2, metric), n, 0, 0
        if k3 != "o":
            sessions, _, returns, errors, *_ = numbers
            for metric, n in (("sessions", sessions), ("returns", returns), ("errors", errors)):
                yield "behaviour", (k1, k2, f"{k3}\x1f{metric}"), n, 0, 0
    elif tag == "outcome":
        for metric, n in zip(_OUTCOMES, numbers, strict=False):
            yield tag, (k1, k2, f"{k3}\x1f{metric}"), n, 0, 0
    else:
        yield tag, (k1, k2, k3), numbers[0], numbers[1] or 0, numbers[2] or 0

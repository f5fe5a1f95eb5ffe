"""Schema versions, and the migrations that bring a database from one to the next.

A database records the versions applied to it in ``journey_schema_version``. ``flask journey
init-db`` creates the current schema on an empty database and records :data:`LATEST`;
``flask journey migrate`` applies, in order and in one transaction, the migrations a database
lacks (Peewee's schema migrator). A database with flask-journey's tables but no version table was
created by release 0.1: it is at :data:`BASELINE`.

To change the schema: change the models, then append a :class:`Migration` with the next version
whose steps bring an existing database to what a new one gets. :func:`differences` (and
``tests/test_migrate.py``) tell when the two disagree.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from peewee import (
    CharField,
    Database,
    DateTimeField,
    DoubleField,
    Field,
    ForeignKeyField,
    IntegerField,
    PostgresqlDatabase,
    SmallIntegerField,
    SqliteDatabase,
    fn,
)
from playhouse.cockroachdb import CockroachDatabase
from playhouse.migrate import Operation, SchemaMigrator, make_index_name, migrate

from ._peewee import index_name, index_where
from .db import using
from .events import CanonicalEvent
from .identities import identify_of, link
from .models import (
    INSTANCE_ID_INDEX,
    MODELS,
    NOT_ROLLED_INDEX,
    PERSON_EVENT_INDEX,
    ApiKey,
    BaseModel,
    DashboardSession,
    Event,
    FieldSummary,
    HourlyCount,
    IdentityLink,
    Installation,
    Journey,
    JourneyLabels,
    JourneySteps,
    JourneyUsage,
    JSONField,
    PageLabel,
    RefreshState,
    RefusalCount,
    Rollup,
    SessionForm,
    SessionSummary,
    ShareLink,
    VocabularyValue,
    utcnow,
)
from .origins import valid_origins
from .privacy import url_origin


class SchemaVersion(BaseModel):
    """A schema version applied to the database, and when."""

    version = IntegerField(primary_key=True)
    applied_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "journey_schema_version"


#: A migration's steps: given the database's migrator, the operations to run, in order.
Steps = Callable[[SchemaMigrator], list[Operation]]


@dataclass(frozen=True)
class Migration:
    """The steps from the previous schema version to ``version``."""

    version: int
    description: str
    steps: Steps


#: The schema of release 0.1, which kept no version.
BASELINE = 1


def _add_index(
    table: str,
    columns: tuple[str, ...],
    *,
    name: str | None = None,
    where: Any = None,
    unique: bool = False,
) -> Steps:
    """Steps that add an index, unless an operator already built it (CREATE INDEX CONCURRENTLY)."""
    name = name or make_index_name(table, columns)

    def steps(migrator: SchemaMigrator) -> list[Operation]:
        existing = {index.name for index in migrator.database.get_indexes(table)}
        if name in existing:
            return []
        return [migrator.add_index(table, columns, unique=unique, name=name, where=where)]

    return steps


def _drop_indexes(table: str, *names: str) -> Steps:
    """Steps that drop indexes, those an operator has not dropped already."""

    def steps(migrator: SchemaMigrator) -> list[Operation]:
        existing = {index.name for index in migrator.database.get_indexes(table)}
        return [migrator.drop_index(table, name) for name in names if name in existing]

    return steps


def _create_tables(*models: type[BaseModel]) -> Steps:
    """Steps that create new tables (and their indexes), those not there already."""

    def steps(migrator: SchemaMigrator) -> list[Operation]:
        def create(migrator: SchemaMigrator) -> None:
            migrator.database.create_tables(models, safe=True)

        return [Operation(migrator, create)]

    return steps


def _add_columns(table: str, **columns: Field) -> Steps:
    """Steps that add nullable columns (and their indexes), those not there already."""

    def steps(migrator: SchemaMigrator) -> list[Operation]:
        existing = {column.name for column in migrator.database.get_columns(table)}
        return [
            migrator.add_column(table, name, field)
            for name, field in columns.items()
            if name not in existing
        ]

    return steps


def _double_precision(table: str, column: str) -> Steps:
    """Steps that make a nullable column double precision, where it is not already."""

    def steps(migrator: SchemaMigrator) -> list[Operation]:
        if isinstance(migrator.database, SqliteDatabase):
            return []
        return [migrator.alter_column_type(table, column, DoubleField(null=True))]

    return steps


def _rewrite_origins(rewrite: Callable[[list[Any]], list[str]]) -> Steps:
    """Steps that replace every journey's allowed origins with ``rewrite`` of them."""

    def steps(migrator: SchemaMigrator) -> list[Operation]:
        def run(migrator: SchemaMigrator) -> None:
            for journey in Journey.select(Journey.id, Journey.allowed_origins):
                stored = journey.allowed_origins
                new = rewrite(stored if isinstance(stored, list) else [])
                if new != stored:
                    changed = Journey.update(allowed_origins=new)
                    changed.where(Journey.id == journey.id).execute()

        return [Operation(migrator, run)]

    return steps


def _exact(origins: list[Any]) -> list[str]:
    """Origins as browsers send them (``https://Shop.Example:443`` is ``https://shop.example``);
    a value that is no origin kept as it is."""
    return list(dict.fromkeys(url_origin(o) or o for o in origins))


def _forget_summaries(migrator: SchemaMigrator) -> list[Operation]:
    """Steps that delete the report summaries, which ``flask journey migrate`` then builds
    again from the events."""

    def forget(migrator: SchemaMigrator) -> None:
        tables = [FieldSummary, SessionSummary, HourlyCount, RefreshState]
        if Rollup._meta.table_name in migrator.database.get_tables():
            tables.insert(0, Rollup)
        if SessionForm._meta.table_name in migrator.database.get_tables():
            tables.insert(0, SessionForm)
        for table in tables:
            table.delete().execute(migrator.database)

    return [Operation(migrator, forget)]


def _link_identifies(migrator: SchemaMigrator) -> list[Operation]:
    """Steps that link what the identify events already stored name, in the order they were
    stored, as ingest links those stored from now on."""

    def replay(migrator: SchemaMigrator) -> None:
        db = migrator.database
        identifies = (
            Event.select(
                Event.journey,
                Event.event_id,
                Event.type,
                Event.occurred_at,
                Event.client_id,
                Event.user_id,
                Event.properties,
            )
            .where(Event.type == "identify")
            .order_by(Event.id)
            .dicts()
        )
        for row in identifies:
            journey = row.pop("journey")
            found = identify_of(CanonicalEvent(**row))
            if found is not None:
                link(db, journey, found)

    return [Operation(migrator, replay)]


def _rollups_rowid_free(migrator: SchemaMigrator) -> list[Operation]:
    """Steps that move the rollups, on SQLite, into a table that is its primary key's B-tree
    (a database that got the table from migration 22 of this release has it already)."""
    db = migrator.database
    table = Rollup._meta.table_name
    if not isinstance(db, SqliteDatabase):
        return []
    (sql,) = db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if "WITHOUT ROWID" in sql.upper():
        return []

    def move(migrator: SchemaMigrator) -> None:
        columns = ", ".join(field.column_name for field in Rollup._meta.sorted_fields)
        db.execute_sql(f"ALTER TABLE {table} RENAME TO {table}_old")
        db.create_tables([Rollup])
        db.execute_sql(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_old")
        db.execute_sql(f"DROP TABLE {table}_old")

    return [Operation(migrator, move)]


def _in_turn(*parts: Steps) -> Steps:
    """The steps of each of ``parts``, in order."""

    def steps(migrator: SchemaMigrator) -> list[Operation]:
        return [operation for part in parts for operation in part(migrator)]

    return steps


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "index events by received_at, for flask journey purge",
        _add_index(Event._meta.table_name, ("received_at",)),
    ),
    Migration(
        3,
        "drop two event indexes no query uses, which every insert paid for: journey_id alone "
        "(the unique index on journey_id, event_id covers it) and journey_id, occurred_at",
        _drop_indexes(
            Event._meta.table_name,
            make_index_name(Event._meta.table_name, ("journey_id",)),
            make_index_name(Event._meta.table_name, ("journey_id", "occurred_at")),
        ),
    ),
    Migration(
        4,
        "index instance_id only on the events that carry an instance id, not on every event",
        _in_turn(
            _drop_indexes(
                Event._meta.table_name, make_index_name(Event._meta.table_name, ("instance_id",))
            ),
            _add_index(
                Event._meta.table_name,
                ("instance_id",),
                name=index_name(INSTANCE_ID_INDEX),
                where=index_where(INSTANCE_ID_INDEX),
            ),
        ),
    ),
    Migration(
        5,
        "report summaries: sessions, their fields, hourly event counts and the refresh state; "
        "a journey's configured steps (flask journey migrate then builds the summaries)",
        _create_tables(JourneySteps, SessionSummary, FieldSummary, HourlyCount, RefreshState),
    ),
    Migration(
        6,
        "count refused requests and events per journey (journey_refusal), and keep values an "
        "installation generates once, such as its identity secret (journey_installation)",
        _create_tables(RefusalCount, Installation),
    ),
    Migration(
        7,
        "read-only share links of journey dashboards (only their tokens' hashes)",
        _create_tables(ShareLink),
    ),
    Migration(
        8,
        "events' value in double precision (PostgreSQL rewrites journey_event, holding its lock "
        "meanwhile; SQLite's REAL is double precision already)",
        _double_precision(Event._meta.table_name, "value"),
    ),
    Migration(
        9,
        "journeys' allowed origins written as browsers send them (lower case, no default "
        "port), as requests' origins are now compared exactly",
        _rewrite_origins(_exact),
    ),
    Migration(
        10,
        "journeys' allowed origins that are not scheme://host[:port] with a valid host (such as "
        "'https://a.example;script-src *' or 'http://*') dropped; IDNA hosts in ASCII",
        _rewrite_origins(valid_origins),
    ),
    Migration(
        11,
        "secret keys' scopes (NULL for the keys made before: every scope); the key that made "
        "each share link and a fingerprint of the key that signed it; dashboard sign-ins as "
        "rows (journey_dashboard_session), so that signing out ends them",
        _in_turn(
            _add_columns(ApiKey._meta.table_name, scopes=CharField(max_length=64, null=True)),
            _add_columns(
                ShareLink._meta.table_name,
                api_key_id=ForeignKeyField(ApiKey, null=True, on_delete="CASCADE"),
                key_fingerprint=CharField(max_length=16, null=True),
            ),
            _create_tables(DashboardSession),
        ),
    ),
    Migration(
        12,
        "the country of events and sessions (an ISO 3166 code, looked up at ingest; the "
        "address is not kept): a column of journey_event and of journey_session",
        _in_turn(
            _add_columns(Event._meta.table_name, country=CharField(max_length=2, null=True)),
            _add_columns(
                SessionSummary._meta.table_name, country=CharField(max_length=2, null=True)
            ),
        ),
    ),
    Migration(
        13,
        "one person, one identity: the identities identify events link (journey_identity, "
        "filled from the identify events stored) and an index of identify and stage events; "
        "usage metered per journey too (journey_usage_journey, from this version on)",
        _in_turn(
            _create_tables(IdentityLink, JourneyUsage),
            _add_index(
                Event._meta.table_name,
                ("journey_id", "occurred_at"),
                name=index_name(PERSON_EVENT_INDEX),
                where=index_where(PERSON_EVENT_INDEX),
            ),
            _link_identifies,
        ),
    ),
    Migration(
        14,
        "labels a site gives its journeys' step and field keys (journey_labels), shown on the "
        "dashboard instead of the keys",
        _create_tables(JourneyLabels),
    ),
    Migration(
        15,
        "a journey's bounded vocabulary (journey_vocabulary): the step keys, fields, event "
        "names, error types and drop-off reasons its reports show on their own; the report "
        "summaries are built again, folding the values beyond the JOURNEY_MAX_* limits",
        _in_turn(_create_tables(VocabularyValue), _forget_summaries),
    ),
    Migration(
        21,
        "answers for real forms: steps a journey marks optional (journey_steps.optional) and "
        "each session's path through the steps and error outcomes (journey_session_form); "
        "the report summaries are built again",
        _in_turn(
            _add_columns(JourneySteps._meta.table_name, optional=JSONField(null=True)),
            _create_tables(SessionForm),
            _forget_summaries,
        ),
    ),
    Migration(
        22,
        "reports from rollups: sums of the sessions that are over per local day and segment "
        "value (journey_rollup), which sessions they hold (journey_session.rolled) and the "
        "time zone of their days (journey_refresh.zone); the report summaries are built again",
        _in_turn(
            _create_tables(Rollup),
            _add_columns(SessionSummary._meta.table_name, rolled=SmallIntegerField(default=0)),
            _add_columns(RefreshState._meta.table_name, zone=CharField(max_length=64, null=True)),
            _add_index(SessionSummary._meta.table_name, ("journey_id", "last_at")),
            _add_index(SessionSummary._meta.table_name, ("rolled", "journey_id")),
            _forget_summaries,
        ),
    ),
    Migration(
        23,
        "labels the pages give step and field keys (journey_page_label): a field's label or a "
        "step's heading, as the embed script sends them, kept by the refresh for the keys of "
        "the journey's vocabulary",
        _create_tables(PageLabel),
    ),
    Migration(
        24,
        "the other events counted per local day as well as per hour (journey_event_hourly.grain)"
        ", so that a report of whole days reads a row a day; the report summaries are built "
        "again",
        _in_turn(
            _add_columns(HourlyCount._meta.table_name, grain=CharField(max_length=1, default="h")),
            _add_index(
                HourlyCount._meta.table_name,
                ("journey_id", "grain", "kind", "hour", "key1", "key2", "key3"),
                unique=True,
            ),
            _drop_indexes(
                HourlyCount._meta.table_name,
                make_index_name(
                    HourlyCount._meta.table_name,
                    ("journey_id", "hour", "kind", "key1", "key2", "key3"),
                ),
            ),
            _forget_summaries,
        ),
    ),
    Migration(
        25,
        "index only the sessions not rolled up yet (journey_session_not_rolled), which a "
        "report reads row by row, instead of every session by rolled; on SQLite, the rollups "
        "kept in their primary key's B-tree (WITHOUT ROWID)",
        _in_turn(
            _add_index(
                SessionSummary._meta.table_name,
                ("journey_id",),
                name=index_name(NOT_ROLLED_INDEX),
                where=index_where(NOT_ROLLED_INDEX),
            ),
            _drop_indexes(
                SessionSummary._meta.table_name,
                make_index_name(SessionSummary._meta.table_name, ("rolled", "journey_id")),
            ),
            _rollups_rowid_free,
        ),
    ),
)

#: The schema version this release creates and expects.
LATEST = MIGRATIONS[-1].version if MIGRATIONS else BASELINE

#: Every table flask-journey owns.
TABLES = (*MODELS, SchemaVersion)

#: Key of the PostgreSQL advisory lock that serialises schema changes across hosts.
_LOCK_KEY = 0x6A6F75726E6579  # "journey"


class SchemaError(RuntimeError):
    """The database's schema is not one this release can use as it is."""


class SchemaOutdated(SchemaError):
    """The database was created by an earlier release and needs ``flask journey migrate``."""


class SchemaMissing(SchemaError):
    """The database (not SQLite) has no flask-journey tables yet."""

    def __init__(self) -> None:
        super().__init__(
            "the database has no flask-journey tables: run `flask journey migrate` to create them"
        )


#: The databases this process has found (or made) current, so that it checks each once.
_READY: weakref.WeakSet[Database] = weakref.WeakSet()
_READY_LOCK = threading.Lock()
#: The databases this process has found with tables (or given them): :func:`create_once`.
_CREATED: weakref.WeakSet[Database] = weakref.WeakSet()


def ensure_current(db: Database) -> None:
    """Make sure ``db`` has this release's schema before this process first stores into it.

    A SQLite database is created or migrated in place, under the schema lock: workers that
    start together wait for the first, then find it current. Any other database is never
    changed here: an empty one raises :class:`SchemaMissing`, an outdated one
    :class:`SchemaOutdated` (``flask journey migrate`` does both jobs there).
    """
    if db in _READY:
        return
    with _READY_LOCK:
        if db in _READY:
            return
        if isinstance(db, SqliteDatabase):
            upgrade(db)
        else:
            current = version(db)
            if current is None:
                raise SchemaMissing()
            _check_current(current)
        _READY.add(db)


def create_once(db: Database) -> None:
    """:func:`create_if_empty`, the first time this process uses ``db``."""
    if db in _CREATED:
        return
    create_if_empty(db)
    _CREATED.add(db)


def create_if_empty(db: Database) -> None:
    """Create the schema on an empty SQLite database; refuse an empty other one.

    A database that has tables is left as it is, whatever its version.
    """
    if version(db) is not None:
        return
    if not isinstance(db, SqliteDatabase):
        raise SchemaMissing()
    initialise(db)


def version(db: Database) -> int | None:
    """The schema version of ``db``; None when it has no flask-journey tables."""
    tables = set(db.get_tables())
    if SchemaVersion._meta.table_name in tables:
        return SchemaVersion.select(fn.MAX(SchemaVersion.version)).scalar(db)
    return BASELINE if Event._meta.table_name in tables else None


def initialise(db: Database) -> bool:
    """Create the current schema if ``db`` is empty (True), else check it is current (False).

    Raises :class:`SchemaOutdated` for a database an earlier release created, before changing
    anything in it.
    """
    with _schema_lock(db), using(db):
        current = version(db)
        if current is None:
            db.create_tables(TABLES)
            SchemaVersion.create(version=LATEST)
            return True
        _check_current(current)
        return False


def upgrade(db: Database) -> tuple[int | None, list[Migration]]:
    """Apply the migrations ``db`` lacks; return the version it had and what was applied.

    An empty database gets the current schema. Everything happens in one transaction: if a step
    fails, or the result still differs from the current models, nothing is changed.
    """
    with _schema_lock(db), using(db):
        current = version(db)
        if current is None:
            db.create_tables(TABLES)
            SchemaVersion.create(version=LATEST)
            return None, []
        _check_known(current)
        if not db.table_exists(SchemaVersion._meta.table_name):
            db.create_tables([SchemaVersion])
            SchemaVersion.create(version=current)
        pending = [m for m in MIGRATIONS if m.version > current]
        migrator = SchemaMigrator.from_database(db)
        for migration in pending:
            migrate(*migration.steps(migrator))
            SchemaVersion.create(version=migration.version)
        problems = differences(db)
        if problems:
            raise SchemaError(
                "after migrating, the database still differs from this release's models "
                f"(a migration is missing): {'; '.join(problems)}"
            )
        return current, pending


def differences(db: Database) -> list[str]:
    """What the models have that ``db`` lacks: tables, columns and indexes, by name."""
    problems = []
    tables = set(db.get_tables())
    for model in TABLES:
        table = model._meta.table_name
        if table not in tables:
            problems.append(f"table {table} is missing")
            continue
        columns = {column.name for column in db.get_columns(table)}
        problems.extend(
            f"column {table}.{field.column_name} is missing"
            for field in model._meta.sorted_fields
            if field.column_name not in columns
        )
        indexes = {index.name for index in db.get_indexes(table)}
        problems.extend(
            f"index {index_name(index)} is missing"
            for index in model._meta.fields_to_index()
            if index_name(index) not in indexes
        )
    return problems


def _check_current(current: int) -> None:
    _check_known(current)
    if current < LATEST:
        raise SchemaOutdated(
            f"the database has schema version {current} and this release needs {LATEST}: "
            "back it up, then run `flask journey migrate`"
        )


def _check_known(current: int) -> None:
    if current > LATEST:
        raise SchemaError(
            f"the database has schema version {current}, newer than this release's {LATEST}: "
            "upgrade flask-journey"
        )


@contextlib.contextmanager
def _schema_lock(db: Database) -> Iterator[None]:
    """A transaction that no other process changing the schema runs alongside."""
    if isinstance(db, SqliteDatabase):
        with db.atomic(lock_type="IMMEDIATE"):
            yield
        return
    with db.atomic():
        if isinstance(db, PostgresqlDatabase) and not isinstance(db, CockroachDatabase):
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        yield

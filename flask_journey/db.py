"""Each app's database: built from ``JOURNEY_DATABASE_URL``, connected per request, and
which one the models use in the running context.

The models reach their database through :func:`current_database`, never through a handle that
requests re-point: inside an app context it is that app's database (so two apps served by the
threads of one process never write into each other's), inside ``with using(db):`` it is ``db``,
and outside both it is the database of the app activated last in this context
(:meth:`flask_journey.state.JourneyState.activate`: a script or a shell working with one app).

SQLite runs in WAL mode with a busy timeout, so several worker processes can share one file.
PostgreSQL (and CockroachDB) URLs are served from a connection pool in each process: Peewee
connects on a request's first query and the extension hands the connection back at teardown.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import urlparse

from flask import current_app, has_app_context
from peewee import Database, OperationalError, SqliteDatabase
from playhouse.cockroachdb import PooledCockroachDatabase
from playhouse.db_url import connect, parse
from playhouse.pool import MaxConnectionsExceeded, PooledPostgresqlDatabase

from ._peewee import CheckedSqlitePool, exception_wrapper
from .config import Settings

#: How long a SQLite writer waits for another process's write to finish, milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 10_000

#: Pool options used unless the URL's query string sets them (``...?max_connections=40``).
POOL_DEFAULTS: dict[str, Any] = {
    # Connections one process keeps open at most; a thread waits for one beyond that.
    "max_connections": 20,
    # Seconds after which an idle connection is closed rather than reused.
    "stale_timeout": 300,
    # Seconds a request waits for a free connection before it is answered 503.
    "timeout": 10,
}

#: What a NUL character is stored as where the database cannot hold one (PostgreSQL).
NUL_REPLACEMENT = "\ufffd"

#: How many times a transaction runs at most when the database keeps aborting it to resolve a
#: conflict with another one (:func:`retrying_transaction`).
TRANSACTION_ATTEMPTS = 3

#: Errors that end a transaction so that running it again may succeed: PostgreSQL's
#: serialization failure and deadlock, SQLite's busy and locked (primary result codes).
_PG_CONFLICTS = ("40001", "40P01")
_SQLITE_CONFLICTS = (5, 6)

T = TypeVar("T")
R = TypeVar("R")


class _PoolErrors:
    """A pool whose exhaustion is a database error (answered 503), not a ValueError (500)."""

    def connect(self, reuse_if_open: bool = False):
        try:
            return super().connect(reuse_if_open)  # type: ignore[misc]
        except MaxConnectionsExceeded as exc:
            raise OperationalError(str(exc)) from exc


class PostgresqlPool(_PoolErrors, PooledPostgresqlDatabase):
    """PostgreSQL through a per-process connection pool."""


class CockroachPool(_PoolErrors, PooledCockroachDatabase):
    """CockroachDB (PostgreSQL's wire protocol) through a per-process connection pool."""


class _SqliteConnection(sqlite3.Connection):
    """A SQLite connection that knows which process opened it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pid = os.getpid()


class SqlitePool(CheckedSqlitePool):
    """SQLite connections kept open between requests, shared by the threads of a process.

    Closing a database file's last connection checkpoints its WAL, an fsync or more per
    request; pooled connections stay open. A process never uses a connection its parent opened
    before forking it (a gunicorn worker of an app created with ``--preload``).
    """

    def reusable(self, conn: _SqliteConnection) -> bool:
        return conn.pid == os.getpid()


_POOLS: dict[str, type[Database]] = {
    **dict.fromkeys(("postgres", "postgresql", "postgres+pool", "postgresql+pool"), PostgresqlPool),
    **dict.fromkeys(("cockroachdb", "crdb", "cockroachdb+pool", "crdb+pool"), CockroachPool),
}


def create_database(settings: Settings, url: str | None = None) -> Database:
    """Open (lazily) the database named by the settings, or the one at ``url`` (a replica)."""
    url = url or settings.database_url
    scheme = url.partition("://")[0]
    if scheme in ("sqlite", "sqlite+pool"):
        path = urlparse(url).path[1:]
        pragmas = {
            "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
            "journal_mode": "wal",
            "synchronous": settings.sqlite_synchronous,
            "foreign_keys": 1,
        }
        if not path or path == ":memory:":
            return connect(url, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, pragmas=pragmas)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # busy_timeout is set first thing on a new connection, before anything can be locked.
        return SqlitePool(
            **parse(url),
            pragmas=pragmas,
            max_connections=None,
            check_same_thread=False,
            factory=_SqliteConnection,
        )
    pool = _POOLS.get(scheme)
    if pool is None:
        return connect(url)
    params = {**POOL_DEFAULTS, **parse(url)}
    params.setdefault("cursor_factory", nul_safe_cursor())
    return pool(**params)


def without_nul(value: Any) -> Any:
    """``value`` with NUL characters replaced in every string, dict key and list item in it."""
    if isinstance(value, str):
        return value.replace("\x00", NUL_REPLACEMENT) if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nul(v) for v in value]
    return value


def storable_json(value: Any) -> str:
    """``value`` as compact JSON text that every backend stores (jsonb refuses ``\\u0000``)."""
    text = json.dumps(value, separators=(",", ":"))
    if "\\u0000" in text:
        text = json.dumps(without_nul(value), separators=(",", ":"))
    return text


@functools.cache
def nul_safe_cursor() -> type:
    """The psycopg2 cursor class every pooled connection uses.

    PostgreSQL refuses NUL characters in text and JSON; psycopg2 raises ValueError on one. This
    cursor stores them as :data:`NUL_REPLACEMENT` instead, whatever query brings them, so a
    stray NUL (a header copied into an event, a lookup key from a URL) never fails a request.
    """
    try:
        from psycopg2.extensions import cursor
        from psycopg2.extras import Json
    except ImportError:
        raise RuntimeError(
            "PostgreSQL needs psycopg2: pip install 'flask-journey[postgres]'"
        ) from None

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("\x00", NUL_REPLACEMENT) if "\x00" in value else value
        if isinstance(value, Json):
            value.adapted = without_nul(value.adapted)
        return value

    def clean_params(params: Any) -> Any:
        if params is None:
            return None
        if isinstance(params, dict):
            return {key: clean(value) for key, value in params.items()}
        return [clean(value) for value in params]

    class NulSafeCursor(cursor):
        def execute(self, query, vars=None):
            return super().execute(query, clean_params(vars))

        def executemany(self, query, vars_list):
            return super().executemany(query, [clean_params(v) for v in vars_list])

        def mogrify(self, query, vars=None):
            return super().mogrify(query, clean_params(vars))

    return NulSafeCursor


def retrying_transaction(fn: Callable[..., T]) -> Callable[..., T]:
    """Run ``fn(db, ...)`` as one transaction of ``db``, again if the database aborted it.

    PostgreSQL aborts one of two transactions that deadlock, or that conflict under stricter
    isolation; SQLite gives up on a lock held past its busy timeout. Such a transaction is run
    again, :data:`TRANSACTION_ATTEMPTS` times in all; inside an outer transaction it runs once.
    Errors of the driver, raised by raw cursors too, come out as Peewee's exceptions.
    """

    @functools.wraps(fn)
    def run(db: Database, *args: Any, **kwargs: Any) -> T:
        attempts = TRANSACTION_ATTEMPTS if db.transaction_depth() == 0 else 1
        attempt = 1
        while True:
            try:
                with db.atomic(), exception_wrapper:
                    return fn(db, *args, **kwargs)
            except OperationalError as exc:
                if attempt >= attempts or not _is_conflict(exc):
                    raise
                attempt += 1

    return run


def _is_conflict(exc: OperationalError) -> bool:
    cause: Any = exc
    while getattr(cause, "orig", None) is not None:  # down to the driver's exception
        cause = cause.orig
    if getattr(cause, "pgcode", None) in _PG_CONFLICTS:
        return True
    code = getattr(cause, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _SQLITE_CONFLICTS


def is_sqlite(db: Database) -> bool:
    return isinstance(db, SqliteDatabase)


#: The database of the innermost ``with using(db):`` block of this context, if any.
_scoped: ContextVar[Database | None] = ContextVar("journey_scoped_database", default=None)
#: The database of the app last activated in this context, for code outside any app context;
#: weakly, so that it does not outlive its app.
_activated: ContextVar[weakref.ref[Database] | None] = ContextVar(
    "journey_activated_database", default=None
)


def current_database() -> Database:
    """The database the models use here and now (see the module's docstring)."""
    database = database_or_none()
    if database is None:
        raise RuntimeError(
            "no flask-journey database here: use an app context of an app using flask-journey"
        )
    return database


def database_or_none() -> Database | None:
    """:func:`current_database`, or None where there is none."""
    database = _scoped.get()
    if database is not None:
        return database
    if has_app_context():
        state = current_app.extensions.get("journey")
        if state is not None:
            return state.database
    activated = _activated.get()
    return activated() if activated is not None else None


@contextlib.contextmanager
def using(database: Database) -> Iterator[Database]:
    """Point the models at ``database`` for the block, in this context only."""
    token = _scoped.set(database)
    try:
        yield database
    finally:
        _scoped.reset(token)


def activate(database: Database) -> None:
    """Make ``database`` the models' one outside any app context, in this context, for as long
    as it lives."""
    _activated.set(weakref.ref(database))


def per_database(fn: Callable[..., R]) -> Callable[..., R]:
    """Cache ``fn(db, *args)`` for each database, for as long as the database lives.

    Unlike ``functools.lru_cache``, the cache holds no database alive: an app's database and
    everything compiled for it go when the app does.
    """
    caches: weakref.WeakKeyDictionary[Database, dict[tuple, R]] = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    @functools.wraps(fn)
    def cached(db: Database, *args: Any) -> R:
        cache = caches.get(db)
        if cache is None:
            with lock:
                cache = caches.setdefault(db, {})
        try:
            return cache[args]
        except KeyError:
            value = cache[args] = fn(db, *args)
            return value

    return cached

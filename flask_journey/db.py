"""The database behind the models: built from ``JOURNEY_DATABASE_URL``, connected per request."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from peewee import Database, SqliteDatabase
from playhouse.db_url import connect

from .config import Settings
from .models import MODELS, database

#: PostgreSQL URLs are served from a connection pool; plain schemes are mapped to it.
_POOLED = {"postgres": "postgres+pool", "postgresql": "postgresql+pool"}


def create_database(settings: Settings) -> Database:
    """Open (lazily) the database named by the settings."""
    url = settings.database_url
    scheme, _, rest = url.partition("://")
    if scheme in ("sqlite", "sqlite+pool"):
        path = urlparse(url).path[1:]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return connect(
            url,
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": 10_000,
                "synchronous": settings.sqlite_synchronous,
                "foreign_keys": 1,
            },
        )
    if scheme in _POOLED:
        url = f"{_POOLED[scheme]}://{rest}"
    return connect(url)


def bind(db: Database) -> None:
    """Point the models at ``db`` (one database per process at a time)."""
    if database.obj is not db:
        database.initialize(db)


def create_tables(db: Database) -> None:
    """Create any missing table or index; safe on an existing database."""
    bind(db)
    with db.connection_context():
        db.create_tables(MODELS, safe=True)


def is_sqlite(db: Database) -> bool:
    return isinstance(db, SqliteDatabase)

"""Every use of Peewee's private members, in one place.

Peewee offers no public way to do what these do; ``tests/test_peewee_privates.py`` names each
private member used here, so that a Peewee release renaming one fails that test first. The
rest of the package uses Peewee's public API (and ``Model._meta``, its documented metadata).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import peewee
from peewee import Database, DatabaseProxy, Index
from playhouse.pool import PooledSqliteDatabase

#: Turns a driver's exception raised inside it into Peewee's (``OperationalError``...), as
#: Peewee does around its own queries; raw cursors need it too.
exception_wrapper = peewee.__exception_wrapper__


def index_name(index: Index) -> str:
    """The name of an index declared with ``Model.index(..., name=...)``."""
    return index._name


def index_where(index: Index) -> Any:
    """The ``WHERE`` of a partial index (None for a full one)."""
    return index._where


class LookedUpProxy(DatabaseProxy):
    """A database proxy whose database is looked up on each use (:attr:`obj`, given by a
    subclass) instead of set once by ``initialize``: Proxy's ``__init__`` would assign it."""

    def __init__(self) -> None:
        self._callbacks: list = []


class PerDatabaseJSONField(peewee.JSONField):
    """Peewee's JSONField, speaking the dialect of the database in use (:meth:`in_use`).

    Peewee configures a JSONField for one database when its model's database is set; here the
    dialect is looked up per use, and remembered per database.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._dialects: weakref.WeakKeyDictionary[Database, tuple] = weakref.WeakKeyDictionary()
        super().__init__(*args, **kwargs)

    def in_use(self) -> Database | None:
        """The database the field's model uses here and now; given by a subclass."""
        raise NotImplementedError

    def _db_hook(self, database: Database | None) -> None:
        """Nothing to set up once: see :meth:`_dialect`."""

    def _dialect(self) -> tuple:
        db = self.in_use()
        if db is None:
            return (None, None, None)
        dialect = self._dialects.get(db)
        if dialect is None:
            helper = db.json_methods(db)
            dialect = (
                helper,
                helper.make_value_wrapper(self._dumps),
                helper.make_value_reader(self._loads),
            )
            self._dialects[db] = dialect
        return dialect

    if TYPE_CHECKING:  # a model's field reads and takes plain values (peewee's FieldAccessor)

        def __get__(self, instance: Any, owner: Any) -> Any: ...

        def __set__(self, instance: Any, value: Any) -> None: ...

    # Peewee's JSONField assigns these in __init__ and _db_hook; they are looked up instead.
    _helper = property(lambda self: self._dialect()[0], lambda self, value: None)
    _wrap = property(lambda self: self._dialect()[1], lambda self, value: None)
    _read = property(lambda self: self._dialect()[2], lambda self, value: None)


class CheckedSqlitePool(PooledSqliteDatabase):
    """A SQLite pool that asks :meth:`reusable` before handing out a pooled connection."""

    def reusable(self, conn: Any) -> bool:
        """Whether a pooled connection may be used again; overridden by subclasses."""
        return True

    def _is_closed(self, conn: Any) -> bool:
        return not self.reusable(conn) or super()._is_closed(conn)


class RowidFreeOnSqlite(peewee.SchemaManager):
    """Creates its model's table ``WITHOUT ROWID`` on SQLite, where the primary key then is the
    table (one B-tree to search and write instead of two); other databases take the table as
    declared. Peewee's ``without_rowid`` option would add the clause on every database."""

    def _create_table(self, safe: bool = True, **options: Any) -> Any:
        ctx = super()._create_table(safe, **options)
        database = self.database
        if isinstance(getattr(database, "obj", database), peewee.SqliteDatabase):
            ctx.literal(" WITHOUT ROWID")
        return ctx

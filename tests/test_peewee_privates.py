"""The Peewee private members flask_journey/_peewee.py uses, each by name.

A Peewee release that renames or drops one fails here first, with the member's name, before
the failure shows up as a wrong answer somewhere else.
"""

from __future__ import annotations

import inspect

import peewee
from playhouse.pool import PooledDatabase, PooledSqliteDatabase

from flask_journey import _peewee


def test_peewee_wraps_driver_errors_with_its_private_exception_wrapper():
    assert _peewee.exception_wrapper is peewee.__exception_wrapper__
    with _peewee.exception_wrapper:
        pass


def test_an_index_keeps_its_name_and_where_in_private_attributes():
    class Thing(peewee.Model):
        key = peewee.CharField(null=True)

        class Meta:
            database = peewee.SqliteDatabase(":memory:")

    where = Thing.key.is_null(False)
    index = Thing.index(Thing.key, name="thing_key_given", where=where)
    assert index._name == "thing_key_given"
    assert index._where is where
    assert _peewee.index_name(index) == "thing_key_given"
    assert _peewee.index_where(index) is where


def test_a_proxy_keeps_its_callbacks_in_a_private_list_its_init_sets():
    proxy = peewee.DatabaseProxy()
    assert proxy._callbacks == []
    assert "_callbacks" in inspect.getsource(peewee.Proxy.__init__)
    assert _peewee.LookedUpProxy()._callbacks == []


def test_jsonfield_sets_up_its_dialect_in_private_members():
    field = peewee.JSONField()
    for name in ("_dumps", "_loads", "_helper", "_wrap", "_read"):
        assert hasattr(field, name), name
    assert callable(peewee.JSONField._db_hook)
    hook = inspect.getsource(peewee.JSONField._db_hook)
    for name in ("json_methods", "_helper", "_wrap", "_read", "make_value_wrapper"):
        assert name in hook, name


def test_a_sqlite_pool_asks_its_private_is_closed_before_reusing_a_connection():
    assert callable(PooledSqliteDatabase._is_closed)
    assert "self._is_closed(" in inspect.getsource(PooledDatabase)
    assert _peewee.CheckedSqlitePool._is_closed is not PooledSqliteDatabase._is_closed


def test_a_schema_manager_writes_create_table_in_its_private_create_table():
    class Thing(peewee.Model):
        key = peewee.CharField(primary_key=True)

        class Meta:
            database = peewee.SqliteDatabase(":memory:")
            schema_manager_class = _peewee.RowidFreeOnSqlite

    assert "def _create_table(self" in inspect.getsource(peewee.SchemaManager)
    Thing.create_table()
    sql = "SELECT sql FROM sqlite_master WHERE name = 'thing'"
    assert Thing._meta.database.execute_sql(sql).fetchone()[0].endswith(" WITHOUT ROWID")
    with peewee.PostgresqlDatabase("never-connected").bind_ctx([Thing]):
        created, _ = Thing._schema._create_table().query()
    assert created.startswith('CREATE TABLE IF NOT EXISTS "thing"')
    assert "ROWID" not in created

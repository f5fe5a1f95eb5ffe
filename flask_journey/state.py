"""Per-app state, and which app's database the models use in the running context.

:class:`JourneyState` is built by ``Journey.init_app`` and kept in ``app.extensions["journey"]``;
the modules it serves (ingest, admin, embed, cli, the public API) import it from here without
importing the extension; the wire-format adapters need none of it.

The models reach their database through :func:`current_database`, never through a handle that
requests re-point: inside an app context it is that app's database (so two apps served by the
threads of one process never write into each other's), inside ``with using(db):`` it is ``db``,
and outside both it is the database of the app :meth:`JourneyState.activate` named last in this
context (a script or a shell working with one app).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app, has_app_context
from peewee import Database

from .outages import OutageLog

if TYPE_CHECKING:
    from .config import Settings
    from .formats._base import WireFormat
    from .guard import Guard
    from .tenants import TenantCache

#: The database of the innermost ``with using(db):`` block of this context, if any.
_scoped: ContextVar[Database | None] = ContextVar("journey_scoped_database", default=None)
#: The database of the app last activated in this context, for code outside any app context.
_activated: ContextVar[Database | None] = ContextVar("journey_activated_database", default=None)


@dataclass
class JourneyState:
    """Per-app state, kept in ``app.extensions["journey"]``."""

    settings: Settings
    database: Database
    guard: Guard
    tenants: TenantCache
    formats: dict[str, WireFormat] = field(default_factory=dict)
    database_outage: OutageLog = field(default_factory=lambda: OutageLog("database"))

    def activate(self) -> None:
        """Make this app's database the models' one outside any app context, in this context.

        Requests and CLI commands need no call: an app context always means its app's database.
        """
        _activated.set(self.database)


def app_state() -> JourneyState:
    """The current app's flask-journey state (inside an app context of an app using it)."""
    try:
        return current_app.extensions["journey"]
    except KeyError:
        raise RuntimeError("flask-journey is not registered on the current app") from None


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
    return _activated.get()


@contextlib.contextmanager
def using(database: Database) -> Iterator[Database]:
    """Point the models at ``database`` for the block, in this context only."""
    token = _scoped.set(database)
    try:
        yield database
    finally:
        _scoped.reset(token)

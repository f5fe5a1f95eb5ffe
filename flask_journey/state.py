"""Per-app state: :class:`JourneyState`, built by ``Journey.init_app`` and kept in
``app.extensions["journey"]``.

The modules it serves (ingest, admin, embed, cli, the public API) import it from here without
importing the extension; the wire-format adapters need none of it. Which app's database the
models use here and now is :func:`flask_journey.db.current_database`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app
from peewee import Database

from .db import activate
from .geo import Geo
from .outages import OutageLog

if TYPE_CHECKING:
    from .config import Settings
    from .dashboard.access import Access
    from .formats._base import WireFormat
    from .guard import Guard
    from .reports.policy import RefreshPolicy
    from .tenants import TenantCache


@dataclass
class JourneyState:
    """Per-app state, kept in ``app.extensions["journey"]``."""

    settings: Settings
    database: Database
    guard: Guard
    tenants: TenantCache
    #: When a report refreshes the summaries first (:mod:`flask_journey.reports.policy`); the
    #: host may replace it, e.g. by ``NeverRefresh()`` when cron runs ``flask journey refresh``.
    refresh_policy: RefreshPolicy
    #: The installation's application secret (:mod:`flask_journey.applications`), read once.
    application_secret: Callable[[], bytes]
    formats: dict[str, WireFormat] = field(default_factory=dict)
    database_outage: OutageLog = field(default_factory=lambda: OutageLog("database"))
    #: The country lookup (``JOURNEY_GEOIP``, ``JOURNEY_GEOIP_DATABASE``).
    geo: Geo = field(default_factory=Geo)
    #: The hot standby of ``JOURNEY_REPORT_DATABASE_URL``, or None.
    replica: Database | None = None

    @property
    def report_database(self) -> Database:
        """Where reports, the dashboard and its exports read: the replica, else the database."""
        return self.replica or self.database

    #: Who may see the dashboard (``None``: it is switched off, ``JOURNEY_DASHBOARD_URL``).
    dashboard: Access | None = None

    def activate(self) -> None:
        """Make this app's database the models' one outside any app context, in this context.

        Requests and CLI commands need no call: an app context always means its app's database.
        """
        activate(self.database)


def app_state() -> JourneyState:
    """The current app's flask-journey state (inside an app context of an app using it)."""
    try:
        return current_app.extensions["journey"]
    except KeyError:
        raise RuntimeError("flask-journey is not registered on the current app") from None

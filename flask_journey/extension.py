"""The :class:`Journey` extension: wiring flask-journey into a host app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from peewee import Database

from . import config, db, reports, tenants
from .admin import create_admin_blueprint
from .cli import journey_cli
from .dashboard import create_dashboard_blueprint
from .embed import create_embed_blueprint, journey_embed
from .formats import FORMATS, WireFormat
from . import models
from .guard import Guard
from .tenants import TenantCache


@dataclass
class JourneyState:
    """Per-app state, kept in ``app.extensions["journey"]``."""

    settings: config.Settings
    database: Database
    guard: Guard
    tenants: TenantCache
    formats: dict[str, WireFormat] = field(default_factory=dict)

    def activate(self) -> None:
        """Point the models at this app's database."""
        db.bind(self.database)

    def report(self, journey: models.Journey, **options: Any) -> dict[str, Any]:
        """:func:`flask_journey.reports.report` for one of this app's journeys, with its
        settings (time zone, idle minutes, staleness)."""
        settings = self.settings
        return reports.report(
            self.database,
            journey,
            timezone=settings.report_timezone,
            idle_minutes=settings.session_idle_minutes,
            max_staleness=settings.report_max_staleness,
            **options,
        )


class Journey:
    """Journey analytics for a Flask app.

    ``Journey(app)`` or, in an app factory, ``journey = Journey()`` then
    ``journey.init_app(app)``. Settings are the ``JOURNEY_*`` keys of ``app.config``, read once
    in :meth:`init_app` (``docs/configuration.md``).
    """

    def __init__(self, app: Flask | None = None) -> None:
        self._dashboard_access: Callable[[models.Organization], bool] | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the ingest routes, management API, embed script, CLI and template helper."""
        if "journey" in app.extensions:
            raise RuntimeError("flask-journey is already registered on this app")
        settings = config.load(app)
        database = db.create_database(settings)
        state = JourneyState(
            settings, database, Guard(app, settings), TenantCache(settings.tenant_cache_seconds)
        )
        app.extensions["journey"] = state
        state.activate()

        names = settings.formats if settings.formats is not None else tuple(FORMATS)
        unknown = sorted(set(names) - set(FORMATS))
        if unknown:
            raise ValueError(f"JOURNEY_FORMATS: unknown formats {unknown}; known: {list(FORMATS)}")
        for name in names:
            wire_format = FORMATS[name](state)
            state.formats[name] = wire_format
            app.register_blueprint(wire_format.blueprint())
        app.register_blueprint(create_admin_blueprint(state))
        app.register_blueprint(create_embed_blueprint(state))
        if settings.dashboard_url is not None:
            dashboard = create_dashboard_blueprint(state, lambda: self._dashboard_access)
            app.register_blueprint(dashboard, url_prefix=settings.dashboard_url)
        app.cli.add_command(journey_cli)
        if settings.template_helper:
            app.add_template_global(journey_embed)

        # Peewee connects on first query; requests that never query never connect.
        app.before_request(state.activate)

        @app.teardown_request
        def _journey_close(exc: BaseException | None) -> None:
            if not database.is_closed():
                database.close()

    def dashboard_access(
        self, function: Callable[[models.Organization], bool]
    ) -> Callable[[models.Organization], bool]:
        """Register ``function(org) -> bool``: whether the current request may see that
        organization's dashboard (``docs/dashboard.md``). Without it only a sign-in with one of
        the organization's secret keys, or a share link, shows anything."""
        self._dashboard_access = function
        return function

    def report(
        self,
        org: str,
        journey: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
        filters: Mapping[str, str] | None = None,
        breakdown: str | None = None,
        compare: bool = True,
    ) -> dict[str, Any]:
        """The report of a journey of the current app, as plain data (``docs/reports.md``).

        ``org`` and ``journey`` are slugs; ``start`` and ``end`` are dates (both included, in
        ``JOURNEY_REPORT_TIMEZONE``; default: the 30 days that end today); ``filters`` maps
        segments (``device``, ``browser``, ``os``, ``language``, ``source``) to the value a
        session must have; ``breakdown`` names a segment to break the numbers down by;
        ``compare`` adds the previous period of the same length under ``"previous"``.
        Raises :class:`flask_journey.reports.ReportError` for a bad argument and
        :class:`flask_journey.outcomes.TenantNotFound` for an unknown journey.
        """
        state = current_app.extensions["journey"]
        state.activate()
        tenant = tenants.by_slugs(org, journey)
        return state.report(
            tenant.journey, start=start, end=end, filters=filters, breakdown=breakdown,
            compare=compare,
        )

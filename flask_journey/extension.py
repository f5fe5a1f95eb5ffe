"""The :class:`Journey` extension: wiring flask-journey into a host app."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask
from peewee import Database

from . import config, db
from .admin import create_admin_blueprint
from .cli import journey_cli
from .embed import create_embed_blueprint, journey_embed
from .formats import FORMATS, WireFormat
from .guard import Guard
from .openapi import create_openapi_blueprint
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


class Journey:
    """Journey analytics for a Flask app.

    ``Journey(app)`` or, in an app factory, ``journey = Journey()`` then
    ``journey.init_app(app)``. Settings are the ``JOURNEY_*`` keys of ``app.config``, read once
    in :meth:`init_app` (``docs/configuration.md``).
    """

    def __init__(self, app: Flask | None = None) -> None:
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
        app.register_blueprint(create_openapi_blueprint(state))
        app.cli.add_command(journey_cli)
        if settings.template_helper:
            app.add_template_global(journey_embed)

        # Peewee connects on first query; requests that never query never connect.
        app.before_request(state.activate)

        @app.teardown_request
        def _journey_close(exc: BaseException | None) -> None:
            if not database.is_closed():
                database.close()

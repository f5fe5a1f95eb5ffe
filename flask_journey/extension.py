"""The :class:`Journey` extension: wiring flask-journey into a host app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from flask import Flask

from . import api, config, db, geo, host_limiter, ingest, reports
from .admin import create_admin_blueprint
from .cli import journey_cli
from .dashboard import blueprint as dashboard_blueprint
from .dashboard.access import Access
from .embed import create_embed_blueprint, journey_embed
from .formats import FORMATS
from .guard import Guard
from .installation import (
    application_secret_of,
    client_salt_of,
    dashboard_secret_of,
    identity_secret_of,
)
from .models import Organization
from .openapi import create_openapi_blueprint
from .signing import SigningKeys
from .state import JourneyState
from .tenants import TenantCache


class Journey:
    """Journey analytics for a Flask app.

    ``Journey(app)`` or, in an app factory, ``journey = Journey()`` then
    ``journey.init_app(app)``. Settings are the ``JOURNEY_*`` keys of ``app.config``, read once
    in :meth:`init_app` (``docs/configuration.md``).
    """

    def __init__(self, app: Flask | None = None) -> None:
        self._dashboard_access: Callable[[Organization], bool] | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the ingest routes, management API, embed script, CLI and template helper."""
        if "journey" in app.extensions:
            raise RuntimeError("flask-journey is already registered on this app")
        settings = config.load(app)
        database = db.create_database(settings)
        if settings.identity.mode == "hash" and not settings.identity.secret:
            identity = replace(settings.identity, secret_source=identity_secret_of(database))
            settings = replace(settings, identity=identity)
        try:
            countries = geo.geo(settings.geoip, settings.geoip_database)
        except ValueError as exc:
            raise ValueError(f"JOURNEY_GEOIP_DATABASE {exc}") from None
        state = JourneyState(
            settings,
            database,
            Guard(app, settings, database, client_salt_of(database)),
            TenantCache(settings.tenant_cache_seconds, database),
            reports.default_policy(settings),
            application_secret_of(database),
            geo=countries,
            replica=db.create_database(settings, settings.report_database_url)
            if settings.report_database_url
            else None,
        )
        app.extensions["journey"] = state
        # Code outside any app context (a script, a shell) reaches the app created last here.
        state.activate()

        names = settings.formats if settings.formats is not None else tuple(FORMATS)
        unknown = sorted(set(names) - set(FORMATS))
        if unknown:
            raise ValueError(f"JOURNEY_FORMATS: unknown formats {unknown}; known: {list(FORMATS)}")
        blueprints = []
        for name in names:
            wire_format = ingest.adapter(state, FORMATS[name])
            state.formats[name] = wire_format
            blueprints.append(ingest.blueprint(state, wire_format))
        blueprints.append(create_admin_blueprint(state))
        blueprints.append(create_embed_blueprint(state))
        blueprints.append(create_openapi_blueprint(state))
        for blueprint in blueprints:
            app.register_blueprint(blueprint)
        if settings.dashboard_url is not None:
            keys = SigningKeys(dashboard_secret_of(database))
            state.dashboard = Access(settings, lambda: self._dashboard_access, keys)
            app.register_blueprint(dashboard_blueprint, url_prefix=settings.dashboard_url)
            blueprints.append(dashboard_blueprint)
        # Our limits are our own: a host's flask-limiter must not count these routes again.
        host_limiter.exempt_blueprints(app, blueprints)
        app.cli.add_command(journey_cli)
        if settings.template_helper:
            app.add_template_global(journey_embed)

        # Peewee connects on first query; requests that never query never connect. Inside an
        # app context the models use this app's database (flask_journey.state).
        @app.teardown_request
        def _journey_close(exc: BaseException | None) -> None:
            for opened in {database, state.report_database}:
                if not opened.is_closed():
                    opened.close()

    def dashboard_access(
        self, function: Callable[[Organization], bool]
    ) -> Callable[[Organization], bool]:
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
        """The report of a journey of the current app: :func:`flask_journey.api.report`."""
        return api.report(
            org,
            journey,
            start=start,
            end=end,
            filters=filters,
            breakdown=breakdown,
            compare=compare,
        )

"""A demo site using flask-journey: a small-business grant application.

    flask --app example_app run        or        python -m example_app

Eligibility, business details, review (a single-page section: summary and declaration shown in
turn with ``history.pushState``), then submitted. Every page carries the embed script through
``{{ journey_embed(...) }}``; ``/stats`` shows what was recorded, and
``flask --app example_app journey report demo-org small-business-grant`` the funnel and field
friction. On start the app creates its tables and its organization and journey (with its steps)
if they are missing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask

from flask_journey import Journey, tenants
from flask_journey import db as journey_db

from .views import bp

#: Settings of the demo itself; ``JOURNEY_*`` settings configure the extension as usual.
DEFAULTS: dict[str, Any] = {
    "DEMO_ORG": "demo-org",
    "DEMO_JOURNEY": "small-business-grant",
    # Origins allowed to send events when the journey is first created (flask run's and
    # python -m example_app's); `flask journey set-origins` changes them afterwards.
    "DEMO_ALLOWED_ORIGINS": ("http://127.0.0.1:5000", "http://localhost:5000"),
    # How often the embed script sends buffered events, in milliseconds (None: its default).
    "DEMO_FLUSH_INTERVAL": None,
    # The journey's steps in order, as the templates mark them with ``data-journey-step``: the
    # order of the report's funnel (`flask journey set-steps` changes it).
    "DEMO_STEPS": ("eligibility", "business-details", "review", "declaration", "submitted"),
}


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the demo app; ``test_config`` replaces settings from ``FLASK_*`` variables."""
    app = Flask(__name__, instance_relative_config=True)
    # Sessions only carry the form between steps; set FLASK_SECRET_KEY to keep them across
    # restarts.
    app.config.from_mapping(DEFAULTS, SECRET_KEY=secrets.token_hex(32))
    if test_config is None:
        app.config.from_prefixed_env()
    else:
        app.config.update(test_config)

    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    Journey().init_app(app)
    ensure_demo_journey(app)
    app.register_blueprint(bp)
    return app


def ensure_demo_journey(app: Flask) -> None:
    """Create the tables, the demo organization and its journey unless they exist."""
    database = app.extensions["journey"].database
    journey_db.create_tables(database)
    with database.connection_context():
        try:
            org = tenants.get_org(app.config["DEMO_ORG"])
        except tenants.TenantError:
            org = tenants.create_org(app.config["DEMO_ORG"])
        try:
            tenants.get_journey(org, app.config["DEMO_JOURNEY"])
        except tenants.TenantError:
            tenants.create_journey(
                org,
                app.config["DEMO_JOURNEY"],
                list(app.config["DEMO_ALLOWED_ORIGINS"]),
                list(app.config["DEMO_STEPS"]),
            )

"""A demo site using flask-journey: a small-business grant application.

    flask --app example_app run        or        python -m example_app

Eligibility, business details, review (a single-page section: summary and declaration shown in
turn with ``history.pushState``), then submitted. Every page carries the embed script through
``{{ journey_embed(...) }}``. Its "Statistics" link opens flask-journey's dashboard
(``/journey/``), ``/stats`` shows raw counts, and
``flask --app example_app journey report demo-org small-business-grant`` prints the funnel and
field friction. On start the app creates its tables and its organization and journey (with its
steps) if they are missing, and fills a journey without events with simulated visitors
(``flask journey demo-data``), so that the dashboard has something to show.

Its ``SECRET_KEY`` is ``FLASK_SECRET_KEY``, else one kept in ``instance/secret_key`` (made on the
first run), so that a link ``flask --app example_app journey share demo-org
small-business-grant`` prints, or the dashboard's Share button makes, opens in every run.

The dashboard is open to requests from the loopback address (127.0.0.1, ::1) only: see
:func:`local_requests_only`. Behind a reverse proxy on the same machine every request comes from
the loopback address, so a deployed copy must replace that rule with real authentication.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, request

from flask_journey import Journey, api
from flask_journey.api import Organization
from flask_journey.demo import DemoField

from .forms import BUSINESS, DECLARATION, ELIGIBILITY, Field
from .views import bp

#: Field names the embed script never reports on (flask_journey/static/embed: sensitive keys).
_UNTRACKED = re.compile(r"pass|account", re.IGNORECASE)

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
    # Simulated sessions stored when the journey has no events yet; 0 stores none. None: 400
    # when the app is run, 0 when it is built with a test_config.
    "DEMO_DATA_SESSIONS": None,
}


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the demo app; ``test_config`` replaces settings from ``FLASK_*`` variables."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_prefixed_env()
    else:
        app.config.update(test_config)
    # It signs the form's session and the dashboard's sign-ins and share links: kept, so that
    # share links (`flask journey share`, the dashboard's button) work in every run.
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)

    if app.config["DEMO_DATA_SESSIONS"] is None:
        app.config["DEMO_DATA_SESSIONS"] = 0 if test_config is not None else 400

    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    journey = Journey()
    journey.init_app(app)
    journey.dashboard_access(local_requests_only)
    ensure_demo_journey(app)
    app.register_blueprint(bp)
    return app


def instance_secret_key(instance_path: str) -> str:
    """The app's secret key kept in ``secret_key`` in its instance folder (owner-only), made
    on the first run; processes that start together all get the one the first made."""
    path = os.path.join(instance_path, "secret_key")
    os.makedirs(instance_path, exist_ok=True)
    if not os.path.exists(path):
        made = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(made, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(made, path)  # never replaces a key another process kept first
        except FileExistsError:
            pass
        finally:
            os.unlink(made)
    with open(path) as file:
        return file.read().strip()


def local_requests_only(org: Organization) -> bool:
    """The demo's dashboard rule: a request from this machine (the loopback address) may see
    every organization. A real site asks its own authentication instead (docs/dashboard.md)."""
    return request.remote_addr in ("127.0.0.1", "::1")


#: The page of each step, as the app's routes serve it (views.py).
DEMO_PAGES = {
    "eligibility": "/apply/eligibility",
    "business-details": "/apply/business",
    "review": "/apply/review",
    "declaration": "/apply/review/declaration",
    "submitted": "/apply/submitted",
}


#: What each step is called on its page.
DEMO_STEP_LABELS = {
    "eligibility": "Eligibility",
    "business-details": "Business details",
    "review": "Review your answers",
    "declaration": "Declaration",
    "submitted": "Application submitted",
}


def demo_labels() -> dict[str, str]:
    """The labels of the steps and of the fields (as the embed script names them) that the
    pages show: what the dashboard shows instead of the keys."""
    fields = (*ELIGIBILITY, *BUSINESS, *DECLARATION)
    return {
        **DEMO_STEP_LABELS,
        **{field.attrs.get("data-journey-field", field.name): field.label for field in fields},
    }


def field_errors(field: Field) -> tuple[str, ...]:
    """The validation errors a browser reports for ``field``'s constraint attributes."""
    errors = ["valueMissing"] if field.required else []
    if field.kind in ("email", "number"):
        errors.append("typeMismatch")
    if field.pattern:
        errors.append("patternMismatch")
    if "minlength" in field.attrs:
        errors.append("tooShort")
    if field.minimum is not None:
        errors.append("rangeUnderflow")
    if field.maximum is not None:
        errors.append("rangeOverflow")
    return tuple(errors)


def demo_fields() -> dict[str, list[DemoField]]:
    """The fields of each step as the embed script names them, with the errors each can have."""
    steps = {"eligibility": ELIGIBILITY, "business-details": BUSINESS, "declaration": DECLARATION}
    return {
        step: [
            DemoField(field.attrs.get("data-journey-field", field.name), field_errors(field))
            for field in fields
            if "data-journey-ignore" not in field.attrs and not _UNTRACKED.search(field.name)
        ]
        for step, fields in steps.items()
    }


def ensure_demo_journey(app: Flask) -> None:
    """Create the tables, the demo organization and its journey unless they exist; fill a
    journey without events with ``DEMO_DATA_SESSIONS`` simulated sessions."""
    org_slug, slug = app.config["DEMO_ORG"], app.config["DEMO_JOURNEY"]
    database = app.extensions["journey"].database
    with app.app_context(), database.connection_context():
        api.create_tables()
        try:
            org = api.get_organization(org_slug)
        except api.TenantError:
            org = api.create_organization(org_slug)
        try:
            api.get_journey(org, slug)
        except api.TenantError:
            api.create_journey(
                org,
                slug,
                origins=app.config["DEMO_ALLOWED_ORIGINS"],
                steps=app.config["DEMO_STEPS"],
            )
            api.update_journey(org, slug, labels=demo_labels())
        sessions = app.config["DEMO_DATA_SESSIONS"]
        if sessions and not api.has_events(org, slug):
            api.demo_data(
                org,
                slug,
                sessions=sessions,
                days=60,
                fields=demo_fields(),
                pages=DEMO_PAGES,
                base_url="http://127.0.0.1:5000",
            )

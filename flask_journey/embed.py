"""The embed script: the ``/embed/v1.js`` route and the ``journey_embed`` template helper."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, send_from_directory, url_for
from markupsafe import Markup, escape

from .applications import application_key
from .endpoints import Endpoint

if TYPE_CHECKING:
    from .state import JourneyState

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static", "embed")
#: The file served as /embed/v1.js, built from ``embed.src.js`` (see ``scripts/build_embed.py``).
SCRIPT = "v1.js"
#: ``GET /embed/v1.js``, as the OpenAPI description declares it.
ENDPOINT = Endpoint(
    "get",
    "/embed/v1.js",
    "The embed script",
    {200: None},
    media_types=("text/javascript",),
    docs="embed.md",
)


def create_embed_blueprint(state: JourneyState) -> Blueprint:
    bp = Blueprint("journey_embed", __name__)

    @bp.get("/embed/v1.js")
    def script() -> Response:
        response = send_from_directory(
            STATIC_DIR,
            SCRIPT,
            mimetype="text/javascript",
            max_age=state.settings.embed_max_age,
        )
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    return bp


def journey_embed(
    org: str,
    journey: str,
    env: str = "prod",
    endpoint: str | None = None,
    *,
    nonce: str | None = None,
    respect_dnt: bool = False,
    keep_query: bool = False,
    flush_interval: int | None = None,
    instance: str | None = None,
    application: object = None,
) -> Markup:
    """The ``<script>`` tag that loads the embed script for one journey, every attribute escaped.

    ``endpoint`` defaults to this site's ``/api/ingest``; ``nonce`` sets a CSP nonce;
    ``respect_dnt`` makes the script send nothing when the browser asks not to be tracked
    (Do Not Track or Global Privacy Control); ``keep_query`` sends query-string values;
    ``flush_interval`` is how often, in milliseconds, buffered events are sent (default 5000);
    ``instance`` is an instance id every event carries (``data-journey-instance``);
    ``application`` names the application the page belongs to (a saved form resumed later):
    only its key (:mod:`flask_journey.applications`) is rendered, never the id.
    ``docs/embed.md`` describes the attributes and the page conventions the script reads.
    """
    attrs = {
        "src": url_for("journey_embed.script"),
        "data-org": org,
        "data-journey": journey,
        "data-endpoint": endpoint or url_for("journey_journey.ingest"),
        "data-env": env,
    }
    if nonce:
        attrs["nonce"] = nonce
    if respect_dnt:
        attrs["data-respect-dnt"] = "true"
    if keep_query:
        attrs["data-keep-query"] = "true"
    if flush_interval is not None:
        if type(flush_interval) is not int or flush_interval <= 0:
            raise ValueError("flush_interval must be a positive number of milliseconds")
        attrs["data-flush-interval"] = str(flush_interval)
    if instance:
        attrs["data-journey-instance"] = instance
    if application is not None and application != "":
        secret = current_app.extensions["journey"].application_secret()
        attrs["data-application"] = application_key(secret, application)
    rendered = " ".join(f'{name}="{escape(value)}"' for name, value in attrs.items())
    return Markup(f"<script {rendered} async></script>")

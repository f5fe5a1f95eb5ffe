"""The two apps the benchmark serves with gunicorn: a host app with flask-journey, and bare Flask.

Both are configured from the environment: ``BENCH_DATABASE_URL`` names the database of the
journey app, ``BENCH_GROUP_COMMIT`` (``0``/``1``) sets ``JOURNEY_GROUP_COMMIT``, and
``BENCH_SKIP_WRITES=1`` measures everything but the database (:func:`skip_writes`).
"""

from __future__ import annotations

import os
import tempfile

from flask import Flask, Response

from flask_journey import Journey, store


def create_app(database_url: str | None = None) -> Flask:
    """A host app as a site would write it, with the settings a production site would use."""
    app = Flask("bench", instance_path=os.path.join(tempfile.gettempdir(), "journey-bench"))
    app.config.update(
        JOURNEY_DATABASE_URL=database_url or os.environ["BENCH_DATABASE_URL"],
        JOURNEY_GROUP_COMMIT=os.environ.get("BENCH_GROUP_COMMIT", "1") == "1",
        # Limits stay on, counted for every request, but high enough never to refuse one.
        JOURNEY_RATELIMIT_DEFAULT="1000000000 per hour",
    )
    Journey(app)
    if os.environ.get("BENCH_SKIP_WRITES") == "1":
        skip_writes()
    return app


def skip_writes() -> None:
    """Make this process skip the database write, for the "writes skipped" variant only.

    Each batch's transaction (its INSERT, the usage upsert, the COMMIT) becomes a no-op that
    counts every event as new; reading, validating, admitting, scrubbing, building rows and the
    group-commit hand-over still run. Nothing is stored: it shows the database's share of a
    request, and is never a result on its own.
    """

    def write(db: object, batches: list[store._Batch]) -> None:
        for batch in batches:
            batch.inserted = len(batch.rows)

    store._write = write


def create_bare_app() -> Flask:
    """The framework's own ceiling: one Flask view that answers 204 to a POST."""
    app = Flask("bare")

    @app.post("/api/ingest")
    def ingest() -> Response:
        return Response(status=204)

    return app

"""Two apps with two databases in one process: each app's events and commands use its own."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

from flask_journey import Journey
from flask_journey.models import Event

from .helpers import JOURNEY, ORG, ORIGIN

SITES = ("a", "b")
BATCHES = 40
EVENTS_PER_BATCH = 5


def site_app(tmp_path, name: str, database_url: str) -> Flask:
    """A host app of its own, with the seed's organization and journey in its own database."""
    app = Flask(f"site_{name}", instance_path=str(tmp_path / f"instance_{name}"))
    app.config.update(
        TESTING=True, JOURNEY_DATABASE_URL=database_url, JOURNEY_RATELIMIT_ENABLED=False
    )
    Journey().init_app(app)
    for args in (
        ("init-db",),
        ("create-org", ORG),
        ("create-journey", ORG, JOURNEY, "--allowed-origin", ORIGIN),
    ):
        result = app.test_cli_runner().invoke(args=["journey", *args])
        assert result.exit_code == 0, result.output
    return app


def exported_ids(app: Flask) -> list[str]:
    result = app.test_cli_runner().invoke(args=["journey", "export"])
    assert result.exit_code == 0, result.output
    return sorted(json.loads(line)["event_id"] for line in result.output.splitlines())


def batch(site: str, number: int) -> dict[str, Any]:
    events = [
        {
            "_tag": "dropoff_signal",
            "schemaVersion": 1,
            "id": f"evt_{site}_{number}_{i}",
            "ts": "2024-01-15T10:30:00Z",
            "orgKey": ORG,
            "journeyKey": JOURNEY,
            "sessionId": f"sess_{site}_{number}",
            "clientId": f"client_{site}",
            "url": f"{ORIGIN}/apply",
            "reason": site,
        }
        for i in range(EVENTS_PER_BATCH)
    ]
    return {"schemaVersion": 1, "context": {"orgKey": ORG, "journeyKey": JOURNEY}, "events": events}


@pytest.fixture
def sites(tmp_path, database_url) -> dict[str, Flask]:
    """Site a on the test's database (SQLite or PostgreSQL), site b on a SQLite file of its own."""
    return {
        "a": site_app(tmp_path, "a", database_url),
        "b": site_app(tmp_path, "b", f"sqlite:///{tmp_path / 'b.sqlite3'}"),
    }


@pytest.fixture
def served(sites) -> Iterator[Callable[[str, dict[str, Any]], int]]:
    """Both sites behind one threaded server (``/a/...`` and ``/b/...``); post(site, body)."""
    root = Flask("root")
    root.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        root.wsgi_app, {f"/{name}": app for name, app in sites.items()}
    )
    server = make_server("127.0.0.1", 0, root, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def post(site: str, body: dict[str, Any]) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        try:
            connection.request(
                "POST",
                f"/{site}/api/ingest",
                json.dumps(body),
                {"Content-Type": "application/json", "Origin": ORIGIN},
            )
            return connection.getresponse().status
        finally:
            connection.close()

    yield post
    server.shutdown()
    thread.join()


def test_concurrent_requests_to_two_apps_store_every_event_in_its_own_database(sites, served):
    sends = [(site, number) for number in range(BATCHES) for site in SITES]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda send: served(send[0], batch(*send)), sends))

    assert statuses == [204] * len(sends)
    for site, app in sites.items():
        expected = sorted(
            f"evt_{site}_{number}_{i}" for number in range(BATCHES) for i in range(EVENTS_PER_BATCH)
        )
        assert exported_ids(app) == expected


def test_each_apps_context_reads_its_own_database_whichever_app_came_last(sites, served):
    assert served("a", batch("a", 1)) == 204
    sites["b"].extensions["journey"].activate()  # a script working with b, in this thread

    with sites["a"].app_context():
        stored = [(e.event_id, e.properties) for e in Event.select().order_by(Event.event_id)]
    with sites["b"].app_context():
        assert Event.select().count() == 0

    assert stored == [(f"evt_a_1_{i}", {"reason": "a"}) for i in range(EVENTS_PER_BATCH)]

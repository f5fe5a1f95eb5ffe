"""Storage outages in the log: one traceback, one line per failure with a count, one recovery line.

Against storage that is really unreachable: a PostgreSQL database that does not exist yet (every
connection is refused), then created; a Redis port where nothing listens, then a Redis started
there.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil

import pytest
from flask import Flask

from flask_journey import Journey
from scripts.servers import free_port, stop

from .helpers import JOURNEY, ORG, ORIGIN, batch, event
from .servers import start_redis

LOGGER = "flask_journey.outages"
_names = itertools.count(1)


def site(tmp_path, url: str, **config) -> Flask:
    app = Flask("outage", instance_path=str(tmp_path / "instance"))
    app.config.update(TESTING=True, JOURNEY_DATABASE_URL=url, **config)
    Journey().init_app(app)
    return app


def cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["journey", *args])
    assert result.exit_code == 0, result.output
    return result.output


def ingest(app: Flask, n: int = 1):
    return app.test_client().post(
        "/api/ingest", json=batch(event("page_view", n)), headers={"Origin": ORIGIN}
    )


def outage_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


@pytest.fixture
def missing_database(postgres_server) -> tuple[str, object]:
    """The URL of a PostgreSQL database not created yet, and a function that creates it."""
    name = f"journey_outage_{os.getpid()}_{next(_names)}"
    return postgres_server.url(name), lambda: postgres_server.admin(f"CREATE DATABASE {name}")


def test_a_database_outage_logs_one_traceback_a_counted_line_per_failure_and_its_recovery(
    tmp_path, missing_database, caplog
):
    url, create = missing_database
    app = site(tmp_path, url)
    caplog.set_level(logging.INFO, logger=LOGGER)

    answers = [ingest(app, n) for n in range(1, 3)]
    answers.append(
        app.test_client().get(
            f"/api/journeys/{JOURNEY}", headers={"Authorization": "Bearer sk_abcdef123456_secret"}
        )
    )

    assert [a.status_code for a in answers] == [503, 503, 503]
    assert answers[0].get_json() == {"error": "Storage unavailable: OperationalError"}
    first, second, third = outage_records(caplog)
    assert first.levelno == logging.ERROR and first.exc_info is not None
    assert first.getMessage() == (
        "flask-journey: database unavailable, request to /api/ingest answered 503; "
        "one line per failure follows until it recovers"
    )
    assert second.exc_info is None and third.exc_info is None
    assert second.getMessage().startswith(
        "flask-journey: database still unavailable (2 failures), request to /api/ingest "
        "answered 503: OperationalError: "
    )
    assert third.getMessage().startswith(
        f"flask-journey: database still unavailable (3 failures), request to "
        f"/api/journeys/{JOURNEY} answered 503: OperationalError: "
    )
    assert "\n" not in second.getMessage() + third.getMessage()

    create()
    cli(app, "init-db")
    cli(app, "create-org", ORG)
    cli(app, "create-journey", ORG, JOURNEY, "--allowed-origin", ORIGIN)
    caplog.clear()

    assert ingest(app, 10).status_code == 204
    assert ingest(app, 11).status_code == 204
    [recovered] = outage_records(caplog)
    assert recovered.levelno == logging.WARNING
    assert recovered.getMessage().startswith(
        "flask-journey: database available again after 3 failures over "
    )


def test_each_app_keeps_its_own_outage(tmp_path, missing_database, caplog):
    url, _ = missing_database
    down = [site(tmp_path / "a", url), site(tmp_path / "b", url)]
    healthy = site(tmp_path / "c", f"sqlite:///{tmp_path / 'ok.sqlite3'}")
    cli(healthy, "init-db")
    cli(healthy, "create-org", ORG)
    cli(healthy, "create-journey", ORG, JOURNEY, "--allowed-origin", ORIGIN)
    caplog.set_level(logging.INFO, logger=LOGGER)

    for app in (*down, *down):
        assert ingest(app).status_code == 503
    assert ingest(healthy).status_code == 204

    records = outage_records(caplog)
    assert [r.exc_info is not None for r in records] == [True, True, False, False]
    assert ["(2 failures)" in r.getMessage() for r in records] == [False, False, True, True]


@pytest.fixture
def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not found: apt-get install redis-server")
    pytest.importorskip("redis", reason="the redis package is needed to reach Redis")
    return binary


def test_a_rate_limit_storage_outage_is_logged_the_same_way(tmp_path, redis_binary, caplog):
    port = free_port()
    app = site(
        tmp_path,
        f"sqlite:///{tmp_path / 'journey.sqlite3'}",
        JOURNEY_RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0",
        JOURNEY_RATELIMIT_FAIL_OPEN=True,
    )
    cli(app, "init-db")
    cli(app, "create-org", ORG)
    cli(app, "create-journey", ORG, JOURNEY, "--allowed-origin", ORIGIN)
    caplog.set_level(logging.INFO, logger=LOGGER)

    assert [ingest(app, n).status_code for n in range(1, 4)] == [204, 204, 204]

    records = outage_records(caplog)
    assert [r.exc_info is not None for r in records] == [True, False, False]
    assert (
        records[0]
        .getMessage()
        .startswith("flask-journey: rate-limit storage unavailable, request admitted")
    )
    assert "(3 failures)" in records[2].getMessage()

    redis = start_redis(redis_binary, port, tmp_path)
    try:
        caplog.clear()

        assert ingest(app, 10).status_code == 204
        assert ingest(app, 11).status_code == 204
    finally:
        stop(redis)
    [recovered] = outage_records(caplog)
    assert recovered.getMessage().startswith(
        "flask-journey: rate-limit storage available again after 3 failures over "
    )

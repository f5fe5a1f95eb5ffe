"""Throwaway servers for the tests: PostgreSQL, Redis and gunicorn, each started and stopped here.

PostgreSQL and Redis run once per test session on free loopback ports, with their data in a temp
folder; each test gets a fresh PostgreSQL database and an emptied Redis. A test that needs a
binary that is not installed is skipped with the reason (under ``CI=true`` a skip fails the run).
gunicorn serves :func:`create_app`, configured by a JSON file named in ``JOURNEY_TEST_APP_CONFIG``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_journey import Journey
from scripts import servers as throwaway
from scripts.servers import free_port, stop

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
APP_CONFIG_ENV = "JOURNEY_TEST_APP_CONFIG"
#: Connections the test PostgreSQL server (and its replica, which needs as many) accepts.
MAX_CONNECTIONS = 300


def wait_until(
    ready: Callable[[], bool],
    what: str,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
) -> None:
    """Poll ``ready`` until it is true; fail with the log if the deadline passes or it dies."""
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        exited = process is not None and process.poll() is not None
        if exited or time.monotonic() > deadline:
            output = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            state = "exited" if exited else f"did not start within {START_TIMEOUT:.0f}s"
            pytest.fail(f"{what} {state}:\n{output}")
        time.sleep(0.05)


def port_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


# PostgreSQL


@dataclass
class PostgresServer:
    """A running PostgreSQL server that trusts local connections as ``postgres``."""

    prefix: str

    def url(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def admin(self, sql: str) -> None:
        """Run SQL in the ``postgres`` database, outside a transaction."""
        self.execute(self.url("postgres"), sql)

    @staticmethod
    def execute(url: str, sql: str) -> None:
        """Run SQL in the database at ``url``, outside a transaction."""
        import psycopg2

        conn = psycopg2.connect(url)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(sql)
        finally:
            conn.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, in a temp folder, on a free loopback port."""
    missing = throwaway.postgres_missing()
    if missing:
        pytest.skip(missing)
    settings = (*throwaway.NO_DURABILITY, "wal_level=replica")
    with throwaway.postgres(settings, max_connections=MAX_CONNECTIONS) as prefix:
        yield PostgresServer(prefix)


@dataclass
class Replica(PostgresServer):
    """A hot standby streaming from the session's PostgreSQL server."""

    primary: PostgresServer

    def catch_up(self, database: str) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        import psycopg2

        primary = psycopg2.connect(self.primary.url(database))
        with contextlib.closing(primary) as conn, conn.cursor() as cursor:
            # Where the primary has put its last record, written out or not: its commits do not
            # wait for the disk here (synchronous_commit=off), and the standby gets them soon.
            cursor.execute("SELECT pg_current_wal_insert_lsn()")
            (written,) = cursor.fetchone()
        with contextlib.closing(psycopg2.connect(self.url(database))) as conn:
            conn.autocommit = True

            def replayed() -> bool:
                with conn.cursor() as cursor:
                    cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (written,))
                    return bool(cursor.fetchone()[0])

            wait_until(replayed, f"the replica's replay of {written}")


@pytest.fixture(scope="session")
def postgres_replica(postgres_server: PostgresServer) -> Iterator[Replica]:
    """A streaming replica of the session's server (``pg_basebackup -R``), on another port."""
    with throwaway.postgres_replica(postgres_server.prefix, MAX_CONNECTIONS) as prefix:
        yield Replica(prefix, postgres_server)


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> str:
    """The name of the session's test database."""
    name = f"journey_test_{os.getpid()}"
    postgres_server.admin(f"CREATE DATABASE {name}")
    return name


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, postgres_database: str) -> str:
    """The URL of an empty PostgreSQL database: the session's, emptied for this test."""
    url = postgres_server.url(postgres_database)
    # Cheaper than a database per test; connections left over from earlier tests are ended
    # first so that none can hold a lock on what is dropped.
    postgres_server.admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{postgres_database}' AND pid <> pg_backend_pid()"
    )
    postgres_server.execute(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return url


# Redis


def start_redis(binary: str, port: int, home: Path) -> subprocess.Popen:
    """A Redis server without persistence on a loopback port, once it answers.

    It writes its data and ``server.log`` (appended to) in ``home``; stop it with ``stop``.
    """
    log = home / "server.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(home),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_until(lambda: port_answers(port), "redis-server", process, log)
    return process


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """One Redis server for the session, without persistence; yields its ``redis://`` URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not found: apt-get install redis-server")
    pytest.importorskip("redis", reason="the redis package is needed to reach Redis")
    port = free_port()
    process = start_redis(binary, port, tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's Redis, emptied for this test."""
    import redis

    client = redis.from_url(redis_server)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server


@pytest.fixture
def dead_redis_url() -> str:
    """A ``redis://`` URL on a loopback port where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


# gunicorn


def create_app() -> Flask:
    """The host app gunicorn serves: flask-journey configured from the JSON file in the env.

    Answers carry the worker's pid in ``X-Worker-Pid``, so tests can see which process served.
    """
    app = Flask("served")
    with open(os.environ[APP_CONFIG_ENV]) as fh:
        app.config.update(json.load(fh))
    Journey().init_app(app)

    @app.after_request
    def _worker_pid(response):
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app


@dataclass
class Served:
    """A gunicorn serving :func:`create_app` on 127.0.0.1."""

    port: int

    def post(
        self, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        """POST ``body`` as JSON; return status, body and headers (a new connection each time)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            conn.request(
                "POST", path, data, {"Content-Type": "application/json", **(headers or {})}
            )
            response = conn.getresponse()
            return response.status, response.read(), dict(response.getheaders())
        finally:
            conn.close()


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., Served]]:
    """``serve(config, workers=3, worker_class="sync", threads=1)`` starts gunicorn.

    The database must already be initialised (e.g. by the ``app`` fixture on the same URL).
    Every server started is stopped after the test.
    """
    pytest.importorskip("gunicorn", reason="gunicorn is not installed")
    started: list[subprocess.Popen] = []

    def start(
        config: dict[str, Any], *, workers: int = 3, worker_class: str = "sync", threads: int = 1
    ) -> Served:
        index = len(started)
        config_file = tmp_path / f"gunicorn-{index}.json"
        config_file.write_text(json.dumps(config))
        log = tmp_path / f"gunicorn-{index}.log"
        port = free_port()
        env = {**os.environ, APP_CONFIG_ENV: str(config_file)}
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--workers",
                    str(workers),
                    "--worker-class",
                    worker_class,
                    "--threads",
                    str(threads),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--chdir",
                    str(ROOT),
                    "--timeout",
                    "60",
                    "--graceful-timeout",
                    "5",
                    "tests.servers:create_app()",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        wait_until(lambda: port_answers(port), "gunicorn", process, log)
        return Served(port)

    try:
        yield start
    finally:
        for index, process in enumerate(started):
            stop(process)
            # Shown by pytest when the test fails: the workers' errors and tracebacks.
            print((tmp_path / f"gunicorn-{index}.log").read_text(errors="replace")[-20000:])

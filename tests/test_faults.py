"""Faults under load: a gunicorn worker killed, PostgreSQL stopped, Redis stopped, each mid-load.

Clients send requests in all five wire formats to a 3-worker gunicorn, retrying each one, with
the same body and ``Idempotency-Key``, until it is acknowledged, as the embed script and the
seeds' clients do; a reader beside them keeps asking the management API for the journey. Each
scenario moves on when what it waits for has been seen (so many acknowledged, so many refused),
never after a fixed time; each ends with every acknowledged event stored exactly once, nothing
stored twice, and no answer but 2xx and the documented 503 in the format's own shape.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator

from flask_journey import Journey
from flask_journey.openapi import describe
from scripts import servers as throwaway

from .helpers import ORG
from .servers import start_redis, wait_until

JOURNEY = "faulty-journey"
CLIENTS = 5
#: The most requests one client sends in a scenario; each ends well before, when it is stopped.
MAX_REQUESTS = 2000
#: Attempts of one request before the client gives up (a failure of the test).
MAX_ATTEMPTS = 2000
#: Acknowledged requests each phase of a scenario waits for.
PHASE = 40
#: A client's pause before retrying a refused request (its backoff; nothing waits on it).
BACKOFF = 0.01
FORMAT_PATHS = (
    "/api/ingest",
    "/api/i/v1/{publicKey}/events",
    "/collect/{aid}/{tid}/event",
    "/api/v1/events/custom",
    "/api/events",
)
#: What the reader, beside the clients, asks for again and again.
READ = "/api/journeys/{journeyKey}"
LIMITS = {
    "JOURNEY_RATELIMIT_DEFAULT": "1000000 per hour",
    "JOURNEY_RATELIMIT_UNKNOWN_ORIGIN": "1000000 per minute",
}


@dataclass(frozen=True)
class Tenant:
    public_key: str
    account_id: int
    tracker_id: int
    secret_key: str


@dataclass(frozen=True)
class Request:
    """One request and the markers of the events it carries (found again in what is stored)."""

    rule: str
    method: str
    url: str
    body: Any
    headers: dict[str, str]
    markers: tuple[str, ...]


def request(tenant: Tenant, client: int, number: int) -> Request:
    """The ``number``-th request of ``client``: the formats in turn, each event marked.

    Client ``c`` starts at the ``c``-th format, so that the clients are spread over them.
    """
    seq = f"c{client}-{number}"
    rule = FORMAT_PATHS[(client + number) % len(FORMAT_PATHS)]
    keyed = {"Content-Type": "application/json", "Idempotency-Key": seq}
    if rule == "/api/ingest":
        events: list[dict[str, Any]] = [
            {
                "_tag": "field_focus",
                "schemaVersion": 1,
                "id": f"evt-{seq}-{i}",
                "ts": "2024-01-15T10:30:00Z",
                "orgKey": ORG,
                "journeyKey": JOURNEY,
                "sessionId": f"s-{client}",
                "clientId": f"c-{client}",
                "url": "https://grants.example.com/apply",
                "fieldKey": f"f{i}",
            }
            for i in range(2)
        ]
        body = {
            "schemaVersion": 1,
            "context": {"orgKey": ORG, "journeyKey": JOURNEY},
            "events": events,
        }
        return Request(
            rule,
            "POST",
            rule,
            body,
            {"Content-Type": "application/json"},
            tuple(e["id"] for e in events),
        )
    if rule == "/api/i/v1/{publicKey}/events":
        body = {
            "visitorId": f"v-{client}",
            "events": [
                {
                    "type": "custom",
                    "eventName": "load",
                    "url": "https://grants.example.com/",
                    "path": "/",
                    "properties": {"seq": seq},
                }
            ],
        }
        url = f"/api/i/v1/{tenant.public_key}/events"
    elif rule == "/collect/{aid}/{tid}/event":
        body = {
            "action": "load",
            "object": "o",
            "vendor": "v",
            "product": "p",
            "instance_id": f"i-{client}",
            "seq": seq,
        }
        url = f"/collect/{tenant.account_id}/{tenant.tracker_id}/event"
    elif rule == "/api/v1/events/custom":
        body = {
            "site_id": tenant.public_key,
            "url": "https://grants.example.com/",
            "event_name": "load",
            "props": {"seq": seq},
        }
        url = rule
        keyed["Authorization"] = f"Bearer {tenant.secret_key}"
    else:
        body = {
            "projectKey": tenant.public_key,
            "event_name": "load",
            "url": "https://grants.example.com/",
            "event_data": {"seq": seq},
        }
        url = rule
    return Request(rule, "POST", url, body, keyed, (seq,))


def read(tenant: Tenant) -> Request:
    """A management API read of the journey: it stores nothing."""
    return Request(
        READ,
        "GET",
        f"/api/journeys/{JOURNEY}",
        None,
        {"Authorization": f"Bearer {tenant.secret_key}"},
        (),
    )


@dataclass
class Load:
    """``CLIENTS`` threads sending requests to one server until stopped; what they saw."""

    port: int
    tenant: Tenant
    description: dict[str, Any]
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0
    acknowledged: list[Request] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    connection_errors: int = 0
    workers: set[str] = field(default_factory=set)
    unexpected: list[str] = field(default_factory=list)

    def count(self, status: int | None = None) -> int:
        with self.lock:
            return len(self.acknowledged) if status is None else self.statuses[status]

    def _send(self, req: Request) -> tuple[int, bytes, str] | None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = json.dumps(req.body).encode() if req.body is not None else None
            conn.request(req.method, req.url, data, req.headers)
            response = conn.getresponse()
            return response.status, response.read(), response.getheader("X-Worker-Pid", "")
        except (ConnectionError, http.client.HTTPException, TimeoutError):
            return None
        finally:
            conn.close()

    def _conforms(self, req: Request, status: int, body: bytes) -> str | None:
        """Why the answer is not the one the description declares for it, if it is not."""
        declared = self.description["paths"][req.rule][req.method.lower()]["responses"]
        if str(status) not in declared:
            return "undeclared status"
        content = declared[str(status)].get("content")
        if content is None:
            return None if body == b"" else "a body where none is declared"
        try:
            document = json.loads(body)
        except ValueError:
            return "not JSON"
        schema = {**self.description, **content["application/json"]["schema"]}
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(document)]
        return "; ".join(errors) or None

    def _answered(self, req: Request, answer: tuple[int, bytes, str] | None) -> bool | None:
        """Count one answer: true when it acknowledges ``req``, false when it is to be retried,
        None when it is wrong (and retrying is no use)."""
        with self.lock:
            self.sent += 1
            if answer is None:
                self.connection_errors += 1
                return False
            status, body, worker = answer
            self.statuses[status] += 1
            self.workers.add(worker)
            problem = self._conforms(req, status, body)
            if status not in (200, 201, 204, 503) or problem:
                self.unexpected.append(
                    f"{req.method} {req.url} -> {status} ({problem}): {body[:300]!r}"
                )
                return None
            return status != 503

    def _reader(self) -> None:
        req = read(self.tenant)
        for _ in range(MAX_REQUESTS):
            if self.stop.is_set():
                return
            self._answered(req, self._send(req))
            time.sleep(BACKOFF)

    def _client(self, client: int) -> None:
        for number in range(MAX_REQUESTS):
            if self.stop.is_set():
                return
            req = request(self.tenant, client, number)
            for _ in range(MAX_ATTEMPTS):
                acknowledged = self._answered(req, self._send(req))
                if acknowledged:
                    with self.lock:
                        self.acknowledged.append(req)
                if acknowledged is not False:
                    break
                time.sleep(BACKOFF)
            else:
                with self.lock:
                    self.unexpected.append(f"{req.url} never acknowledged")
                return

    @contextlib.contextmanager
    def running(self) -> Iterator[Load]:
        threads = [threading.Thread(target=self._client, args=(i,)) for i in range(CLIENTS)]
        threads.append(threading.Thread(target=self._reader))
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(120)

    def wait_for_acknowledged(self, more: int, what: str) -> None:
        target = self.count() + more
        wait_until(lambda: self.count() >= target, f"{more} acknowledged requests {what}")


def host_app(database_url: str) -> Flask:
    """A host app on ``database_url``, as the served one is configured (for the CLI)."""
    app = Flask("host")
    app.config.update(TESTING=True, JOURNEY_DATABASE_URL=database_url)
    Journey().init_app(app)
    return app


def prepare(app: Flask) -> Tenant:
    """The database initialised, with an organization, a journey open to any origin and a key."""
    runner = app.test_cli_runner()

    def cli(*args: str) -> str:
        result = runner.invoke(args=["journey", *args])
        assert result.exit_code == 0, result.output
        return result.output

    cli("init-db")
    cli("create-org", ORG)
    cli("create-journey", ORG, JOURNEY)
    shown = json.loads(cli("show", ORG, JOURNEY))
    return Tenant(
        shown["publicKey"],
        shown["accountId"],
        shown["trackerId"],
        cli("create-key", ORG).split()[-1],
    )


def stored_markers(app: Flask) -> Counter:
    """How many stored events carry each marker, read back through ``flask journey export``."""
    result = app.test_cli_runner().invoke(args=["journey", "export"])
    assert result.exit_code == 0, result.output
    markers: Counter = Counter()
    for line in result.output.splitlines():
        event = json.loads(line)
        if event["event_id"].startswith("evt-"):
            markers[event["event_id"]] += 1
        else:
            markers[(event["properties"] or {}).get("seq")] += 1
    return markers


def verify(name: str, load: Load, app: Flask) -> None:
    """Every acknowledged event stored once, nothing twice, no answer but 2xx and 503."""
    stored = stored_markers(app)
    acknowledged = [m for req in load.acknowledged for m in req.markers]
    print(
        f"\n{name}: {load.sent} requests sent, {len(load.acknowledged)} acknowledged "
        f"({len(acknowledged)} events), {sum(stored.values())} events stored; statuses "
        f"{dict(sorted(load.statuses.items()))}, {load.connection_errors} connection errors"
    )
    assert not load.unexpected, "\n".join(load.unexpected[:20])
    assert [m for m in acknowledged if stored[m] != 1] == []
    assert set(stored) == set(acknowledged), "an event stored that no answer acknowledged"
    assert max(stored.values()) == 1


# The scenarios.


def test_worker_killed_under_load_loses_and_duplicates_nothing(serve, database_url):
    app = host_app(database_url)
    tenant = prepare(app)
    served = serve({"JOURNEY_DATABASE_URL": database_url, **LIMITS}, workers=3)
    load = Load(served.port, tenant, describe(app.extensions["journey"]))

    with load.running():
        load.wait_for_acknowledged(PHASE, "before the kill")
        with load.lock:
            before = set(load.workers)
        victim = int(next(pid for pid in before if pid.isdigit()))
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: bool(load.workers - before), "an answer from the new worker")
        load.wait_for_acknowledged(PHASE, "after the kill")

    verify(f"kill -9 of worker {victim} ({database_url.split(':')[0]})", load, app)


@dataclass
class StoppablePostgres:
    """A throwaway PostgreSQL server that a test can stop and start again, as ``pg_ctl`` does."""

    url: str
    data: Path
    command: list[str]

    def _pg_ctl(self, *args: str) -> None:
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        pg_ctl = str(Path(self.command[0]).with_name("pg_ctl"))
        subprocess.run(
            [*as_user, pg_ctl, *args, "-D", str(self.data)],
            check=True,
            capture_output=True,
            cwd=self.data.parent,
            timeout=120,
        )

    def stop(self) -> None:
        self._pg_ctl("stop", "-w", "-m", "fast")

    def start(self) -> None:
        # The options it was started with, less the data directory that pg_ctl passes itself.
        options = self.command[1:]
        at = options.index("-D")
        del options[at : at + 2]
        self._pg_ctl(
            "start", "-w", "-l", str(self.data.parent / "restarted.log"), "-o", shlex.join(options)
        )


@pytest.fixture
def stoppable_postgres() -> Iterator[StoppablePostgres]:
    missing = throwaway.postgres_missing()
    if missing:
        pytest.skip(missing)
    import psycopg2

    with throwaway.postgres(throwaway.NO_DURABILITY) as prefix:
        url = throwaway.create_postgres_database(prefix, "journey_faults")
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SHOW data_directory")
                data = Path(cursor.fetchone()[0])
        finally:
            conn.close()
        command = shlex.split((data / "postmaster.opts").read_text())
        yield StoppablePostgres(url, data, command)


def test_postgres_stopped_and_started_under_load_is_503_then_resumes(serve, stoppable_postgres):
    url = stoppable_postgres.url
    app = host_app(url)
    tenant = prepare(app)
    served = serve({"JOURNEY_DATABASE_URL": url, **LIMITS}, workers=3)
    load = Load(served.port, tenant, describe(app.extensions["journey"]))

    with load.running():
        load.wait_for_acknowledged(PHASE, "before PostgreSQL stops")
        stoppable_postgres.stop()
        refused = load.count(503) + PHASE
        wait_until(lambda: load.count(503) >= refused, "503s while PostgreSQL is stopped")
        stoppable_postgres.start()
        load.wait_for_acknowledged(PHASE, "after PostgreSQL is back")

    # Read back as a new `flask journey export` process would, not through the pool of
    # connections the old server ended.
    verify("PostgreSQL stopped and started", load, host_app(url))
    assert load.statuses[503] >= PHASE


@dataclass
class StoppableRedis:
    """A Redis server on a fixed loopback port, stopped and started again by the test."""

    binary: str
    port: int
    home: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = start_redis(self.binary, self.port, self.home)

    def stop(self) -> None:
        if self.process is not None:
            throwaway.stop(self.process)
            self.process = None


@pytest.fixture
def stoppable_redis(tmp_path) -> Iterator[StoppableRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not found: apt-get install redis-server")
    pytest.importorskip("redis", reason="the redis package is needed to reach Redis")
    server = StoppableRedis(binary, throwaway.free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("fail_open", [True, False], ids=["fail-open", "fail-closed"])
def test_redis_stopped_and_started_under_load_is_as_configured_then_resumes(
    serve, tmp_path, stoppable_redis, fail_open
):
    database_url = f"sqlite:///{tmp_path / 'journey.sqlite3'}"
    app = host_app(database_url)
    tenant = prepare(app)
    served = serve(
        {
            "JOURNEY_DATABASE_URL": database_url,
            **LIMITS,
            "JOURNEY_RATELIMIT_STORAGE_URI": stoppable_redis.url,
            "JOURNEY_RATELIMIT_FAIL_OPEN": fail_open,
        },
        workers=3,
    )
    load = Load(served.port, tenant, describe(app.extensions["journey"]))
    during: Callable[[], int] = load.count if fail_open else lambda: load.count(503)

    with load.running():
        load.wait_for_acknowledged(PHASE, "before Redis stops")
        stoppable_redis.stop()
        target = during() + PHASE
        wait_until(
            lambda: during() >= target,
            "answers while Redis is stopped: " + ("2xx" if fail_open else "503"),
        )
        stoppable_redis.start()
        load.wait_for_acknowledged(PHASE, "after Redis is back")

    verify(f"Redis stopped and started, {'fail-open' if fail_open else 'fail-closed'}", load, app)
    if fail_open:
        assert load.statuses[503] == 0
    else:
        assert load.statuses[503] >= PHASE

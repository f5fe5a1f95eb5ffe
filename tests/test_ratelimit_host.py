"""flask-journey's rate limits next to a host app's own flask-limiter, and the per-client limit.

Our limits are counted by the ``limits`` library directly and configured by ``JOURNEY_*`` keys;
nothing of ours reaches the host's flask-limiter. Two things of the host's do reach us: its
limits that apply to every route leave our routes alone (they have their own), and while
``JOURNEY_RATELIMIT_STORAGE_URI`` is not set we count in the host's ``RATELIMIT_STORAGE_URI``,
so one Redis serves both.
"""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from flask_journey import Journey
from flask_journey.guard import KEY_PREFIX

from .helpers import ORIGIN

VISITOR = "203.0.113.7"
OTHER = "198.51.100.20"


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'journey.sqlite3'}"


def typed(journey) -> str:
    return f"/api/i/v1/{journey['publicKey']}/events"


def pageview(n: int) -> dict:
    return {
        "visitorId": "v",
        "events": [
            {
                "type": "pageview",
                "url": f"{ORIGIN}/{n}",
                "path": f"/{n}",
                "timestamp": 1764547200000 + n,
            },
        ],
    }


def with_host_limiter(app, limit: str = "1 per minute"):
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://")

    @app.get("/search")
    @limiter.limit(limit)
    def search():
        return "results"

    return limiter


def test_switching_ours_off_leaves_the_hosts_limiter_on(make_app):
    app = make_app(JOURNEY_RATELIMIT_ENABLED=False)
    assert "RATELIMIT_ENABLED" not in app.config
    host = with_host_limiter(app)  # noqa: F841 (flask-limiter holds it weakly)
    client = app.test_client()

    assert client.get("/search").status_code == 200
    assert client.get("/search").status_code == 429


def test_our_limits_hold_with_a_host_limiter_beside_them(make_app, cli):
    # Our own storage set: the host's (a Redis nobody answers on) is not used.
    app = make_app(
        JOURNEY_RATELIMIT_STORAGE_URI="memory://",
        JOURNEY_RATELIMIT_DEFAULT="2 per hour",
        RATELIMIT_ENABLED=False,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0",
        RATELIMIT_STORAGE_OPTIONS={"socket_timeout": 0.01},
    )
    host = with_host_limiter(app)  # noqa: F841 (flask-limiter holds it weakly)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["journey", "create-org", "o"]).exit_code == 0
    runner.invoke(args=["journey", "create-journey", "o", "j", "--allowed-origin", ORIGIN])
    journey = json.loads(runner.invoke(args=["journey", "show", "o", "j"]).output)
    client = app.test_client()

    answers = [
        client.post(typed(journey), json=pageview(n), headers={"Origin": ORIGIN}) for n in range(3)
    ]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert client.get("/search").status_code == 200  # the host switched its own off


def host_app(tmp_path, database_url: str, limiter_first: bool, **config) -> Flask:
    """A host app with a flask-limiter of its own, made before or after ``Journey(app)``.

    Its limiter's default limit, 2 a minute for each route, would count every route.
    """
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config.update(TESTING=True, SECRET_KEY="host-secret", JOURNEY_DATABASE_URL=database_url)
    app.config.update(config)

    def limiter() -> Limiter:
        host = Limiter(get_remote_address, app=app, default_limits=["2 per minute"])

        @app.get("/hello")
        def hello():
            return "hello"

        return host

    if limiter_first:
        app.extensions["test_limiter"] = limiter()
        Journey(app)
    else:
        Journey(app)
        app.extensions["test_limiter"] = limiter()
    return app


def status(response) -> int:
    response.close()  # a file it sends is closed
    return response.status_code


def make_journey(app) -> dict:
    runner = app.test_cli_runner()
    for args in (
        ["create-org", "o"],
        ["create-journey", "o", "j", "--allowed-origin", ORIGIN],
        ["set-org", "o", "--rate-limit", "3 per hour"],
    ):
        result = runner.invoke(args=["journey", *args])
        assert result.exit_code == 0, result.output
    return json.loads(runner.invoke(args=["journey", "show", "o", "j"]).output)


@pytest.mark.parametrize("limiter_first", [True, False], ids=["limiter-first", "journey-first"])
def test_a_host_limiters_default_limits_leave_the_journeys_routes_to_ours(
    tmp_path, database_url, redis_url, limiter_first
):
    app = host_app(tmp_path, database_url, limiter_first, RATELIMIT_STORAGE_URI=redis_url)
    journey = make_journey(app)
    client = app.test_client()

    beacons = [
        client.post(typed(journey), json=pageview(n), headers={"Origin": ORIGIN}).status_code
        for n in range(4)
    ]
    scripts = [status(client.get("/embed/v1.js")) for _ in range(3)]
    spec = [status(client.get("/api/openapi.json")) for _ in range(3)]
    sign_in = [status(client.get("/journey/sign-in")) for _ in range(3)]
    hello = [status(client.get("/hello")) for _ in range(3)]

    # Ours (the organization's 3 an hour) counts the beacons; the host's 2 a minute does not.
    assert beacons == [200, 200, 200, 429]
    assert scripts == spec == sign_in == [200, 200, 200]
    assert hello == [200, 200, 429]  # the host's own routes keep its limits


def test_our_limits_count_in_the_hosts_redis_shared_by_every_worker(
    tmp_path, database_url, redis_url
):
    import redis

    config = {"RATELIMIT_STORAGE_URI": redis_url, "JOURNEY_RATELIMIT_DEFAULT": "3 per hour"}
    first = host_app(tmp_path, database_url, True, **config)
    journey = make_journey(first)
    # Another worker: its own app and memory, the same Redis.
    second = host_app(tmp_path, database_url, False, **config)

    answers = [
        app.test_client()
        .post(typed(journey), json=pageview(n), headers={"Origin": ORIGIN})
        .status_code
        for n, app in enumerate((first, second, first, second))
    ]

    assert first.extensions["journey"].settings.ratelimit_storage_uri == redis_url
    assert answers == [200, 200, 200, 429]
    keys = [key.decode() for key in redis.from_url(redis_url).keys("*")]
    # limits 3.x writes LIMITER/..., newer releases LIMITS:LIMITER/...
    assert any(f"LIMITER/{KEY_PREFIX}/" in key for key in keys)


def test_our_own_storage_setting_wins_over_the_hosts(tmp_path, database_url, redis_url):
    app = host_app(
        tmp_path,
        database_url,
        True,
        RATELIMIT_STORAGE_URI=redis_url,
        JOURNEY_RATELIMIT_STORAGE_URI="memory://",
    )

    assert app.extensions["journey"].settings.ratelimit_storage_uri == "memory://"


def test_a_host_storage_uri_we_cannot_use_stops_the_app_naming_it(tmp_path, database_url):
    with pytest.raises(ValueError, match="^RATELIMIT_STORAGE_URI .* must be a storage URI"):
        host_app(tmp_path, database_url, False, RATELIMIT_STORAGE_URI="carrier-pigeon://loft")


def test_init_app_writes_only_journey_keys(make_app):
    bare = Flask("bare")
    app = make_app()

    added = set(app.config) - set(bare.config) - {"TESTING", "JOURNEY_DATABASE_URL"}
    assert added and all(key.startswith("JOURNEY_") for key in added)


def test_memory_storage_warns_outside_testing_and_debug(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="flask_journey"):
        make_app(TESTING=False)

    assert any("memory://" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "config",
    [
        {"TESTING": True},
        {"TESTING": False, "DEBUG": True},
        {"TESTING": False, "JOURNEY_RATELIMIT_ENABLED": False},
    ],
)
def test_memory_storage_is_quiet_when_it_is_fine(make_app, caplog, config):
    with caplog.at_level(logging.WARNING, logger="flask_journey"):
        make_app(**config)

    assert not [r for r in caplog.records if "memory://" in r.getMessage()]


def test_an_unknown_strategy_stops_the_app_naming_the_key(make_app):
    with pytest.raises(ValueError, match="JOURNEY_RATELIMIT_STRATEGY must be one of"):
        make_app(JOURNEY_RATELIMIT_STRATEGY="leaky-bucket")


class TestPerClient:
    @pytest.fixture
    def config(self):
        return {"JOURNEY_RATELIMIT_PER_CLIENT": "2 per hour"}

    def post(self, client, journey, n: int, address: str):
        return client.post(
            typed(journey),
            json=pageview(n),
            headers={"Origin": ORIGIN},
            environ_base={"REMOTE_ADDR": address},
        )

    def test_one_client_past_its_limit_leaves_the_journey_to_others(
        self, client, journey, exported
    ):
        mine = [self.post(client, journey, n, VISITOR).status_code for n in range(4)]
        theirs = self.post(client, journey, 9, OTHER)

        assert mine == [200, 200, 429, 429]
        assert theirs.status_code == 200
        assert len(exported()) == 3

    def test_the_address_is_never_a_key_nor_stored(self, app, client, journey, tmp_path):
        self.post(client, journey, 1, VISITOR)

        storage = app.extensions["journey"].guard.limiter.storage
        keys = list(storage.storage)
        assert any(key.startswith(f"LIMITER/{KEY_PREFIX}/client/") for key in keys)
        assert not [key for key in keys if VISITOR in key]
        assert VISITOR.encode() not in (tmp_path / "journey.sqlite3").read_bytes()

    def test_a_proxy_on_the_same_host_is_not_one_client(self, client, journey):
        answers = [self.post(client, journey, n, "127.0.0.1").status_code for n in range(4)]

        assert answers == [200] * 4

    @pytest.mark.parametrize("config", [{"JOURNEY_RATELIMIT_PER_CLIENT": None}])
    def test_the_per_client_limit_can_be_switched_off(self, client, journey):
        answers = [self.post(client, journey, n, VISITOR).status_code for n in range(4)]

        assert answers == [200] * 4

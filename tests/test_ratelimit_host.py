"""flask-journey's rate limits next to a host app's own flask-limiter, and the per-client limit.

Our limits are counted by the ``limits`` library directly and configured only by ``JOURNEY_*``
keys: nothing of ours reaches the host's flask-limiter or its ``RATELIMIT_*`` config, and
nothing of the host's reaches ours.
"""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

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
    app = make_app(
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

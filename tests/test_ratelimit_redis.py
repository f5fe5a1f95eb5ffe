"""Rate limits shared through Redis by every worker and host, and what happens without Redis."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from flask_journey.config import REDIS_STORAGE_OPTIONS

from .helpers import JOURNEY, ORG, ORIGIN


def batch(event_id: str) -> dict:
    return {
        "schemaVersion": 1,
        "context": {"orgKey": ORG, "journeyKey": JOURNEY},
        "events": [
            {
                "_tag": "page_view",
                "schemaVersion": 1,
                "id": event_id,
                "ts": "2024-01-15T10:30:00Z",
                "orgKey": ORG,
                "journeyKey": JOURNEY,
                "sessionId": "sess_1",
                "clientId": "client_1",
                "url": "https://grants.example.com/apply",
            }
        ],
    }


def post(client, event_id: str):
    return client.post("/api/ingest", json=batch(event_id), headers={"Origin": ORIGIN})


@pytest.fixture
def silent_redis_url() -> Iterator[str]:
    """A ``redis://`` URL whose server accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def test_three_gunicorn_workers_admit_exactly_the_limit_between_them(
    database_url, redis_url, journey, serve, exported
):
    # "per hour": the fixed window starts at the first hit and cannot roll during the test.
    served = serve(
        {
            "JOURNEY_DATABASE_URL": database_url,
            "JOURNEY_RATELIMIT_STORAGE_URI": redis_url,
            "JOURNEY_RATELIMIT_DEFAULT": "30 per hour",
        },
        workers=3,
    )

    def send(n: int) -> tuple[int, str]:
        status, _, headers = served.post("/api/ingest", batch(f"evt_{n}"), {"Origin": ORIGIN})
        return status, headers["X-Worker-Pid"]

    answers: list[tuple[int, str]] = []
    with ThreadPoolExecutor(8) as pool:
        # One worker can take every request of a short burst; keep sending (bounded) until
        # more than one has answered, so the limit is proven shared between workers.
        while len({pid for _, pid in answers}) < 2 and len(answers) < 450:
            answers += pool.map(send, range(len(answers), len(answers) + 45))

    statuses = Counter(status for status, _ in answers)
    assert statuses == {204: 30, 429: len(answers) - 30}
    assert len({pid for _, pid in answers}) > 1, "every request was served by one worker"
    assert len(exported()) == 30


def test_apps_on_two_hosts_share_one_limit_through_redis(make_app, redis_url, journey, exported):
    config = {"JOURNEY_RATELIMIT_STORAGE_URI": redis_url, "JOURNEY_RATELIMIT_DEFAULT": "3/hour"}
    hosts = [make_app(**config).test_client(), make_app(**config).test_client()]

    statuses = [post(hosts[n % 2], f"evt_{n}").status_code for n in range(6)]

    assert statuses == [204, 204, 204, 429, 429, 429]
    assert len(exported()) == 3


def test_a_limited_request_says_when_to_retry(make_app, redis_url, journey):
    client = make_app(
        JOURNEY_RATELIMIT_STORAGE_URI=redis_url, JOURNEY_RATELIMIT_DEFAULT="1/hour"
    ).test_client()
    assert post(client, "evt_1").status_code == 204

    response = post(client, "evt_2")

    assert response.status_code == 429
    assert response.get_json() == {"error": "Rate limit exceeded for organization"}
    assert 0 < int(response.headers["Retry-After"]) <= 3600


@pytest.mark.parametrize("redis", ["dead", "silent"])
def test_without_redis_failing_open_keeps_ingesting(
    make_app, journey, exported, redis, dead_redis_url, silent_redis_url
):
    url = dead_redis_url if redis == "dead" else silent_redis_url
    client = make_app(
        JOURNEY_RATELIMIT_STORAGE_URI=url, JOURNEY_RATELIMIT_FAIL_OPEN=True
    ).test_client()

    response = post(client, "evt_1")

    assert response.status_code == 204
    assert [e["event_id"] for e in exported()] == ["evt_1"]


@pytest.mark.parametrize("redis", ["dead", "silent"])
def test_without_redis_failing_closed_answers_503_and_stores_nothing(
    make_app, journey, exported, redis, dead_redis_url, silent_redis_url
):
    url = dead_redis_url if redis == "dead" else silent_redis_url
    client = make_app(
        JOURNEY_RATELIMIT_STORAGE_URI=url, JOURNEY_RATELIMIT_FAIL_OPEN=False
    ).test_client()

    response = post(client, "evt_1")

    assert response.status_code == 503
    assert response.get_json() == {"error": "Rate limiting is temporarily unavailable"}
    assert exported() == []


def test_redis_storage_gets_short_timeouts_unless_configured(make_app):
    def options(**config):
        return make_app(**config).extensions["journey"].settings.ratelimit_storage_options

    assert options(JOURNEY_RATELIMIT_STORAGE_URI="redis://cache:6379/0") == REDIS_STORAGE_OPTIONS
    assert options(
        JOURNEY_RATELIMIT_STORAGE_URI="redis://cache:6379/0",
        JOURNEY_RATELIMIT_STORAGE_OPTIONS={"socket_timeout": 2, "health_check_interval": 30},
    ) == {"socket_connect_timeout": 0.5, "socket_timeout": 2, "health_check_interval": 30}
    assert options() == {}
    with pytest.raises(ValueError, match="JOURNEY_RATELIMIT_STORAGE_OPTIONS must be a dict"):
        options(JOURNEY_RATELIMIT_STORAGE_OPTIONS="socket_timeout=1")

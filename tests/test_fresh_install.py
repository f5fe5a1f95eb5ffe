"""A fresh install, as the README's quickstart sets one up: no init-db, no SECRET_KEY.

The embedded SQLite database gets its schema on first use, by a command or a request, also when
several workers start together; emails are hashed with a secret the installation makes once and
keeps. On PostgreSQL a missing schema is one clear error naming ``flask journey migrate``.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask

from flask_journey import Journey, migrations

ORIGIN = "https://shop.example"


def site(instance, **config) -> Flask:
    """The quickstart's app: ``Journey(app)`` and nothing else configured."""
    app = Flask("site", instance_path=str(instance))
    app.config.update(config)
    Journey(app)
    return app


def cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["journey", *args])
    assert result.exit_code == 0, result.output
    return result.output


def identify(public_key: str):
    return f"/api/i/v1/{public_key}/events", {
        "visitorId": "v1",
        "events": [
            {
                "type": "identify",
                "url": f"{ORIGIN}/signup",
                "path": "/signup",
                "email": "Jane@Shop.example",
                "userId": "usr_1",
            }
        ],
    }


def test_the_quickstart_stores_and_reports_events_without_init_db_or_a_secret(tmp_path):
    app = site(tmp_path / "instance")
    cli(app, "create-org", "shop")
    cli(app, "create-journey", "shop", "checkout", "--allowed-origin", ORIGIN)
    public_key = json.loads(cli(app, "show", "shop", "checkout"))["publicKey"]

    path, body = identify(public_key)
    response = app.test_client().post(path, json=body, headers={"Origin": ORIGIN})

    assert response.status_code == 200, response.get_json()
    [stored] = [json.loads(line) for line in cli(app, "export").splitlines()]
    assert stored["user_id"] == "usr_1"
    assert stored["properties"]["email"].startswith("eh_")
    assert "jane" not in json.dumps(stored).lower()
    assert json.loads(cli(app, "stats"))["shop/checkout"]["events"] == 1


def test_the_installation_secret_is_made_once_and_kept(tmp_path):
    first = site(tmp_path / "instance")
    cli(first, "create-org", "shop")
    cli(first, "create-journey", "shop", "checkout")
    public_key = json.loads(cli(first, "show", "shop", "checkout"))["publicKey"]
    path, body = identify(public_key)
    first.test_client().post(path, json=body)
    restarted = site(tmp_path / "instance")
    body["events"][0]["timestamp"] = 1764547200000

    restarted.test_client().post(path, json=body)

    hashes = [
        json.loads(line)["properties"]["email"] for line in cli(restarted, "export").splitlines()
    ]
    assert len(hashes) == 2 and hashes[0] == hashes[1]


def test_a_secret_key_still_keys_the_hash(tmp_path):
    app = site(tmp_path / "instance", SECRET_KEY="configured")

    assert app.extensions["journey"].settings.identity.secret == b"configured"
    assert app.extensions["journey"].settings.identity.secret_source is None


def test_the_first_request_creates_the_schema(tmp_path):
    app = site(tmp_path / "instance")

    path, body = identify("pk_unknown")
    response = app.test_client().post(path, json=body)

    assert response.status_code == 404
    assert migrations.version(app.extensions["journey"].database) == migrations.LATEST


def test_workers_starting_together_on_an_empty_database_all_answer(tmp_path, serve):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    served = serve({"JOURNEY_DATABASE_URL": url}, workers=3)
    path, body = identify("pk_unknown")

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: served.post(path, body), range(24)))

    assert [status for status, _, _ in answers] == [404] * 24
    app = site(tmp_path / "instance", JOURNEY_DATABASE_URL=url)
    assert migrations.version(app.extensions["journey"].database) == migrations.LATEST


@pytest.fixture
def empty_postgres(postgres_url, tmp_path) -> Flask:
    return site(tmp_path / "instance", JOURNEY_DATABASE_URL=postgres_url)


def test_postgres_without_a_schema_names_migrate_on_the_command_line(empty_postgres):
    result = empty_postgres.test_cli_runner().invoke(args=["journey", "create-org", "shop"])

    assert result.exit_code != 0
    assert "run `flask journey migrate`" in result.output
    assert "Traceback" not in result.output


def test_postgres_without_a_schema_names_migrate_in_the_log(empty_postgres, caplog):
    with caplog.at_level(logging.WARNING, logger="flask_journey"):
        path, body = identify("pk_any")
        response = empty_postgres.test_client().post(path, json=body)

    assert response.status_code == 503
    assert response.get_json()["errors"][0]["message"] == (
        "Storage unavailable: the database schema is not current"
    )
    assert any("run `flask journey migrate`" in r.getMessage() for r in caplog.records)


def test_migrate_then_gives_postgres_its_schema(empty_postgres):
    cli(empty_postgres, "migrate")
    cli(empty_postgres, "create-org", "shop")

    assert migrations.version(empty_postgres.extensions["journey"].database) == migrations.LATEST

"""Fixtures that build a host app the way a site owner would: a factory and ``init_app``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from flask_journey import Journey

from .helpers import JOURNEY, ORG, ORIGIN

pytest_plugins = ("tests.servers", "tests.known_dashboard")


@pytest.fixture(params=("sqlite", "postgresql"))
def database_url(request, tmp_path) -> str:
    """The database every storage test runs against: each test runs on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journey.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def config() -> dict[str, Any]:
    """Extra app config; override or update it in a test module."""
    return {}


@pytest.fixture
def make_app(tmp_path, database_url, config) -> Callable[..., Flask]:
    """An app factory: ``make_app(**config)`` builds a host app with flask-journey."""

    def factory(**overrides: Any) -> Flask:
        app = Flask("host", instance_path=str(tmp_path / "instance"))
        app.config.update(TESTING=True, JOURNEY_DATABASE_URL=database_url)
        app.config.update(config)
        app.config.update(overrides)
        Journey().init_app(app)
        return app

    return factory


@pytest.fixture
def app(make_app) -> Flask:
    app = make_app()
    result = app.test_cli_runner().invoke(args=["journey", "init-db"])
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def cli(runner) -> Callable[..., Any]:
    """Run ``flask journey ...``; assert it succeeded; return its output."""

    def run(*args: str) -> str:
        result = runner.invoke(args=["journey", *args])
        assert result.exit_code == 0, result.output
        return result.output

    return run


@pytest.fixture
def journey(cli) -> dict[str, Any]:
    """The seed's organization and journey, allowing the seed's origin, as ``show`` prints it."""
    cli("create-org", ORG)
    cli("create-journey", ORG, JOURNEY, "--allowed-origin", ORIGIN)
    return json.loads(cli("show", ORG, JOURNEY))


@pytest.fixture
def api_key(cli, journey) -> str:
    """A secret key of the seed's organization (the last word ``create-key`` prints)."""
    return cli("create-key", ORG).split()[-1]


@pytest.fixture
def exported(cli) -> Callable[..., list[dict[str, Any]]]:
    """The stored events, read back through ``flask journey export``."""

    def read(*args: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in cli("export", *args).splitlines()]

    return read


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI a skip is a failure: every part the tests need must be installed there."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") == "true" and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true: {report.longrepr}"

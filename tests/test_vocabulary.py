"""A bounded vocabulary: a stranger who forges the allowed origin and sends tens of thousands of
made-up step keys, field keys and event names cannot blow up a journey's report or dashboard.

Every value is stored as sent; the reports show at most ``JOURNEY_MAX_*`` of each kind, the
configured steps always, and count the rest as ``(other)``.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
from typing import Any

import pytest
from flask import Flask

from flask_journey import Journey, api
from flask_journey.reports.vocabulary import OTHER, Limits, Vocabulary

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, post

PAGE = f"/journey/{ORG}/{JOURNEY}/"
STEPS = ("eligibility", "details", "review")
#: The largest page the dashboard may answer with, bytes.
MAX_PAGE = 1_000_000
#: Junk values of each kind sent: many on SQLite; fewer on PostgreSQL, where storing them
#: through HTTP takes longer (the same code folds them either way).
JUNK = {"sqlite": 50_000, "postgresql": 5_000}


@pytest.fixture
def junk(database_url) -> int:
    return JUNK[database_url.partition(":")[0]]


@pytest.fixture
def host(tmp_path, database_url) -> Flask:
    """A host app whose staff see every dashboard, with limits no one reaches here (the
    attacker's traffic is not refused, so that all of it is stored)."""
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config.update(
        TESTING=True,
        SECRET_KEY="vocabulary-test",
        JOURNEY_DATABASE_URL=database_url,
        JOURNEY_RATELIMIT_DEFAULT="1000000 per hour",
        JOURNEY_RATELIMIT_PER_CLIENT=None,
        JOURNEY_REPORT_MAX_STALENESS=0,
    )
    journey = Journey(app)
    journey.dashboard_access(lambda org: True)
    with app.app_context():
        api.create_tables()
        api.create_journey(api.create_organization(ORG), JOURNEY, origins=[ORIGIN], steps=STEPS)
    return app


def _at(n: int) -> str:
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    return (start + dt.timedelta(milliseconds=n)).isoformat(timespec="milliseconds")


def _genuine(client, sessions: range) -> None:
    """Visitors who walk the configured steps, filling in email on the details step."""
    for s in sessions:
        events = [
            event("step_view", f"g{s}-1", stepKey="eligibility"),
            event("step_view", f"g{s}-2", stepKey="details"),
            event("field_focus", f"g{s}-3", stepKey="details", fieldKey="email"),
            event("step_view", f"g{s}-4", stepKey="review"),
        ]
        for n, e in enumerate(events):
            e.update(sessionId=f"genuine-{s}", ts=_at(s * 10 + n))
        assert post(client, batch(*events, deviceClass="desktop")).status_code == 204


def _junk_steps_and_fields(client, junk: int) -> None:
    """``junk`` step keys, then ``junk`` field keys, 500 events a batch, a session a batch."""
    devices = ("desktop", "mobile", "tablet")
    for kind in ("step", "field"):
        for first in range(0, junk, 500):
            events = []
            for n in range(first, min(first + 500, junk)):
                if kind == "step":
                    e = event("step_view", f"s{n}", stepKey=f"junk-step-{n}")
                else:
                    e = event("field_focus", f"f{n}", stepKey="details", fieldKey=f"junk-{n}")
                e.update(sessionId=f"junk-{kind}-{first}", ts=_at(100_000 + n))
                events.append(e)
            body = batch(*events, deviceClass=devices[first // 500 % 3])
            assert post(client, body).status_code == 204


def _junk_names(client, journey: dict[str, Any], junk: int) -> None:
    """``junk`` custom event names through seed 001, 100 events a request."""
    stamp = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000) - 3_600_000
    for first in range(0, junk, 100):
        events = [
            {
                "type": "custom",
                "url": f"{ORIGIN}/apply",
                "path": "/apply",
                "eventName": f"junk-name-{n}",
                "timestamp": stamp + n,
            }
            for n in range(first, min(first + 100, junk))
        ]
        response = client.post(
            f"/api/i/v1/{journey['publicKey']}/events",
            json={"visitorId": "attacker", "source": "client", "events": events},
            headers={"Origin": ORIGIN},
        )
        assert response.status_code == 200, response.get_json()


def _step_rows(page: str, table: str) -> list[str]:
    """The row headings of one table of a dashboard page."""
    found = re.search(rf'<table class="data" id="{table}">(.*?)</table>', page, re.DOTALL)
    assert found is not None, f"no {table} on the page"
    cells = re.findall(r'<th scope="row">(.*?)</th>', found.group(1), re.DOTALL)
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def test_junk_keys_through_http_leave_the_report_and_pages_bounded(host, junk):
    client = host.test_client()
    with host.app_context():
        journey = api.get_journey(ORG, JOURNEY).to_dict()
    _genuine(client, range(3))
    _junk_steps_and_fields(client, junk)
    _junk_names(client, journey, junk)
    _genuine(client, range(3, 5))

    page = client.get(PAGE)
    by_device = client.get(f"{PAGE}?breakdown=device")

    assert page.status_code == by_device.status_code == 200
    assert len(page.get_data()) <= MAX_PAGE
    assert len(by_device.get_data()) <= MAX_PAGE
    for response in (page, by_device):
        text = response.get_data(as_text=True)
        steps = _step_rows(text, "steps-table")
        assert steps[:3] == list(STEPS)
        assert OTHER in steps
        assert len(steps) <= 101
    assert _step_rows(by_device.get_data(as_text=True), "breakdown-table")[:3] == list(STEPS)

    with host.app_context():
        report = api.report(ORG, JOURNEY, breakdown="device")
        stats = json.loads(host.test_cli_runner().invoke(args=["journey", "stats"]).output)
    # Nothing was refused or lost: every event is stored as sent.
    assert stats[f"{ORG}/{JOURNEY}"]["events"] == 5 * 4 + 3 * junk
    assert stats[f"{ORG}/{JOURNEY}"]["folded"] == {
        "steps": junk - 97,  # 100 steps: the 3 configured, then the first 97 others
        "fields": junk + 1 - 500,  # email, then the first 499 junk fields of details
        "eventNames": junk - 500,
        "customEvents": 1,  # the combination of the name (other) with no category or label
        "errorTypes": 0,
        "reasons": 0,
    }
    configured = {s["stepKey"]: s for s in report["steps"] if s["configured"]}
    assert {key: s["sessions"] for key, s in configured.items()} == dict.fromkeys(STEPS, 5)
    assert len(report["steps"]) == 101
    assert OTHER in {s["stepKey"] for s in report["steps"]}
    assert len(report["fields"]) == 501
    assert {(f["stepKey"], f["fieldKey"]) for f in report["fields"]} >= {
        ("details", "email"),
        ("details", OTHER),
    }
    assert len(report["events"]["types"]) <= 500 + 3  # custom (other), step_view, field_focus
    assert len(report["events"]["custom"]) == 501
    for value in report["breakdownValues"]:
        assert len(value["steps"]) == 101
        assert len(value["fields"]) <= 501

    fields_csv = client.get(f"{PAGE}report.csv?table=fields")
    assert fields_csv.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(fields_csv.get_data(as_text=True))))) == 501


def test_raising_a_limit_and_rebuilding_brings_the_folded_values_back(make_app):
    small = make_app(JOURNEY_MAX_STEPS=4, JOURNEY_MAX_REASONS=1, JOURNEY_REPORT_MAX_STALENESS=0)
    runner = small.test_cli_runner()
    assert runner.invoke(args=["journey", "init-db"]).exit_code == 0
    with small.app_context():
        api.create_journey(api.create_organization(ORG), JOURNEY, steps=STEPS)
    client = small.test_client()
    views = [
        event("step_view", n, stepKey=key, sessionId=f"s{n}", ts=_at(n))
        for n, key in enumerate(("made-up-1", *STEPS, "made-up-2", "made-up-3"))
    ]
    drops = [
        event("dropoff_signal", n, stepKey="review", reason=reason, ts=_at(10 + n))
        for n, reason in enumerate(("idle", "leave", "idle"))
    ]
    for body in (batch(*views), batch(*drops)):
        assert post(client, body, {"Content-Type": "application/json"}).status_code == 204

    def steps(app) -> dict[str, Any]:
        with app.app_context():
            return {s["stepKey"]: s for s in api.report(ORG, JOURNEY)["steps"]}

    # The configured steps, then the first step key stored: four; the rest are (other).
    assert {key: s["sessions"] for key, s in steps(small).items()} == {
        "eligibility": 1,
        "details": 1,
        "review": 1,
        "made-up-1": 1,
        OTHER: 2,
    }
    assert steps(small)["review"]["dropoffReasons"] == {"idle": 1, OTHER: 1}

    large = make_app(JOURNEY_MAX_STEPS=10, JOURNEY_MAX_REASONS=5, JOURNEY_REPORT_MAX_STALENESS=0)
    result = large.test_cli_runner().invoke(args=["journey", "refresh", "--rebuild"])

    assert result.exit_code == 0, result.output
    assert {key: s["sessions"] for key, s in steps(large).items()} == {
        "eligibility": 1,
        "details": 1,
        "review": 1,
        "made-up-1": 1,
        "made-up-2": 1,
        "made-up-3": 1,
    }
    assert steps(large)["review"]["dropoffReasons"] == {"idle": 1, "leave": 1}


def _seen(vocabulary: Vocabulary, type: str, **values: Any) -> None:
    keys = ("step_key", "field_key", "error_type", "properties", "name", "category", "label")
    vocabulary.admit(type, *(values.get(key) for key in keys))


def _folded(vocabulary: Vocabulary, type: str, **values: Any):
    keys = ("step_key", "field_key", "error_type", "properties", "name", "category", "label")
    return vocabulary.fold(type, *(values.get(key) for key in keys))


def test_configured_steps_are_kept_beyond_the_limit_then_steps_first_seen_fill_it():
    tight = Vocabulary(Limits(2, 9, 9, 9, 9), configured=("a", "b", "c"))
    roomy = Vocabulary(Limits(4, 9, 9, 9, 9), configured=("a",))
    for step in ("x", "y", "z", "b"):
        _seen(tight, "step_view", step_key=step)
        _seen(roomy, "step_view", step_key=step)

    assert [_folded(tight, "step_view", step_key=s).step_key for s in "abcxyz"] == [
        *"abc",
        OTHER,
        OTHER,
        OTHER,
    ]
    assert [_folded(roomy, "step_view", step_key=s).step_key for s in "abxyz"] == [
        "a",
        OTHER,
        "x",
        "y",
        "z",
    ]


def test_a_field_beyond_the_limit_keeps_its_step_and_a_folded_step_takes_its_fields_along():
    vocabulary = Vocabulary(Limits(1, 2, 9, 9, 9), configured=("details",))
    for step, field in (("details", "email"), ("details", "zip"), ("details", "phone")):
        _seen(vocabulary, "field_focus", step_key=step, field_key=field)
    _seen(vocabulary, "field_focus", step_key="made-up", field_key="email")

    def field(step: str, key: str) -> tuple[str | None, str | None]:
        folded = _folded(vocabulary, "field_change", step_key=step, field_key=key)
        return folded.step_key, folded.field_key

    assert field("details", "zip") == ("details", "zip")
    assert field("details", "phone") == ("details", OTHER)
    assert field("made-up", "email") == (OTHER, OTHER)


def test_names_count_with_their_type_and_custom_combinations_fold_category_and_label():
    vocabulary = Vocabulary(Limits(9, 9, 2, 9, 9))
    for n, (kind, name) in enumerate((("form", "contact"), ("custom", "signup"))):
        _seen(vocabulary, kind, name=name, category=f"c{n}")
    _seen(vocabulary, "custom", name="signup", category="other-category")
    _seen(vocabulary, "custom", name="junk", category="c1")

    assert _folded(vocabulary, "form", name="contact").name == "contact"
    assert _folded(vocabulary, "form", name="signup").name == OTHER
    assert _folded(vocabulary, "custom", name="signup", category="c1")[4:] == ("signup", "c1", None)
    assert _folded(vocabulary, "custom", name="junk", category="c1")[4:] == (OTHER, OTHER, OTHER)


def test_error_types_and_reasons_without_a_value_are_unknown_and_fold_like_the_others():
    vocabulary = Vocabulary(Limits(9, 9, 9, 1, 1))
    _seen(vocabulary, "validation_error", field_key="email")
    _seen(vocabulary, "validation_error", field_key="email", error_type="tooLong")
    _seen(vocabulary, "dropoff_signal", properties={"reason": "idle"})

    assert _folded(vocabulary, "validation_error", field_key="email").error_type == "unknown"
    assert _folded(vocabulary, "validation_error", error_type="tooLong").error_type == OTHER
    assert _folded(vocabulary, "dropoff_signal", properties={"reason": "idle"}).reason == "idle"
    assert _folded(vocabulary, "dropoff_signal").reason == OTHER


def test_segment_values_beyond_the_limit_are_summed_as_other(make_app):
    """Forty traffic sources through HTTP, three kept apart: the rollups hold four source values
    whatever a sender invents, the report and a breakdown list (other) with the rest, and a
    filter on a folded value still counts its one session."""
    app = make_app(JOURNEY_MAX_SEGMENT_VALUES=3, JOURNEY_REPORT_MAX_STALENESS=0)
    assert app.test_cli_runner().invoke(args=["journey", "init-db"]).exit_code == 0
    with app.app_context():
        api.create_journey(api.create_organization(ORG), JOURNEY, steps=STEPS)
    client = app.test_client()
    sessions = [
        event(
            "session_end",
            n,
            sessionId=f"s{n}",
            ts=_at(n),
            url=f"https://grants.example.com/apply?utm_source=junk-{n:02d}",
        )
        for n in range(40)
    ]
    assert post(client, batch(*sessions), {"Content-Type": "application/json"}).status_code == 204

    with app.app_context():
        report = api.report(ORG, JOURNEY, breakdown="source")
        filtered = api.report(ORG, JOURNEY, filters={"source": "junk-39"})
        database = app.extensions["journey"].database
        kept = database.execute_sql(
            "SELECT COUNT(DISTINCT value) FROM journey_rollup WHERE segment = 'source'"
        ).fetchone()[0]

    assert kept == 4
    assert report["segments"]["source"][OTHER] == 37
    assert sum(report["segments"]["source"].values()) == 40
    assert {v["value"]: v["totals"]["sessions"] for v in report["breakdownValues"]}[OTHER] == 37
    assert filtered["totals"]["sessions"] == 1

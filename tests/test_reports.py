"""Reports: four hand-written sessions and the numbers a site owner reads, through HTTP and the CLI.

One session completes after an email error and a return to email, one abandons on business-name,
one only views the first step, one stops at an email error on a phone. Every number below is
worked out by hand from docs/reports.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from typing import Any

import pytest

from flask_journey import Journey

from .helpers import JOURNEY, ORG, ORIGIN

DAY = "2026-11-10"
STEPS = ("eligibility", "business-details", "review")


@pytest.fixture
def config() -> dict[str, Any]:
    return {"JOURNEY_REPORT_MAX_STALENESS": 0}


def at(hour: int, seconds: float) -> str:
    moment = dt.datetime(2026, 11, 10, hour, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def session(hour: int, timeline: list[tuple], device: str = "desktop") -> dict[str, Any]:
    """A seed-000 batch: ``(seconds, tag, props)`` events of one new session."""
    session_id = str(uuid.uuid4())
    events = []
    for seconds, tag, *props in timeline:
        events.append(
            {
                "_tag": tag,
                "schemaVersion": 1,
                "id": str(uuid.uuid4()),
                "ts": at(hour, seconds),
                "orgKey": ORG,
                "journeyKey": JOURNEY,
                "sessionId": session_id,
                "clientId": "c1",
                "url": f"{ORIGIN}/apply",
                **(props[0] if props else {}),
            }
        )
    return {
        "schemaVersion": 1,
        "events": events,
        "context": {"orgKey": ORG, "journeyKey": JOURNEY, "deviceClass": device},
    }


def on(step: str, **props: str) -> dict[str, str]:
    return {"stepKey": step, **props}


COMPLETES = session(
    10,
    [
        (0, "session_start", {"referrer": "https://www.google.com/search"}),
        (0, "step_view", on("eligibility")),
        (5, "field_focus", on("eligibility", fieldKey="business-name")),
        (8, "field_change", on("eligibility", fieldKey="business-name")),
        (10, "field_blur", on("eligibility", fieldKey="business-name")),
        (20, "step_view", on("business-details")),
        (25, "field_focus", on("business-details", fieldKey="email")),
        (30, "field_blur", on("business-details", fieldKey="email")),
        (31, "field_focus", on("business-details", fieldKey="phone")),
        (35, "field_blur", on("business-details", fieldKey="phone")),
        (36, "submit_attempt", on("business-details")),
        (
            36,
            "validation_error",
            on("business-details", fieldKey="email", errorType="typeMismatch"),
        ),
        (40, "field_focus", on("business-details", fieldKey="email")),
        (44, "field_change", on("business-details", fieldKey="email")),
        (46, "field_blur", on("business-details", fieldKey="email")),
        (50, "step_view", on("review")),
        (60, "submit_attempt", on("review")),
        (62, "submit_success", on("review")),
        (70, "session_end", {"reason": "leave"}),
    ],
)
ABANDONS_ON_BUSINESS_NAME = session(
    11,
    [
        (0, "session_start"),
        (0, "step_view", on("eligibility")),
        (3, "field_focus", on("eligibility", fieldKey="business-name")),
        (7, "field_change", on("eligibility", fieldKey="business-name")),
        (15, "dropoff_signal", on("eligibility", reason="leave")),
        (15, "session_end", {"reason": "leave"}),
    ],
)
ONLY_VIEWS = session(
    12,
    [
        (0, "session_start"),
        (0, "page_view", {"title": "Apply"}),
        (1, "step_view", on("eligibility")),
    ],
)
STOPS_AT_EMAIL_ERROR = session(
    13,
    [
        (0, "session_start"),
        (0, "step_view", on("eligibility")),
        (2, "field_focus", on("eligibility", fieldKey="business-name")),
        (4, "field_change", on("eligibility", fieldKey="business-name")),
        (8, "field_blur", on("eligibility", fieldKey="business-name")),
        (18, "step_view", on("business-details")),
        (20, "field_focus", on("business-details", fieldKey="email")),
        (22, "field_change", on("business-details", fieldKey="email")),
        (24, "field_blur", on("business-details", fieldKey="email")),
        (25, "submit_attempt", on("business-details")),
        (
            25,
            "validation_error",
            on("business-details", fieldKey="email", errorType="typeMismatch"),
        ),
        (40, "dropoff_signal", on("business-details", reason="hidden")),
    ],
    device="mobile",
)

TOTALS = {
    "sessions": 4,
    "starters": 3,
    "submitters": 2,
    "completions": 1,
    "abandons": 2,
    "active": 0,
    "startRate": 0.75,
    "completionRate": 0.3333,
    "conversionRate": 0.25,
}
FUNNEL = [
    {
        "stepKey": "eligibility",
        "position": 1,
        "configured": True,
        "sessions": 4,
        "shareOfSessions": 1.0,
        "shareOfPrevious": None,
        "dropoffs": 2,
        "dropoffReasons": {"leave": 1},
        "medianSeconds": 19.0,
        "optional": False,
        "exits": 2,
        "exitRate": 0.5,
        "transitions": [
            {"to": "(exit)", "sessions": 2},
            {"to": "business-details", "sessions": 2},
        ],
        "previousStep": None,
    },
    {
        "stepKey": "business-details",
        "position": 2,
        "configured": True,
        "sessions": 2,
        "shareOfSessions": 0.5,
        "shareOfPrevious": 0.5,
        "dropoffs": 1,
        "dropoffReasons": {"hidden": 1},
        "medianSeconds": 30.0,
        "optional": False,
        "exits": 1,
        "exitRate": 0.5,
        "transitions": [{"to": "(exit)", "sessions": 1}, {"to": "review", "sessions": 1}],
        "previousStep": "eligibility",
    },
    {
        "stepKey": "review",
        "position": 3,
        "configured": True,
        "sessions": 1,
        "shareOfSessions": 0.25,
        "shareOfPrevious": 0.5,
        "dropoffs": 0,
        "dropoffReasons": {},
        "medianSeconds": 12.0,
        "optional": False,
        "exits": 0,
        "exitRate": 0.0,
        "transitions": [{"to": "(completed)", "sessions": 1}],
        "previousStep": "business-details",
    },
]
FIELDS = [
    {
        "fieldKey": "business-name",
        "stepKey": "eligibility",
        "sessions": 3,
        "starters": 3,
        "returns": 0,
        "errorSessions": 0,
        "errors": {},
        "errorRate": 0.0,
        "abandons": 1,
        "abandonShare": 0.5,
        "medianSeconds": 5.5,
        "medianHesitationSeconds": 3.0,
    },
    {
        "fieldKey": "email",
        "stepKey": "business-details",
        "sessions": 2,
        "starters": 2,
        "returns": 1,
        "errorSessions": 2,
        "errors": {"typeMismatch": 2},
        "errorRate": 1.0,
        "abandons": 1,
        "abandonShare": 0.5,
        "medianSeconds": 7.5,
        "medianHesitationSeconds": 10.5,
    },
    {
        "fieldKey": "phone",
        "stepKey": "business-details",
        "sessions": 1,
        "starters": 1,
        "returns": 0,
        "errorSessions": 0,
        "errors": {},
        "errorRate": 0.0,
        "abandons": 0,
        "abandonShare": 0.0,
        "medianSeconds": 4.0,
        "medianHesitationSeconds": None,
    },
]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def scenario(client, cli, journey) -> None:
    cli("set-steps", ORG, JOURNEY, *STEPS)
    for batch in (COMPLETES, ABANDONS_ON_BUSINESS_NAME, ONLY_VIEWS, STOPS_AT_EMAIL_ERROR):
        response = client.post("/api/ingest", json=batch, headers={"Origin": ORIGIN})
        assert response.status_code == 204, response.get_data(as_text=True)


def report_api(client, key: str, **params: str):
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return client.get(f"/api/journeys/{JOURNEY}/report?{query}", headers=bearer(key))


def test_the_report_api_answers_every_definition(client, api_key, scenario):
    response = report_api(client, api_key, **{"from": DAY, "to": DAY})

    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    assert (report["orgKey"], report["journeyKey"], report["from"], report["to"]) == (
        ORG,
        JOURNEY,
        DAY,
        DAY,
    )
    assert report["totals"] == TOTALS
    assert report["steps"] == FUNNEL
    assert report["fields"] == FIELDS
    assert report["segments"]["device"] == {"desktop": 3, "mobile": 1}
    assert report["segments"]["source"] == {"(direct)": 3, "www.google.com": 1}
    assert report["trend"]["interval"] == "hour"
    assert [
        (p["period"], p["sessions"], p["starters"], p["completions"])
        for p in report["trend"]["points"]
        if p["sessions"]
    ] == [
        ("2026-11-10T10:00", 1, 1, 1),
        ("2026-11-10T11:00", 1, 1, 0),
        ("2026-11-10T12:00", 1, 0, 0),
        ("2026-11-10T13:00", 1, 1, 0),
    ]
    assert report["previous"]["from"] == report["previous"]["to"] == "2026-11-09"
    assert report["previous"]["totals"]["sessions"] == 0
    assert {"type": "page_view", "name": None, "count": 1} in report["events"]["types"]
    assert report["events"]["total"] == 40


def test_the_cli_prints_the_same_report_and_a_readable_table(client, api_key, cli, scenario):
    printed = json.loads(
        cli("report", ORG, JOURNEY, "--from", DAY, "--to", DAY, "--format", "json")
    )
    served = report_api(client, api_key, **{"from": DAY, "to": DAY}).get_json()
    assert {k: v for k, v in printed.items() if k != "refreshedAt"} == {
        k: v for k, v in served.items() if k != "refreshedAt"
    }

    table = cli("report", ORG, JOURNEY, "--from", DAY, "--to", DAY)
    assert "Sessions:           4" in table
    assert "Completions:        1" in table
    lines = table.splitlines()
    assert any(line.split()[:4] == ["eligibility", "4", "100.0%", "-"] for line in lines)
    assert any(line.split()[:3] == ["business-details", "email", "2"] for line in lines)


def test_a_segment_filter_and_a_breakdown(client, api_key, scenario):
    mobile = report_api(client, api_key, **{"from": DAY, "to": DAY, "device": "mobile"})
    assert mobile.get_json()["totals"]["sessions"] == 1
    assert mobile.get_json()["totals"]["abandons"] == 1
    assert [s["sessions"] for s in mobile.get_json()["steps"]] == [1, 1, 0]

    broken = report_api(client, api_key, **{"from": DAY, "to": DAY, "breakdown": "device"})
    values = broken.get_json()["breakdownValues"]
    assert [(v["value"], v["totals"]["sessions"], v["totals"]["completions"]) for v in values] == [
        ("desktop", 3, 1),
        ("mobile", 1, 0),
    ]
    assert [s["sessions"] for s in values[1]["steps"]] == [1, 1, 0]
    assert [f["fieldKey"] for f in values[1]["fields"]] == ["business-name", "email"]


def test_csv_tables_hold_the_report_rows(client, api_key, scenario):
    response = report_api(
        client, api_key, **{"from": DAY, "to": DAY, "format": "csv", "table": "fields"}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["stepKey"], r["fieldKey"], r["abandons"], r["errors"]) for r in rows] == [
        ("eligibility", "business-name", "1", "{}"),
        ("business-details", "email", "1", '{"typeMismatch":2}'),
        ("business-details", "phone", "0", "{}"),
    ]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"from": "10/11/2026"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-11-10", "to": "2026-11-01"}, "to"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
        ({"breakdown": "colour"}, "breakdown"),
        ({"compare": "maybe"}, "compare"),
        ({"format": "xml"}, "format"),
        ({"format": "csv", "table": "everything"}, "table"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, api_key, journey, params, named):
    response = report_api(client, api_key, **params)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(f"Invalid request: {named} ")


def test_another_organizations_journey_is_404_and_a_missing_key_401(client, cli, api_key):
    cli("create-org", "other-org")
    cli("create-journey", "other-org", "their-journey")
    assert (
        client.get("/api/journeys/their-journey/report", headers=bearer(api_key)).status_code == 404
    )
    assert client.get(f"/api/journeys/{JOURNEY}/report").status_code == 401


def test_steps_are_set_by_the_management_api_and_order_the_funnel(client, api_key, scenario):
    response = client.put(
        f"/api/journeys/{JOURNEY}",
        headers=bearer(api_key),
        json={"steps": ["review", "eligibility"]},
    )
    assert response.status_code == 200
    assert response.get_json()["steps"] == ["review", "eligibility"]
    steps = report_api(client, api_key, **{"from": DAY, "to": DAY}).get_json()["steps"]
    assert [(s["stepKey"], s["configured"]) for s in steps] == [
        ("review", True),
        ("eligibility", True),
        ("business-details", False),
    ]


def test_without_configured_steps_the_order_is_where_sessions_reach_them(
    client, cli, api_key, scenario
):
    cli("set-steps", ORG, JOURNEY)
    steps = report_api(client, api_key, **{"from": DAY, "to": DAY}).get_json()["steps"]
    assert [(s["stepKey"], s["configured"]) for s in steps] == [
        ("eligibility", False),
        ("business-details", False),
        ("review", False),
    ]


def test_an_open_session_is_active_not_abandoned(client, api_key, journey):
    now = dt.datetime.now(dt.timezone.utc)
    batch = session(
        0,
        [
            (0, "session_start"),
            (1, "step_view", on("eligibility")),
            (2, "field_focus", on("eligibility", fieldKey="business-name")),
        ],
    )
    for offset, event in enumerate(batch["events"]):
        event["ts"] = (now + dt.timedelta(seconds=offset - 5)).isoformat()
    assert client.post("/api/ingest", json=batch, headers={"Origin": ORIGIN}).status_code == 204

    totals = report_api(client, api_key).get_json()["totals"]
    assert (totals["sessions"], totals["starters"], totals["active"], totals["abandons"]) == (
        1,
        1,
        1,
        0,
    )


def test_a_late_event_updates_its_session(client, api_key, scenario):
    late = session(11, [(90, "submit_success", on("eligibility"))])
    late["events"][0]["sessionId"] = ABANDONS_ON_BUSINESS_NAME["events"][0]["sessionId"]
    assert client.post("/api/ingest", json=late, headers={"Origin": ORIGIN}).status_code == 204

    totals = report_api(client, api_key, **{"from": DAY, "to": DAY}).get_json()["totals"]
    assert (totals["completions"], totals["abandons"]) == (2, 1)


def test_an_empty_range_reports_zeros(client, api_key, scenario):
    report = report_api(client, api_key, **{"from": "2026-10-01", "to": "2026-10-07"}).get_json()
    assert report["totals"]["sessions"] == 0
    assert report["totals"]["startRate"] is None
    assert [(s["stepKey"], s["sessions"], s["shareOfSessions"]) for s in report["steps"]] == [
        (step, 0, None) for step in STEPS
    ]
    assert report["fields"] == []
    assert [p["sessions"] for p in report["trend"]["points"]] == [0] * 7


def test_a_time_zone_ahead_of_utc_moves_a_session_to_the_next_day(make_app, cli, journey):
    app = make_app(JOURNEY_REPORT_TIMEZONE="Pacific/Auckland", JOURNEY_REPORT_MAX_STALENESS=0)
    client = app.test_client()
    late_evening = session(11, [(0, "session_start"), (1, "step_view", on("eligibility"))])
    assert (
        client.post("/api/ingest", json=late_evening, headers={"Origin": ORIGIN}).status_code == 204
    )
    key = app.test_cli_runner().invoke(args=["journey", "create-key", ORG]).output.split()[-1]

    report = report_api(client, key, **{"from": "2026-11-11", "to": "2026-11-11"}).get_json()
    assert report["timezone"] == "Pacific/Auckland"
    assert report["totals"]["sessions"] == 1  # 11:00 UTC is 00:00 the next day in Auckland
    assert [p["period"] for p in report["trend"]["points"] if p["sessions"]] == ["2026-11-11T00:00"]


def test_a_session_of_server_side_events_only_is_counted(client, api_key, journey):
    server = session(9, [(0, "submit_success")])
    assert client.post("/api/ingest", json=server).status_code == 204
    totals = report_api(client, api_key, **{"from": DAY, "to": DAY}).get_json()["totals"]
    assert (totals["sessions"], totals["starters"], totals["completions"]) == (1, 0, 1)


def test_reports_lag_by_at_most_the_staleness_and_refresh_catches_up(make_app, cli, journey):
    app = make_app(JOURNEY_REPORT_MAX_STALENESS=3600)
    client = app.test_client()
    key = app.test_cli_runner().invoke(args=["journey", "create-key", ORG]).output.split()[-1]
    assert report_api(client, key, **{"from": DAY, "to": DAY}).get_json()["totals"]["sessions"] == 0
    assert (
        client.post("/api/ingest", json=ONLY_VIEWS, headers={"Origin": ORIGIN}).status_code == 204
    )
    assert report_api(client, key, **{"from": DAY, "to": DAY}).get_json()["totals"]["sessions"] == 0

    result = app.test_cli_runner().invoke(args=["journey", "refresh"])
    assert result.exit_code == 0, result.output
    assert result.output == "Read 3 events; summarised 1 sessions.\n"
    assert report_api(client, key, **{"from": DAY, "to": DAY}).get_json()["totals"]["sessions"] == 1


def test_the_python_api_returns_the_same_report(app, scenario):
    with app.app_context():
        report = Journey().report(
            ORG, JOURNEY, start=dt.date(2026, 11, 10), end=dt.date(2026, 11, 10)
        )
    assert (report["totals"], report["steps"], report["fields"]) == (TOTALS, FUNNEL, FIELDS)


HOSTILE_QUERY_VALUES = (
    "",
    "%00",
    "a" * 5000,
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "-1",
    "NaN",
    "1e400",
    "%F0%9F%92%A5",
    "%ED%A0%80",
    "%FF",
    "[]",
    "{}",
    "2026-11-10%0A",
    "../../etc/passwd",
)
REPORT_PARAMETERS = (
    "from",
    "to",
    "compare",
    "breakdown",
    "device",
    "browser",
    "os",
    "language",
    "source",
    "format",
    "table",
)


@pytest.mark.parametrize("parameter", REPORT_PARAMETERS)
def test_hostile_report_parameters_get_a_200_or_a_400_in_the_api_shape(
    client, api_key, scenario, parameter
):
    for value in HOSTILE_QUERY_VALUES:
        response = client.get(
            f"/api/journeys/{JOURNEY}/report?{parameter}={value}", headers=bearer(api_key)
        )
        assert response.status_code in (200, 400), (parameter, value, response.status_code)
        if response.status_code == 400:
            assert response.get_json()["error"].startswith(f"Invalid request: {parameter} ")

"""Answers for real forms (docs/reports.md): a funnel that follows branches and optional steps,
and what follows a validation error, with the numbers written out."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from flask_journey import api

from .helpers import JOURNEY, ORG, ORIGIN

DAY = dt.date(2024, 1, 15)
START = dt.datetime(2024, 1, 15, 8, tzinfo=dt.timezone.utc)


def _event(number: int, seconds: float, tag: str, **props: Any) -> dict[str, Any]:
    moment = START + dt.timedelta(seconds=number * 40 + seconds)
    return {
        "_tag": tag,
        "id": f"e{number}-{seconds}-{tag}",
        "ts": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "sessionId": f"s{number}",
        "clientId": f"c{number}",
        "url": f"{ORIGIN}/apply",
        **props,
    }


def _store(app, sessions: list[list[dict[str, Any]]]) -> None:
    events = [event for session in sessions for event in session]
    with app.app_context():
        for start in range(0, len(events), 500):
            stored = api.store_events(ORG, JOURNEY, events[start : start + 500])
            assert stored.rejected == []


def _walk(number: int, steps: list[str], completes: bool) -> list[dict[str, Any]]:
    """A session that views ``steps`` ten seconds apart, touching a field on each, and completes
    or leaves (closed: idle since 2024)."""
    events = []
    for n, step in enumerate(steps):
        events.append(_event(number, n * 10, "step_view", stepKey=step))
        events.append(_event(number, n * 10 + 1, "field_focus", stepKey=step, fieldKey="f"))
    if completes:
        events.append(_event(number, len(steps) * 10, "submit_success", stepKey=steps[-1]))
    return events


def _branches() -> list[list[dict[str, Any]]]:
    """A → (B or C) → D, 1,000 sessions: 30 leave at A; 670 take B, of which 67 leave there;
    300 (30 %) take C, of which 150 leave there; of the 753 at D, 700 complete."""
    plan = (
        [(["A"], False)] * 30
        + [(["A", "B"], False)] * 67
        + [(["A", "B", "D"], False)] * 40
        + [(["A", "B", "D"], True)] * 563
        + [(["A", "C"], False)] * 150
        + [(["A", "C", "D"], False)] * 13
        + [(["A", "C", "D"], True)] * 137
    )
    return [_walk(number, steps, completes) for number, (steps, completes) in enumerate(plan)]


@pytest.fixture
def branched(app, cli, journey) -> None:
    cli("set-steps", ORG, JOURNEY, "A", "B", "C", "D")
    _store(app, _branches())


def _report(app) -> dict[str, Any]:
    with app.app_context():
        return api.report(ORG, JOURNEY, start=DAY, end=DAY, compare=False)


def test_a_branch_is_measured_against_the_sessions_that_came_to_it(app, branched):
    report = _report(app)
    steps = {row["stepKey"]: row for row in report["steps"]}

    assert [(s["stepKey"], s["sessions"], s["exits"]) for s in report["steps"]] == [
        ("A", 1000, 30),
        ("B", 670, 67),
        ("C", 300, 150),
        ("D", 753, 53),
    ]
    assert steps["C"]["exitRate"] == 150 / 300
    assert sum(s["exits"] for s in report["steps"]) == report["totals"]["abandons"] == 300
    assert steps["A"]["transitions"] == [
        {"to": "B", "sessions": 670},
        {"to": "C", "sessions": 300},
        {"to": "(exit)", "sessions": 30},
    ]
    assert steps["C"]["transitions"] == [
        {"to": "(exit)", "sessions": 150},
        {"to": "D", "sessions": 150},
    ]
    assert steps["D"]["transitions"] == [
        {"to": "(completed)", "sessions": 700},
        {"to": "(exit)", "sessions": 53},
    ]
    # C's sessions came from A, not from B, the row above it.
    assert (steps["C"]["previousStep"], steps["C"]["shareOfPrevious"]) == ("A", 0.3)
    assert (steps["D"]["previousStep"], steps["D"]["shareOfPrevious"]) == ("B", 0.9)


def test_the_previous_row_method_is_off_by_more_than_20_points_on_the_same_data(app, branched):
    steps = {row["stepKey"]: row for row in _report(app)["steps"]}
    previous_row_loss_after_b = 1 - steps["C"]["sessions"] / steps["B"]["sessions"]
    previous_row_exit_rate_of_c = 1 - steps["D"]["sessions"] / steps["C"]["sessions"]

    # Side by side: what the previous-row method says, and what the sessions did.
    assert (round(previous_row_loss_after_b, 4), steps["B"]["exitRate"]) == (0.5522, 0.1)
    assert (round(previous_row_exit_rate_of_c, 4), steps["C"]["exitRate"]) == (-1.51, 0.5)
    assert previous_row_loss_after_b - steps["B"]["exitRate"] > 0.2
    assert steps["C"]["exitRate"] - previous_row_exit_rate_of_c > 0.2


def test_a_step_after_optional_steps_is_measured_against_the_step_before_them(app, branched, cli):
    shown = json.loads(
        cli("set-steps", ORG, JOURNEY, "A", "B", "C", "D", "--optional", "B", "--optional", "C")
    )
    steps = {row["stepKey"]: row for row in _report(app)["steps"]}

    assert shown["optionalSteps"] == ["B", "C"]
    assert [steps[k]["optional"] for k in "ABCD"] == [False, True, True, False]
    assert (steps["D"]["previousStep"], steps["D"]["shareOfPrevious"]) == ("A", 0.753)
    assert [steps[k]["exits"] for k in "ABCD"] == [30, 67, 150, 53]


def test_the_cli_prints_exits_transitions_and_error_outcomes(branched, cli):
    text = cli("report", ORG, JOURNEY, "--from", "2024-01-15", "--to", "2024-01-15")
    steps_csv = cli(
        "report", ORG, JOURNEY, "--from", "2024-01-15", "--to", "2024-01-15", "--format", "csv"
    )

    assert "Exit rate" in text and "Transitions" in text and "Error outcomes" in text
    row_c = next(line for line in text.splitlines() if line.startswith("C "))
    assert row_c.split()[:8] == ["C", "300", "30.0%", "A", "30.0%", "150", "150", "50.0%"]
    assert "(completed) 700, (exit) 53" in text
    header, *rows = steps_csv.splitlines()
    assert header.split(",")[9:13] == ["dropoffReasons", "exits", "exitRate", "transitions"]
    assert rows[2].startswith("C,3,True,300,0.3,0.3,A,False,")


def test_optional_steps_are_set_through_the_management_api(client, api_key, cli):
    cli("set-steps", ORG, JOURNEY, "A", "B", "C")
    auth = {"Authorization": f"Bearer {api_key}"}

    ok = client.put(f"/api/journeys/{JOURNEY}", json={"optionalSteps": ["B"]}, headers=auth)
    wrong = client.put(f"/api/journeys/{JOURNEY}", json={"optionalSteps": ["Z"]}, headers=auth)
    kept = client.put(f"/api/journeys/{JOURNEY}", json={"steps": ["A", "B"]}, headers=auth)

    assert ok.status_code == 200
    assert (ok.json["steps"], ok.json["optionalSteps"]) == (["A", "B", "C"], ["B"])
    assert wrong.status_code == 400
    assert wrong.json == {"error": "Invalid request: optional step 'Z' is not one of the steps"}
    assert (kept.json["steps"], kept.json["optionalSteps"]) == (["A", "B"], ["B"])


def _email_error(number: int, error: str, fixed_after: float | None, then: str) -> list:
    """A session on "details" with an email error; the email changed ``fixed_after`` seconds
    later (or never); then it goes on to "review" and completes, or leaves."""
    events = [
        _event(number, 0, "step_view", stepKey="details"),
        _event(number, 1, "field_focus", stepKey="details", fieldKey="email"),
        _event(number, 2, "validation_error", stepKey="details", fieldKey="email", errorType=error),
    ]
    if fixed_after is not None:
        events.append(
            _event(number, 2 + fixed_after, "field_change", stepKey="details", fieldKey="email")
        )
    if then == "completes":
        events.append(_event(number, 30, "step_view", stepKey="review"))
        events.append(_event(number, 31, "submit_success", stepKey="review"))
    return events


def _clean(number: int, completes: bool) -> list:
    events = [
        _event(number, 0, "step_view", stepKey="details"),
        _event(number, 1, "field_change", stepKey="details", fieldKey="email"),
    ]
    if completes:
        events.append(_event(number, 5, "submit_success", stepKey="details"))
    return events


def test_error_outcomes_count_recoveries_and_abandons_beyond_the_error_free_rate(app, journey):
    sessions = (
        [_email_error(n, "typeMismatch", 4, "completes") for n in range(10)]
        + [_email_error(n, "typeMismatch", None, "leaves") for n in range(10, 15)]
        + [_email_error(n, "valueMissing", 6, "leaves") for n in range(15, 18)]
        + [_clean(n, completes=True) for n in range(18, 36)]
        + [_clean(n, completes=False) for n in range(36, 38)]
    )
    _store(app, sessions)

    # 2 of the 20 error-free sessions left: 10 % is what an error would explain by chance.
    assert _report(app)["errorOutcomes"] == [
        {
            "stepKey": "details",
            "fieldKey": "email",
            "errorType": "typeMismatch",
            "sessions": 15,
            "recovered": 10,
            "abandonedAfter": 5,
            "excessAbandons": 3.5,
            "medianSecondsToFix": 4.0,
        },
        {
            "stepKey": "details",
            "fieldKey": "email",
            "errorType": "valueMissing",
            "sessions": 3,
            "recovered": 0,
            "abandonedAfter": 3,
            "excessAbandons": 2.7,
            "medianSecondsToFix": 6.0,
        },
    ]


def _application_sessions(app, completing: int, of: int) -> list[list[dict[str, Any]]]:
    """``of`` applications of three sessions a day apart; ``completing`` of them complete in
    the third. Their keys come from the application ids, as a site makes them."""
    with app.app_context():
        keys = [api.application_key(f"grant-{n}") for n in range(of)]
    sessions = []
    for n, key in enumerate(keys):
        for visit in range(3):
            number = n * 3 + visit
            at = visit * 86400 - number * 40  # every application's visits: a day apart
            steps = [(0, "step_view", {}), (1, "field_focus", {"fieldKey": "f"})]
            if visit == 2 and n < completing:
                steps.append((30, "submit_success", {}))
            sessions.append(
                [
                    _event(
                        number, at + seconds, tag, applicationKey=key, stepKey="details", **extra
                    )
                    for seconds, tag, extra in steps
                ]
            )
    return sessions


def test_an_application_completed_in_its_third_visit_is_one_completion(app, journey):
    _store(app, _application_sessions(app, completing=92, of=100))
    with app.app_context():
        report = api.report(ORG, JOURNEY, start=DAY, end=DAY + dt.timedelta(days=5))

    assert report["totals"]["completionRate"] == round(92 / 300, 4) < 0.4
    assert report["applications"] == {
        "started": 100,
        "completed": 92,
        "saved": 0,
        "abandoned": 8,  # nothing since 2024: past JOURNEY_APPLICATION_IDLE_DAYS
        "completionRate": 0.92,
        "sessionsPerCompletion": 3.0,
        "daysToComplete": {"p50": 2.0, "p90": 2.0},
    }


def test_an_application_idle_for_less_than_the_idle_days_is_saved(make_app, cli, journey):
    app = make_app(JOURNEY_APPLICATION_IDLE_DAYS=100_000)
    _store(app, _application_sessions(app, completing=1, of=3))
    with app.app_context():
        report = api.report(ORG, JOURNEY, start=DAY, end=DAY + dt.timedelta(days=5))

    assert (report["applications"]["saved"], report["applications"]["abandoned"]) == (2, 0)


def test_a_session_without_an_application_is_an_application_of_one_session(app, branched):
    applications = _report(app)["applications"]

    assert (applications["started"], applications["completed"]) == (1000, 700)
    assert applications["sessionsPerCompletion"] == 1.0


def test_the_application_id_never_reaches_the_page_or_the_database(app, client, journey):
    with app.test_request_context():
        tag = str(app.jinja_env.globals["journey_embed"](ORG, JOURNEY, application="grant-7"))
        key = api.application_key("grant-7")
    batch = {
        "schemaVersion": 1,
        "context": {"orgKey": ORG, "journeyKey": JOURNEY, "applicationKey": "grant-7"},
        "events": [
            {
                "schemaVersion": 1,
                "orgKey": ORG,
                "journeyKey": JOURNEY,
                **_event(1, 0, "step_view", stepKey="d"),
            }
        ],
    }

    refused = client.post("/api/ingest", json=batch, headers={"Origin": ORIGIN})
    batch["context"]["applicationKey"] = key
    accepted = client.post("/api/ingest", json=batch, headers={"Origin": ORIGIN})

    assert f'data-application="{key}"' in tag and "grant-7" not in tag
    assert key.startswith("ak_") and len(key) == 35
    assert refused.status_code == 400
    assert refused.json == {
        "error": "Invalid request: applicationKey must be an application key (ak_ and "
        "32 hex digits, as journey_embed(application=...) and api.application_key make it)"
    }
    assert accepted.status_code == 204
    with app.app_context():
        exported = json.loads(app.test_cli_runner().invoke(args=["journey", "export"]).output)
    assert exported["properties"] == {"applicationKey": key}


def test_the_cli_prints_the_applications(app, journey, cli):
    _store(app, _application_sessions(app, completing=92, of=100))

    text = cli("report", ORG, JOURNEY, "--from", "2024-01-15", "--to", "2024-01-20")

    assert "Applications:     100 started, 92 completed (92.0%), 0 saved, 8 abandoned" in text
    assert "3.00 sessions per completion; days to complete: median 2.0, 90th percentile 2.0" in text


def test_completion_time_is_a_distribution_on_fixed_log_buckets(app, journey):
    durations = [5, 20, 45, 90, 200, 400, 1000, 3000, 5000, 100_000]
    sessions = [
        [
            _event(n * 100, 0, "step_view", stepKey="details"),
            _event(n * 100, seconds, "submit_success", stepKey="details"),
        ]
        for n, seconds in enumerate(durations)
    ]
    _store(app, sessions)
    with app.app_context():
        report = api.report(
            ORG, JOURNEY, start=DAY, end=DAY + dt.timedelta(days=7), breakdown="device"
        )
    times = report["completionTime"]

    # Nearest rank: the 3rd, 5th and 9th of ten.
    assert (times["sessions"]["count"], times["sessions"]["p25"]) == (10, 45.0)
    assert (times["sessions"]["p50"], times["sessions"]["p90"]) == (200.0, 5000.0)
    histogram = times["sessions"]["histogram"]
    assert [bucket["count"] for bucket in histogram] == [1] * 9 + [0, 0, 1, 0]
    assert [bucket["upToSeconds"] for bucket in times["sessions"]["histogram"]][-2:] == [
        604800,
        None,
    ]
    assert times["steps"] == [{"stepKey": "details", "p50": 200.0, "p90": 5000.0}]
    assert times["weeks"] == [{"week": "2024-01-15", "completions": 10, "p50": 200.0}]
    assert times["applications"]["p50"] == 200.0  # each session an application of its own
    assert report["breakdownValues"][0]["completionTime"]["sessions"]["p90"] == 5000.0


def test_an_application_takes_its_visits_to_complete(app, journey):
    _store(app, _application_sessions(app, completing=92, of=100))
    with app.app_context():
        times = api.report(ORG, JOURNEY, start=DAY, end=DAY + dt.timedelta(days=5))[
            "completionTime"
        ]

    assert (times["sessions"]["count"], times["sessions"]["p50"]) == (92, 30.0)
    two_days = 2 * 86400 + 30.0
    assert (times["applications"]["count"], times["applications"]["p90"]) == (92, two_days)
    assert times["applications"]["histogram"][11] == {"upToSeconds": 604800, "count": 92}


def test_the_cli_prints_completion_times(app, journey, cli):
    _store(app, _application_sessions(app, completing=92, of=100))

    text = cli("report", ORG, JOURNEY, "--from", "2024-01-15", "--to", "2024-01-20")

    assert "Completion:        92 sessions completed in: 25% within 30.0s, 50% within 30.0s" in text
    assert "Applications:      92 applications completed in: 25% within 172830.0s" in text


def test_the_new_numbers_are_csv_tables(app, journey, cli):
    _store(app, _application_sessions(app, completing=92, of=100))

    def table(name: str) -> list[str]:
        dates = ("--from", "2024-01-15", "--to", "2024-01-20")
        return cli("report", ORG, JOURNEY, *dates, "--format", "csv", "--table", name).splitlines()

    assert table("applications") == [
        "started,completed,saved,abandoned,completionRate,sessionsPerCompletion,"
        "daysToCompleteP50,daysToCompleteP90",
        "100,92,0,8,0.92,3.0,2.0,2.0",
    ]
    completion = table("completionTime")
    assert completion[0] == "of,upToSeconds,count,p25,p50,p90"
    assert "sessions,30,92,30.0,30.0,30.0" in completion
    assert "applications,604800,92,172830.0,172830.0,172830.0" in completion
    behaviour = table("behaviour")
    assert behaviour[0] == (
        "stepKey,fieldKey,measure,abandoners,completers,difference,pValue,test,significant"
    )
    assert behaviour[1].startswith("details,f,returnRate,0.0,0.0,0.0,")


def test_sessions_carrying_one_instance_id_are_one_application(app, journey):
    """A session naming no application key but carrying seed 002's instance id belongs to that
    instance's application: saved in one visit, completed in the next."""
    visits = [
        [
            _event(0, 0, "step_view", stepKey="details", instanceId="inst-42"),
            _event(0, 1, "field_focus", stepKey="details", fieldKey="f", instanceId="inst-42"),
        ],
        [
            _event(1, 3600, "step_view", stepKey="details", instanceId="inst-42"),
            _event(1, 3630, "submit_success", stepKey="details", instanceId="inst-42"),
        ],
        [_event(2, 0, "step_view", stepKey="details")],
    ]
    _store(app, visits)

    applications = _report(app)["applications"]

    assert (applications["started"], applications["completed"]) == (2, 1)
    assert applications["sessionsPerCompletion"] == 2.0

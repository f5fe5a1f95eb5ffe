"""The ``flask journey`` command group as an operator uses it."""

from __future__ import annotations

import json

import pytest

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, post


def fails(runner, *args: str) -> str:
    result = runner.invoke(args=["journey", *args])
    assert result.exit_code != 0
    return result.output


def test_init_db_is_safe_on_an_existing_database(cli, journey):
    cli("init-db")

    assert json.loads(cli("show", ORG, JOURNEY)) == journey


def test_show_prints_every_identifier(journey):
    assert journey["orgKey"] == ORG and journey["journeyKey"] == JOURNEY
    assert journey["publicKey"].startswith("pk_")
    assert isinstance(journey["accountId"], int) and isinstance(journey["trackerId"], int)
    assert journey["allowedOrigins"] == [ORIGIN]


def test_create_key_prints_the_secret_once_as_the_last_word(cli, journey):
    output = cli("create-key", ORG)

    assert output.split()[-1].startswith("sk_")


def test_keys_lists_lookups_and_status_never_the_secret(cli, journey):
    assert cli("keys", ORG) == "No keys.\n"
    first, second = (cli("create-key", ORG).split()[-1] for _ in range(2))
    cli("revoke-key", ORG, first.split("_")[1])

    listed = cli("keys", ORG)

    lines = [line.split() for line in listed.splitlines()]
    assert [(line[0], line[-2] if line[-2] == "revoked" else line[-1]) for line in lines] == [
        (first.split("_")[1], "revoked"),
        (second.split("_")[1], "active"),
    ]
    assert first not in listed and second not in listed


@pytest.mark.parametrize(
    "args, message",
    [
        (("keys", "nobody"), "organization 'nobody' not found"),
        (("create-journey", "nobody", "x"), "organization 'nobody' not found"),
        (("show", ORG, "nothing"), "journey 'nothing' not found in organization 'example-org'"),
        (("create-key", "nobody"), "organization 'nobody' not found"),
        (("create-org", ORG), "organization 'example-org' already exists"),
        (("create-org", "Bad Slug!"), "invalid organization slug"),
        (("create-journey", ORG, JOURNEY), "already exists"),
        (("set-origins", ORG, JOURNEY, "not-a-url"), "invalid origin"),
        (("create-org", "x", "--rate-limit", "lots"), "is not a rate limit"),
        (("export", "--org", "nobody"), "organization 'nobody' not found"),
        (("usage", "nobody"), "organization 'nobody' not found"),
        (("revoke-key", ORG, "abc"), "no active key"),
    ],
)
def test_errors_exit_non_zero_with_a_clear_message(runner, journey, args, message):
    assert message in fails(runner, *args)


def test_export_filters_by_organization_and_journey(client, cli, journey, exported):
    cli("create-journey", ORG, "renewal", "--allowed-origin", ORIGIN)
    post(client, batch(event()))
    post(client, batch(event(journeyKey="renewal"), journeyKey="renewal"))

    assert len(exported()) == 2
    assert [e["journey"] for e in exported("--org", ORG, "--journey", "renewal")] == ["renewal"]


def test_export_streams_in_chunks(client, journey, exported, monkeypatch):
    from flask_journey import api

    monkeypatch.setattr(api, "EXPORT_CHUNK", 2)
    post(client, batch(*(event("page_view", n) for n in range(5))))

    assert [e["event_id"] for e in exported()] == [f"evt_page_view_{n}" for n in range(5)]


def test_stats_counts_events_by_type_and_sessions(client, cli, journey):
    post(
        client,
        batch(
            event("page_view", 1),
            event("page_view", 2),
            event("step_view", 3, stepKey="eligibility", sessionId="sess_2"),
        ),
    )

    stats = json.loads(cli("stats"))

    assert stats == {
        f"{ORG}/{JOURNEY}": {
            "events": 3,
            "byType": {"page_view": 2, "step_view": 1},
            "sessions": 2,
            "folded": {
                "steps": 0,
                "fields": 0,
                "eventNames": 0,
                "customEvents": 0,
                "errorTypes": 0,
                "reasons": 0,
            },
        }
    }


def test_usage_prints_metered_counts(client, cli, journey):
    post(client, batch(event("page_view", 1), event("page_view", 2)))

    usage = json.loads(cli("usage", ORG))

    assert usage["org"] == ORG and usage["monthlyQuota"] is None
    assert list(usage["months"].values()) == [{"events": 2, "requests": 1}]


def test_quota_refuses_batches_past_it_and_stores_nothing(client, cli, exported):
    cli("create-org", ORG, "--quota", "3")
    cli("create-journey", ORG, JOURNEY)

    first = post(client, batch(event("page_view", 1), event("page_view", 2)))
    second = post(client, batch(event("page_view", 3), event("page_view", 4)))

    assert first.status_code == 204
    assert second.status_code == 429
    assert second.get_json() == {"error": "Monthly event quota exceeded for organization"}
    assert int(second.headers["Retry-After"]) > 0
    assert len(exported()) == 2

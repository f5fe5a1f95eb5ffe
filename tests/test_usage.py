"""Usage for the owner (seed 004: "usage is tracked for billing and quota purposes"): the
management API, the Python API and ``flask journey usage`` show the same numbers."""

from __future__ import annotations

import datetime as dt
import json

from flask_journey import api

from .helpers import JOURNEY, ORG, batch, event, post


def this_month() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")


def get_usage(client, key: str | None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get("/api/usage", headers=headers)


def test_the_owner_sees_this_months_events_against_the_quota_by_journey(
    client, cli, journey, api_key
):
    cli("create-journey", ORG, "renewal")
    cli("set-org", ORG, "--quota", "100")
    assert (
        post(client, batch(event("page_view", 1), event("step_view", 2, stepKey="a"))).status_code
        == 204
    )
    assert post(client, batch(event("page_view", 3))).status_code == 204

    response = get_usage(client, api_key)

    assert response.status_code == 200
    month = this_month()
    assert response.get_json() == {
        "org": ORG,
        "monthlyQuota": 100,
        "months": {month: {"events": 3, "requests": 2}},
        "thisMonth": {
            "period": month,
            "events": 3,
            "requests": 2,
            "quota": 100,
            "remaining": 97,
            "journeys": [
                {"journeyKey": JOURNEY, "events": 3, "requests": 2},
                {"journeyKey": "renewal", "events": 0, "requests": 0},
            ],
        },
    }
    assert json.loads(cli("usage", ORG)) == response.get_json()


def test_without_a_quota_nothing_remains_to_count(client, journey, api_key):
    thismonth = get_usage(client, api_key).get_json()["thisMonth"]

    assert (thismonth["quota"], thismonth["remaining"], thismonth["events"]) == (None, None, 0)


def test_usage_needs_the_organizations_secret_key(client, cli, journey, api_key):
    cli("create-org", "other-org")
    other_key = cli("create-key", "other-org").split()[-1]
    assert post(client, batch(event())).status_code == 204

    assert get_usage(client, None).status_code == 401
    assert get_usage(client, "sk_nope_wrong").status_code == 401
    other = get_usage(client, other_key).get_json()
    assert (other["org"], other["months"], other["thisMonth"]["journeys"]) == ("other-org", {}, [])


def test_the_python_api_returns_the_same(app, client, journey, api_key):
    assert post(client, batch(event())).status_code == 204

    with app.app_context():
        assert api.usage(ORG) == get_usage(client, api_key).get_json()

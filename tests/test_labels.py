"""Labels a site gives its step and field keys: set from the CLI, the management API or Python,
checked, kept (schema version 14), and shown on the dashboard instead of the keys."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from flask_journey import api

from .helpers import JOURNEY, ORG


@pytest.fixture
def config() -> dict[str, Any]:
    return {"SECRET_KEY": "labels-test-secret", "JOURNEY_REPORT_MAX_STALENESS": 0}


def _show(cli) -> dict[str, Any]:
    return json.loads(cli("show", ORG, JOURNEY))


def test_the_cli_sets_and_clears_labels(cli, journey):
    assert journey["labels"] == {}
    shown = json.loads(
        cli("set-labels", ORG, JOURNEY, "uk_based=Registered in the UK", "eligibility=Eligibility")
    )
    assert shown["labels"] == {"uk_based": "Registered in the UK", "eligibility": "Eligibility"}
    assert _show(cli)["labels"] == shown["labels"]
    assert json.loads(cli("set-labels", ORG, JOURNEY))["labels"] == {}


def test_the_cli_refuses_a_label_without_a_key(runner, journey):
    result = runner.invoke(args=["journey", "set-labels", ORG, JOURNEY, "no label here"])
    assert result.exit_code == 1
    assert "'no label here' is not KEY=LABEL" in result.output


def test_the_management_api_puts_labels_and_checks_them(client, api_key, cli):
    headers = {"Authorization": f"Bearer {api_key}"}
    put = client.put(
        f"/api/journeys/{JOURNEY}", headers=headers, json={"labels": {"email": "Contact email"}}
    )
    assert put.status_code == 200
    assert put.get_json()["labels"] == {"email": "Contact email"}
    assert _show(cli)["allowedOrigins"]  # not given: unchanged
    for bad in ({"email": ""}, {"": "Empty key"}, {"email": "x" * 101}, ["email"]):
        refused = client.put(f"/api/journeys/{JOURNEY}", headers=headers, json={"labels": bad})
        assert refused.status_code == 400, bad
        assert "label" in refused.get_json()["error"], refused.get_json()
    assert _show(cli)["labels"] == {"email": "Contact email"}


def test_the_python_api_checks_labels_before_changing_anything(app, cli, journey):
    with app.app_context():
        api.update_journey(ORG, JOURNEY, labels={"phone": "  Contact phone  "})
        with pytest.raises(api.TenantError, match="invalid label") as refused:
            api.update_journey(ORG, JOURNEY, steps=["a"], labels={"phone": " "})
    assert refused.value.argument == "labels"
    assert (_show(cli)["labels"], _show(cli)["steps"]) == ({"phone": "Contact phone"}, [])


def test_the_dashboard_shows_labels_with_the_key_in_the_tooltip(client, cli, journey):
    cli("set-steps", ORG, JOURNEY, "about-you", "contact", "done")
    cli("demo-data", ORG, JOURNEY, "--sessions", "40", "--days", "5")
    cli("set-labels", ORG, JOURNEY, "contact=Your contact details", "contact-2=E\u202email")
    key = cli("create-key", ORG).split()[-1]
    page = client.get("/journey/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/journey/sign-in", data={"csrf_token": token, "key": key})
    page = client.get(f"/journey/{ORG}/{JOURNEY}/").get_data(as_text=True)
    step = '<bdi class="labelled" title="contact">Your contact details</bdi>'
    assert f'<span class="step-name">2. {step}</span>' in page
    assert f'<th scope="row">{step}</th>' in page
    assert '<th scope="row"><bdi class="labelled" title="contact-2">E\\u202email</bdi>' in page
    assert '<th scope="row"><bdi>about-you</bdi></th>' in page  # no label: the key
    # Reports and their CSV keep the keys.
    csv = client.get(f"/journey/{ORG}/{JOURNEY}/report.csv?table=fields").get_data(as_text=True)
    assert "contact-2" in csv and "mail" not in csv

"""The example app's dashboard: filled with simulated visitors on first run, open to this
machine only, reached from the "Statistics" link."""

from __future__ import annotations

import datetime as dt
import json

from example_app import create_app

PAGE = "/journey/demo-org/small-business-grant/"
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def test_first_run_fills_the_journey_and_the_statistics_link_opens_its_dashboard(tmp_path):
    config = {
        "SECRET_KEY": "test",
        "DEMO_DATA_SESSIONS": 40,
        "JOURNEY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
    }
    app = create_app(config)
    client = app.test_client()
    assert f'href="{PAGE}">Statistics</a>' in client.get("/").get_data(as_text=True)
    page = client.get(PAGE, environ_base=LOCAL)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<th scope="row"><bdi>business-details</bdi></th>' in text
    assert '<th scope="row"><bdi>business-name</bdi></th>' in text  # the form's own field keys
    assert "password" not in text and "bank_account" not in text
    runner = app.test_cli_runner()
    today = dt.datetime.now(dt.timezone.utc).date()
    report = json.loads(
        runner.invoke(
            args=[
                "journey",
                "report",
                "demo-org",
                "small-business-grant",
                "--format",
                "json",
                "--from",
                str(today - dt.timedelta(days=61)),
                "--to",
                str(today),
            ]
        ).output
    )
    assert report["totals"]["sessions"] == 40  # spread over the last 60 days
    # A second start adds nothing: the journey has events.
    create_app(config)
    events = runner.invoke(args=["journey", "export"]).output.splitlines()
    assert len({json.loads(line)["session_id"] for line in events}) == 40


def test_only_requests_from_this_machine_see_the_demo_dashboard(tmp_path):
    app = create_app(
        {"SECRET_KEY": "test", "JOURNEY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    )
    client = app.test_client()
    assert client.get(PAGE, environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get(PAGE, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403
    # Built with a test_config, the app stores no simulated visitors unless asked to.
    assert "No data yet" in client.get(PAGE, environ_base=LOCAL).get_data(as_text=True)

"""What the dashboard's answer and section tests share (registered as a plugin in conftest.py):
the known journey (tests/known_journey.py) stored and an owner signed in to it, through Flask's
test client; and, for Chromium, a host site under its own strict Content-Security-Policy, its
sign-in and its screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response

from tests import known_journey
from tests.live import launch_chromium

ORG, JOURNEY = "acme", "known"
#: A host's strict policy: nothing but its own files, no script at all, no inline style.
HOST_CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; "
    "frame-ancestors 'self'"
)
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "dashboard"


@pytest.fixture
def known(app, cli) -> str:
    """The known journey stored; a secret key of its organization."""
    cli("init-db")
    known_journey.fill(app, ORG, JOURNEY)
    return cli("create-key", ORG).split()[-1]


@pytest.fixture
def owner(client, known):
    """A client signed in with the organization's key."""
    page = client.get("/journey/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/journey/sign-in", data={"csrf_token": token, "key": known}).status_code
    return client


@dataclass
class Site:
    """A host app served on a loopback port, and the secret key its owner signs in with."""

    app: Flask
    base: str
    key: str = ""

    def cli(self, *args: str) -> str:
        result = self.app.test_cli_runner().invoke(args=["journey", *args])
        assert result.exit_code == 0, result.output
        return result.output


def with_host_policy(app: Flask) -> None:
    """Send the host's own strict policy on every response, beside the dashboard's: both must
    hold."""

    @app.after_request
    def strict(response: Response) -> Response:
        response.headers.add("Content-Security-Policy", HOST_CSP)
        return response


def sign_in(page: Any, site: Site) -> None:
    """Sign in to the dashboard with the site's key, in Chromium."""
    page.goto(f"{site.base}/journey/sign-in")
    page.fill("#key", site.key)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{site.base}/journey/{ORG}/")


def shot(page: Any, name: str) -> None:
    """A full-page screenshot in test-artifacts/dashboard, to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser

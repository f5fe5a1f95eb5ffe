"""The vendor's own browser SDK for seed 001, unchanged, in a real browser.

``@outlit/browser`` 1.4.0 (Apache-2.0; it bundles ``@outlit/core`` 1.1.0) is fetched from the npm
registry when the tests run, checked against the integrity pinned here, and never committed.
Debian's Chromium loads it from a page, as a site would: the page either on another origin than
the flask-journey site named by ``data-api-host``, or on the site itself. A visitor lands with UTM
parameters, moves within the page (``pushState``), clicks twice within one millisecond, reaches a
stage before logging in, submits a signup form, is set as the user, reaches two more stages,
starts a trial and pays, books a meeting, and leaves. Every event the SDK sends must be stored,
with its session and user, and nothing the visitor typed but the keys the SDK's fields name.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import shutil
import sqlite3
import string
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, Response

from flask_journey import Journey

from .live import browser_context, launch_chromium, serve_wsgi

SDK = "@outlit/browser@1.4.0"
#: The registry's ``dist.integrity`` of that tarball.
SDK_INTEGRITY = (
    "sha512-"
    "CIcMrRWkeVa42uof33ugoQw6RGkDRtwUxUxF0Ih6hFLhgJU3I/d+fYC+bZHmzh3WMUSPQhjulRrA3cY9GouqPg=="
)
SDK_CORE = "1.1.0"
SECRET = "sdk-test-identity-secret"
ORG = "acme"
JOURNEY = "website"
DEADLINE_SECONDS = 20.0

EMAIL = "jane.doe@example.com"
INVITEE = "Jane Doe"
#: What the visitor types into the signup form.
TYPED = {
    "email": EMAIL,
    "name": INVITEE,
    "company": "Quokka Analytics Pty",
    "message": "please call me on my mobile after five",
    "password": "Sup3r-Secret-Pw!",
    "card": "4111 1111 1111 1111",
    "cc_number": "5500005555555559",
}

PAGE = """<!doctype html>
<html><head><title>Acme pricing</title>
<script>
  // A Cal.com embed, as far as the SDK sees one: it registers its booking callback here.
  window.Cal = function (action, options) { window.calBooked = options.callback; };
</script>
<script src="/sdk/outlit.global.js" data-public-key="$public_key"
        data-api-host="$api_host"></script>
</head><body>
<h1>Pricing</h1>
<form id="signup">
  <input type="email" name="email"> <input name="name"> <input name="company">
  <textarea name="message"></textarea> <input type="password" name="password">
  <input name="card"> <input name="cc_number"> <button type="submit">Sign up</button>
</form>
<script>
  document.getElementById("signup").addEventListener("submit", (e) => e.preventDefault());
</script>
</body></html>
"""


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    """The bytes of one file of a tarball."""
    member = archive.extractfile(name)
    assert member is not None, f"{name} is not a file of the package"
    return member.read()


def email_hash(value: str) -> str:
    return "eh_" + hmac.new(SECRET.encode(), value.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def sdk_script(tmp_path_factory) -> bytes:
    """The SDK's browser build (``dist/outlit.global.js``), fetched from the npm registry."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is missing: apt-get install npm")
    folder = tmp_path_factory.mktemp("sdk")
    result = subprocess.run(
        [npm, "pack", SDK, "--pack-destination", str(folder), "--json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    [packed] = json.loads(result.stdout)
    tarball = folder / packed["filename"]
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    assert f"sha512-{digest}" == SDK_INTEGRITY
    with tarfile.open(tarball) as archive:
        manifest = json.loads(_member(archive, "package/package.json"))
        script = _member(archive, "package/dist/outlit.global.js")
    assert manifest["dependencies"] == {"@outlit/core": SDK_CORE}
    return script


def _pages(script: bytes, page: dict[str, str]) -> Blueprint:
    """The site's page and the SDK it loads; ``page`` holds the values the page is filled with."""
    bp = Blueprint("pages", __name__)
    bp.add_url_rule(
        "/sdk/outlit.global.js", "sdk", lambda: Response(script, mimetype="text/javascript")
    )
    filled = string.Template(PAGE)
    for rule in ("/", "/pricing"):
        bp.add_url_rule(rule, rule, lambda: Response(filled.substitute(page), mimetype="text/html"))
    return bp


def _recording(app: Flask, answers: list[tuple[str, str, dict[str, str]]]) -> Callable:
    """``app``, noting the method, status and headers of every answer to the ingest route."""

    def middleware(environ: dict, start_response: Callable) -> Any:
        def noting(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            if environ["PATH_INFO"].startswith("/api/i/"):
                answers.append((environ["REQUEST_METHOD"], status, dict(headers)))
            return start_response(status, headers, *args)

        return app(environ, noting)

    return middleware


def _cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["journey", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _stored(app: Flask, count: int) -> list[dict[str, Any]]:
    """The stored events, once there are ``count`` of them (polled, with a deadline)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        events = [json.loads(line) for line in _cli(app, "export").splitlines()]
        if len(events) >= count or time.monotonic() > deadline:
            # Batches may be stored in any order; the sort is stable within one.
            return sorted(events, key=lambda e: e["occurred_at"])
        time.sleep(0.1)


def _visit(page: Any, url: str) -> dict[str, str]:
    """The scripted visit; returns the visitor and session ids the SDK kept in the browser."""
    page.clock.install()
    page.goto(
        url + "/?utm_source=newsletter&utm_campaign=spring&promo=SECRET-PROMO-77",
        referer="https://search.example/results?q=acme+pricing",
    )
    page.wait_for_function("window.outlit && window.outlit.isTrackingEnabled()")
    page.clock.run_for(1500)
    page.evaluate("history.pushState({}, '', '/pricing')")
    page.clock.run_for(100)
    # Two identical calls in one millisecond. The installed clock still follows the real one,
    # which a loaded machine moves between two calls: the time (the SDK's Date.now) is held for
    # them.
    page.evaluate("""() => {
        const now = Date.now.bind(Date), held = now();
        Date.now = () => held;
        try {
            outlit.track("plan_clicked", {plan: "pro", annual: true});
            outlit.track("plan_clicked", {plan: "pro", annual: true});
        } finally {
            Date.now = now;
        }
        outlit.user.activate({flow: "onboarding"});
    }""")
    for field, value in TYPED.items():
        page.fill(f"[name={field}]", value)
    page.click("button[type=submit]")
    page.evaluate(
        """([email, invitee]) => {
        outlit.setUser({email, userId: "usr_42", traits: {plan: "pro"}});
        outlit.user.engaged({feature: "reports"});  // the tenth event: the SDK sends them
    }""",
        [EMAIL, INVITEE],
    )
    page.clock.run_for(1)
    page.evaluate(
        """([email, invitee]) => {
        outlit.user.inactive();
        outlit.customer.trialing({customerId: "cus_7", domain: "quokka.example"});
        outlit.customer.paid({customerId: "cus_7", stripeCustomerId: "cus_Stripe7",
                              properties: {plan: "pro", seats: 3}});
        window.calBooked({detail: {data: {
            uid: "booking-1", title: `30 Minute Demo between Acme and ${invitee}`,
            startTime: "2026-03-15T10:00:00Z", endTime: "2026-03-15T10:30:00Z",
        }}});
    }""",
        [EMAIL, INVITEE],
    )
    page.clock.run_for(5000)
    ids = page.evaluate("""() => ({
        visitor: localStorage.getItem("outlit_visitor_id"),
        session: sessionStorage.getItem("outlit_session_id"),
    })""")
    page.goto("about:blank")
    return ids


#: What the visit stores, in order: (type, name, path, user).
STORY = [
    ("pageview", None, "/", "usr_42"),
    ("engagement", None, "/", "usr_42"),
    ("pageview", None, "/pricing", "usr_42"),
    ("custom", "plan_clicked", "/pricing", "usr_42"),
    ("custom", "plan_clicked", "/pricing", "usr_42"),
    ("stage", "activated", "/pricing", "usr_42"),
    ("identify", None, "/pricing", email_hash(EMAIL)),
    ("form", "signup", "/pricing", "usr_42"),
    ("identify", None, "/pricing", "usr_42"),
    ("stage", "engaged", "/pricing", "usr_42"),
    ("stage", "inactive", "/pricing", "usr_42"),
    ("billing", "trialing", "/pricing", "usr_42"),
    ("billing", "paid", "/pricing", "usr_42"),
    ("calendar", None, "/pricing", "usr_42"),
    ("engagement", None, "/pricing", "usr_42"),
]


@pytest.fixture(scope="module", params=("cross-origin", "same-origin"))
def visit(request, sdk_script, tmp_path_factory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp(request.param)
    site = Flask("site", instance_path=str(folder / "instance"))
    site.config.update(
        JOURNEY_DATABASE_URL=f"sqlite:///{folder / 'journey.sqlite3'}",
        JOURNEY_IDENTITY_SECRET=SECRET,
    )
    Journey(site)
    page_config: dict[str, str] = {}
    site.register_blueprint(_pages(sdk_script, page_config))
    elsewhere = Flask("elsewhere")
    elsewhere.register_blueprint(_pages(sdk_script, page_config))
    _cli(site, "init-db")
    _cli(site, "create-org", ORG)
    answers: list[tuple[str, str, dict[str, str]]] = []
    with (
        serve_wsgi(_recording(site, answers)) as site_origin,
        serve_wsgi(elsewhere) as other_origin,
    ):
        page_origin = other_origin if request.param == "cross-origin" else site_origin
        _cli(site, "create-journey", ORG, JOURNEY, "--allowed-origin", page_origin)
        public_key = json.loads(_cli(site, "show", ORG, JOURNEY))["publicKey"]
        page_config.update(public_key=public_key, api_host=site_origin)
        with launch_chromium() as browser, browser_context(browser) as context:
            ids = _visit(context.new_page(), page_origin)
            events = _stored(site, len(STORY))
        dump = "\n".join(_sqlite_dump(folder / "journey.sqlite3"))
        yield {
            "events": events,
            "ids": ids,
            "answers": answers,
            "page_origin": page_origin,
            "site_origin": site_origin,
            "stored_text": _cli(site, "export") + dump,
        }


def _sqlite_dump(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return list(connection.iterdump())


def test_every_event_the_sdk_sends_is_stored_in_order(visit):
    stored = [(e["type"], e["name"], e["path"], e["user_id"]) for e in visit["events"]]
    assert stored == STORY


def test_every_event_has_the_sdks_session_and_visitor(visit):
    assert visit["ids"]["session"] and visit["ids"]["visitor"]
    assert {e["session_id"] for e in visit["events"]} == {visit["ids"]["session"]}
    assert {e["client_id"] for e in visit["events"]} == {visit["ids"]["visitor"]}
    assert {e["source"] for e in visit["events"]} == {"client"}
    assert {e["wire_format"] for e in visit["events"]} == {"typed"}


def test_every_answer_lets_the_page_read_it(visit):
    methods = [method for method, _, _ in visit["answers"]]
    assert methods.count("POST") == 3
    if visit["page_origin"] != visit["site_origin"]:
        assert "OPTIONS" in methods  # the SDK's application/json beacon needs a preflight
    for method, status, headers in visit["answers"]:
        assert status == "200 OK"
        if visit["page_origin"] != visit["site_origin"] or method == "POST":
            assert headers["Access-Control-Allow-Origin"] == visit["page_origin"]
            assert headers["Access-Control-Allow-Credentials"] == "true"
            assert "Origin" in headers["Vary"]


def test_what_each_event_keeps(visit):
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in visit["events"]:
        by_type.setdefault(event["type"], []).append(event)
    landing, pricing = by_type["pageview"]
    assert landing["url"] == (
        visit["page_origin"] + "/?utm_source=newsletter&utm_campaign=spring&promo="
    )
    assert landing["referrer"] == "https://search.example/results?q="
    assert landing["title"] == pricing["title"] == "Acme pricing"
    assert landing["properties"] == {"utm": {"source": "newsletter", "campaign": "spring"}}
    for engagement in by_type["engagement"]:
        props = engagement["properties"]
        assert props["totalTimeMs"] >= props["activeTimeMs"] > 0
    first, second = by_type["custom"]
    assert first["properties"] == second["properties"] == {"plan": "pro", "annual": True}
    assert first["event_id"] != second["event_id"]
    assert first["occurred_at"] == second["occurred_at"]
    assert [e["properties"] for e in by_type["stage"]] == [
        {"flow": "onboarding"},
        {"feature": "reports"},
        None,
    ]
    [form] = by_type["form"]
    assert form["properties"] == {"fields": ["email", "name", "company", "message"]}
    auto, login = by_type["identify"]
    assert auto["properties"] is None  # the traits the SDK took from the form name the visitor
    assert login["properties"] == {"traits": {"plan": "pro"}, "email": email_hash(EMAIL)}
    trialing, paid = by_type["billing"]
    assert trialing["properties"] == {"customerId": "cus_7", "domain": "quokka.example"}
    assert paid["properties"] == {
        "customerId": "cus_7",
        "stripeCustomerId": "cus_Stripe7",
        "plan": "pro",
        "seats": 3,
    }
    [booking] = by_type["calendar"]
    assert booking["properties"] == {
        "provider": "cal.com",
        "eventType": "30 Minute Demo",
        "duration": 30,
        "startTime": "2026-03-15T10:00:00+00:00",
        "endTime": "2026-03-15T10:30:00+00:00",
    }


def test_nothing_typed_and_no_raw_email_or_name_is_stored(visit):
    text = visit["stored_text"]
    for value in (*TYPED.values(), "SECRET-PROMO-77", "acme+pricing", "4111111111111111"):
        assert value not in text
    assert "jane" not in text.lower()

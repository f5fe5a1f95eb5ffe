"""The example app served for real, and Chromium to visit it: what the browser tests share.

:func:`serve_demo` serves ``example_app`` with werkzeug on a free loopback port and a temporary
SQLite database, allows that origin on the demo journey (``flask journey set-origins``, as an
operator would), and records the body of every request that reaches ``/api/ingest``.
:func:`launch_chromium` starts Debian's Chromium headless (never a downloaded browser);
:func:`visitor` is a browser whose pages must stay on their host without console errors, and
:func:`axe_source` is axe-core for the accessibility checks.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from example_app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: How long a test waits for the events it expects to be stored.
DEADLINE_SECONDS = 20.0
#: axe-core is fetched from the npm registry into this cache, outside the repository.
AXE_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "flask-journey"
AXE_VERSION = "4"
ORG = "demo-org"
JOURNEY = "small-business-grant"


@dataclass
class Live:
    """The example app listening on ``origin``."""

    app: Flask
    origin: str
    #: The body of every request to /api/ingest the server received, in arrival order.
    bodies: list[str] = field(default_factory=list)
    #: How many of the next ingest requests are stored but answered 503, as if the answer
    #: had been lost on the way back.
    fail_after_storing: int = 0

    def url(self, path: str) -> str:
        return self.origin + path

    def cli(self, *args: str) -> str:
        result = self.app.test_cli_runner().invoke(args=["journey", *args])
        assert result.exit_code == 0, result.output
        return result.output

    def events(self) -> list[dict[str, Any]]:
        """Every stored event, through ``flask journey export``."""
        return [json.loads(line) for line in self.cli("export").splitlines()]


def _recording(live: Live) -> Callable:
    def middleware(environ: dict, start_response: Callable) -> Any:
        if environ["PATH_INFO"] != "/api/ingest" or environ["REQUEST_METHOD"] != "POST":
            return live.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        live.bodies.append(body.decode("utf-8", "replace"))
        environ["wsgi.input"] = io.BytesIO(body)
        if not live.fail_after_storing:
            return live.app(environ, start_response)
        live.fail_after_storing -= 1
        with contextlib.closing(live.app(environ, lambda *args: None)) as stored:  # type: ignore
            b"".join(stored)
        start_response("503 SERVICE UNAVAILABLE", [("Content-Type", "application/json")])
        return [b'{"error": "Storage unavailable"}']

    return middleware


@contextlib.contextmanager
def serve_demo(folder: Path, **config: Any) -> Iterator[Live]:
    """Serve the example app from a thread until the block ends."""
    app = create_app(
        {
            "SECRET_KEY": "test",
            "JOURNEY_DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}",
            **config,
        }
    )
    live = Live(app, "")
    with serve_wsgi(_recording(live)) as base:
        live.origin = base
        live.cli("set-origins", ORG, JOURNEY, live.origin)
        yield live


@contextlib.contextmanager
def serve_wsgi(app: Callable) -> Iterator[str]:
    """Serve a WSGI app on a free loopback port from a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@contextlib.contextmanager
def launch_chromium() -> Iterator[Any]:
    """Debian's Chromium, headless; the test is skipped if it is not installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def browser_context(browser: Any, **options: Any) -> Iterator[Any]:
    """A fresh visitor (own storage); a script error in any of its pages fails the test."""
    errors: list[str] = []
    context = browser.new_context(**options)
    context.on("page", lambda page: page.on("pageerror", lambda exc: errors.append(str(exc))))
    try:
        yield context
    finally:
        context.close()
    assert not errors, f"script errors in the page: {errors}"


def wait_for(live: Live, condition: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The stored events, once ``condition`` holds for them (polled, with a deadline)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        events = live.events()
        if condition(events):
            return events
        if time.monotonic() > deadline:
            pytest.fail(f"stored events never met the condition; stored: {events}")
        time.sleep(0.1)


def axe_source() -> str:
    """axe-core's browser build, installed with Debian's npm on first use."""
    script = AXE_CACHE / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is missing: apt-get install npm (to fetch axe-core)")
        subprocess.run(
            [
                npm,
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(script.parents[2]),
                f"axe-core@{AXE_VERSION}",
            ],
            check=True,
            timeout=300,
        )
    return script.read_text()


@contextlib.contextmanager
def visitor(chromium: Any, site: Any, **options: Any) -> Iterator[Any]:
    """A fresh browser whose pages must log no console error or warning (CSP violations are
    logged as errors), load every asset, and request nothing from another host than the
    dashboard's. Pages answered 4xx on purpose log "Failed to load resource": not counted."""
    console: list[str] = []
    elsewhere: list[str] = []
    failed: list[str] = []

    def log(message: Any) -> None:
        if message.type in ("error", "warning") and not (
            message.text.startswith("Failed to load resource")
        ):
            console.append(f"{message.type}: {message.text}")

    def answered(response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            failed.append(f"{response.status} {response.url}")

    with browser_context(chromium, **options) as context:

        def watch(page: Any) -> None:
            page.on("console", log)
            page.on("response", answered)
            page.on(
                "request",
                lambda r: elsewhere.append(r.url) if not r.url.startswith(site.base) else None,
            )

        context.on("page", watch)
        yield context
    assert not console, console
    assert not failed, failed
    assert not elsewhere, elsewhere

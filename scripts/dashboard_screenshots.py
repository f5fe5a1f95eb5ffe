"""Take the dashboard screenshots in docs/images/ from Debian's Chromium.

    python3 scripts/dashboard_screenshots.py

Builds a throwaway app in a temporary folder, fills a journey with simulated visitors of the
example app's form (its steps, fields, labels, errors and pages), serves it on a loopback port and
photographs each page at 1280 and 390 px wide (Playwright, /usr/bin/chromium).
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from flask import Flask
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from example_app import DEMO_PAGES, demo_fields, demo_labels  # noqa: E402
from flask_journey import Journey, api  # noqa: E402

OUT = ROOT / "docs" / "images"
ORG, JOURNEY = "acme", "grant-application"
STEPS = tuple(DEMO_PAGES)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="journey-shots-") as folder:
        take(Path(folder))


def take(folder: Path) -> None:
    """Fill an app whose files live in ``folder`` and photograph its pages."""
    app = Flask("screenshots", instance_path=str(folder))
    app.config.update(SECRET_KEY="screenshots", JOURNEY_DATABASE_URL=f"sqlite:///{folder}/j.db")
    Journey(app)
    runner = app.test_cli_runner()

    def cli(*args: str) -> str:
        result = runner.invoke(args=["journey", *args])
        assert result.exit_code == 0, result.output
        return result.output

    cli("init-db")
    cli("create-org", ORG)
    cli("create-journey", ORG, JOURNEY, "--allowed-origin", "https://grants.example.com")
    cli("create-journey", ORG, "newsletter", "--allowed-origin", "https://grants.example.com")
    cli("set-steps", ORG, JOURNEY, *STEPS)
    with app.app_context():
        api.update_journey(ORG, JOURNEY, labels=demo_labels())
        api.demo_data(
            ORG,
            JOURNEY,
            sessions=900,
            days=60,
            fields=demo_fields(),
            pages=DEMO_PAGES,
            base_url="https://grants.example.com",
        )
    cli("demo-data", ORG, "newsletter", "--sessions", "300", "--days", "60", "--seed", "3")
    key = cli("create-key", ORG).split()[-1]
    shared = cli("share", ORG, JOURNEY, "--expires", "30d").strip()
    old = cli("share", ORG, JOURNEY, "--expires", "7d").strip()
    cli("share", ORG, JOURNEY, "--expires", "90d")
    cli("revoke-share", ORG, JOURNEY, old.rstrip("/").rsplit("/", 1)[1].split(".")[0])

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/journey"
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/sign-in")
        page.screenshot(path=str(OUT / "dashboard-sign-in.png"))
        page.fill("#key", key)
        page.click("form.stack button[type=submit]")
        page.wait_for_url(f"{base}/{ORG}/")
        page.screenshot(path=str(OUT / "dashboard-journeys.png"))
        page.goto(f"{base}/{ORG}/{JOURNEY}/")
        page.screenshot(path=str(OUT / "dashboard-journey.png"), full_page=True)
        # The sections a report with the numbers of real forms has (docs/dashboard.md).
        for section in ("applications", "error-outcomes", "completion-time"):
            if page.locator(f"#{section}").count():
                page.locator(f"#{section}").screenshot(path=str(OUT / f"dashboard-{section}.png"))
        page.goto(f"{base}/{ORG}/{JOURNEY}/?breakdown=device&range=90")
        page.locator("#breakdown-title").scroll_into_view_if_needed()
        page.locator("section[aria-labelledby=breakdown-title]").screenshot(
            path=str(OUT / "dashboard-breakdown.png")
        )
        page.goto(f"{base}/{ORG}/{JOURNEY}/shares/")
        page.screenshot(path=str(OUT / "dashboard-share-links.png"))
        # A share link's viewer: another browser, not signed in.
        viewer = browser.new_page(viewport={"width": 1280, "height": 900})
        viewer.goto(shared.replace("http://localhost:5000/journey", base))
        viewer.locator("#funnel").screenshot(path=str(OUT / "dashboard-shared-funnel.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{base}/{ORG}/{JOURNEY}/")
        page.screenshot(path=str(OUT / "dashboard-phone.png"))
        for section in ("funnel", "fields", "trend"):
            page.locator(f"#{section}").screenshot(path=str(OUT / f"dashboard-phone-{section}.png"))
        page.goto(f"{base}/{ORG}/")
        page.screenshot(path=str(OUT / "dashboard-phone-journeys.png"))
        browser.close()
    server.shutdown()
    for path in sorted(OUT.glob("dashboard-*.png")):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()

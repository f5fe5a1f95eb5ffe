"""The dashboard's journey page at 1M events: ``python -m benchmarks.dashboard [--events N]``.

Builds a journey of the embed script's shape (about 40 events a session: 4 steps of 5 fields,
focus/change/blur, some errors and returns, drop-offs) over 90 days, written with multi-row
INSERTs straight into ``journey_event`` on SQLite; then ``flask journey refresh`` builds the
summaries, and the journey page is rendered through the test client: the first time and warm
(median of 5), as it comes, with a filter, and with a breakdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from flask import Flask

from flask_journey import Journey, reports, tenants

ORG, JOURNEY = "bench", "signup"
STEPS = ("about-you", "contact", "payment", "review")
FIELDS = 5
DAYS = 90
COLUMNS = (
    "journey_id",
    "event_id",
    "wire_format",
    "type",
    "occurred_at",
    "received_at",
    "session_id",
    "step_key",
    "field_key",
    "error_type",
    "device_class",
    "browser",
    "os",
    "language",
    "url",
)
ROWS_PER_INSERT = 500
DEVICES = (
    ("desktop", "Chrome", "Windows"),
    ("mobile", "Mobile Safari", "iOS"),
    ("mobile", "Chrome Mobile", "Android"),
    ("desktop", "Firefox", "Linux"),
)
LANGUAGES = ("en-GB", "en-US", "fr-FR", "de-DE")


def _session(rng: random.Random, journey_id: int, number: int, start: dt.datetime) -> list[tuple]:
    device, browser, os_ = rng.choice(DEVICES)
    language = rng.choice(LANGUAGES)
    session = f"s{number:08d}"
    rows: list[tuple] = []
    clock = start

    def add(
        kind: str, step: str | None = None, field: str | None = None, error: str | None = None
    ) -> None:
        nonlocal clock
        clock += dt.timedelta(seconds=rng.uniform(0.5, 6))
        stamp = clock.isoformat(" ", "microseconds")
        rows.append(
            (
                journey_id,
                f"{session}-{len(rows)}",
                "embed",
                kind,
                stamp,
                stamp,
                session,
                step,
                field,
                error,
                device,
                browser,
                os_,
                language,
                f"https://bench.example/{step or ''}",
            )
        )

    add("session_start")
    add("page_view")
    for step in STEPS:
        add("step_view", step)
        for position in range(FIELDS):
            name = f"{step}-{position}"
            add("field_focus", step, name)
            add("field_change", step, name)
            add("field_blur", step, name)
        if rng.random() < 0.15:  # an error on the first field, and a return to it
            add("validation_error", step, f"{step}-0", "valueMissing")
            add("field_focus", step, f"{step}-0")
            add("field_blur", step, f"{step}-0")
        if rng.random() < 0.12:
            add("dropoff_signal", step)
            return rows
        add("submit_attempt", step)
    add("submit_success", STEPS[-1])
    add("session_end")
    return rows


def build(app: Flask, events: int) -> int:
    """Write about ``events`` events into the app's database; return how many were written."""
    state = app.extensions["journey"]
    tenant = tenants.by_slugs(ORG, JOURNEY, state.tenants)
    database = state.database
    rng = random.Random(7)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    placeholders = "(" + ", ".join("?" * len(COLUMNS)) + ")"
    written, number = 0, 0
    batch: list[tuple[object, ...]] = []

    def flush() -> None:
        sql = f"INSERT INTO journey_event ({', '.join(COLUMNS)}) VALUES " + ", ".join(
            [placeholders] * len(batch)
        )
        database.execute_sql(sql, [value for row in batch for value in row])

    with database.atomic():
        while written < events:
            start = now - dt.timedelta(days=rng.uniform(0, DAYS))
            rows = _session(rng, tenant.journey.id, number, start)
            number += 1
            for row in rows:
                batch.append(row)
                if len(batch) == ROWS_PER_INSERT:
                    flush()
                    batch = []
            written += len(rows)
        if batch:
            flush()
    return written


def _time(client, path: str, rounds: int = 5) -> tuple[float, float, int]:
    started = time.perf_counter()
    response = client.get(path)
    first = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    warm = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path)
        warm.append(time.perf_counter() - started)
    return first, statistics.median(warm), len(response.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="journey-dashboard-bench-"))
    app = Flask("bench", instance_path=str(folder))
    app.config.update(
        SECRET_KEY="bench",
        JOURNEY_DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}",
        JOURNEY_REPORT_MAX_STALENESS=3600,
        JOURNEY_SQLITE_SYNCHRONOUS="NORMAL",
        JOURNEY_RATELIMIT_ENABLED=False,
    )
    journey = Journey(app)
    journey.dashboard_access(lambda org: True)
    runner = app.test_cli_runner()
    for command in (
        ["init-db"],
        ["create-org", ORG],
        ["create-journey", ORG, JOURNEY],
        ["set-steps", ORG, JOURNEY, *STEPS],
    ):
        result = runner.invoke(args=["journey", *command])
        assert result.exit_code == 0, result.output
    started = time.perf_counter()
    with app.app_context():
        written = build(app, args.events)
    print(
        f"events written: {written:,} in {time.perf_counter() - started:.1f} s "
        f"(multi-row INSERTs into journey_event)"
    )
    started = time.perf_counter()
    result = runner.invoke(args=["journey", "refresh"])
    assert result.exit_code == 0, result.output
    print(f"flask journey refresh: {time.perf_counter() - started:.1f} s")
    with app.app_context():
        state = app.extensions["journey"]
        target = tenants.get_journey(tenants.get_org(ORG), JOURNEY)
        reports.report(state.database, target, state.settings)
        spent = []
        for _ in range(5):
            started = time.perf_counter()
            reports.report(state.database, target, state.settings)
            spent.append(time.perf_counter() - started)
    print(
        f"the report alone (journey.report, 30 days, compare): "
        f"{statistics.median(spent) * 1000:.0f}ms warm"
    )
    client = app.test_client()
    page = f"/journey/{ORG}/{JOURNEY}/"
    print(f"{'journey page (30 days, compare on)':<44}{'first':>9}{'warm':>9}{'HTML':>10}")
    for label, query in (
        ("as it comes", ""),
        ("filtered: device=mobile", "?device=mobile"),
        ("broken down by browser", "?breakdown=browser"),
        ("90 days", "?range=90"),
    ):
        first, warm, size = _time(client, page + query)
        print(f"  {label:<42}{first * 1000:>7.0f}ms{warm * 1000:>7.0f}ms{size / 1024:>8.0f}KB")
    first, warm, size = _time(client, f"/journey/{ORG}/")
    print(
        f"  {'organization page':<42}{first * 1000:>7.0f}ms{warm * 1000:>7.0f}ms"
        f"{size / 1024:>8.0f}KB"
    )
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()

"""The journey page after junk keys: ``python -m benchmarks.vocabulary [--junk N] [--events N]``.

Builds the dashboard benchmark's journey (:mod:`benchmarks.dashboard`, about 40 events a
session), then adds ``--junk`` made-up step keys (step views, 500 a session) and as many made-up
field keys (field focuses on a configured step), as a stranger who forges the allowed origin can
send them; refreshes the summaries and renders the journey page as it comes and broken down by
device: the first time and warm (median of ``--rounds``), with the size of the HTML.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

from flask import Flask
from peewee import Database

from flask_journey import Journey, tenants

from .dashboard import COLUMNS, JOURNEY, ORG, ROWS_PER_INSERT, STEPS, _time, build

#: Junk events a session.
PER_SESSION = 500


def junk(database: Database, journey_id: int, step: str, count: int) -> int:
    """Write ``count`` junk step keys and ``count`` junk field keys (on ``step``) into the
    journey, in sessions of the last hours; return the events written."""
    start = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=3)
    rows = []
    for kind in ("step_view", "field_focus"):
        for n in range(count):
            stamp = (start + dt.timedelta(milliseconds=n)).isoformat(" ", "microseconds")
            session = f"junk-{kind}-{n // PER_SESSION}"
            pair = (f"junk-step-{n}", None) if kind == "step_view" else (step, f"j{n}")
            device = ("desktop", "mobile", "tablet")[n // PER_SESSION % 3]
            row = (journey_id, f"{session}-{n}", "journey", kind, stamp, stamp, session, *pair)
            rows.append((*row, None, device, None, None, None, "https://bench.example/"))
    placeholders = "(" + ", ".join([database.param] * len(COLUMNS)) + ")"
    with database.atomic():
        for first in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[first : first + ROWS_PER_INSERT]
            database.execute_sql(
                f"INSERT INTO journey_event ({', '.join(COLUMNS)}) VALUES "
                + ", ".join([placeholders] * len(chunk)),
                [value for row in chunk for value in row],
            )
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junk", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="journey-vocabulary-bench-"))
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
    with app.app_context():
        written = build(app, args.events)
        journey_id = tenants.by_slugs(ORG, JOURNEY, app.extensions["journey"].tenants).journey.id
        added = junk(app.extensions["journey"].database, journey_id, STEPS[1], args.junk)
    print(f"events: {written:,} of genuine sessions, {added:,} junk ({args.junk:,} of each kind)")
    started = time.perf_counter()
    result = runner.invoke(args=["journey", "refresh"])
    assert result.exit_code == 0, result.output
    print(f"flask journey refresh: {time.perf_counter() - started:.1f} s")
    client = app.test_client()
    page = f"/journey/{ORG}/{JOURNEY}/"
    print(f"{'journey page (30 days, compare on)':<44}{'first':>9}{'warm':>9}{'HTML':>10}")
    for label, query in (("as it comes", ""), ("broken down by device", "?breakdown=device")):
        first, warm, size = _time(client, page + query, args.rounds)
        print(f"  {label:<42}{first * 1000:>7.0f}ms{warm * 1000:>7.0f}ms{size / 1024:>8.0f}KB")
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()

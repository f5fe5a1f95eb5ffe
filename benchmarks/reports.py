"""``python -m benchmarks.reports [--full]``: what a report costs as the events table grows.

On SQLite and on a throwaway PostgreSQL, a journey is filled, with multi-row INSERTs straight
into ``journey_event``, with sessions shaped like the embed script's traffic (about 40 events a
session: 4 steps of 5 fields, returns, validation errors, drop-offs; several devices, browsers,
languages and traffic sources). Then, for the full report (totals, steps, fields, a breakdown by
device and the previous period) of a 30-day window:

- its warm time from the summaries, against the reference computation from raw events
  (:mod:`flask_journey.reports.reference`) on the same data, and whether the two are equal;
- how that time grows when older events are added outside the window (100k, 1M, and with
  ``--full`` 10M events in the journey, the window's events unchanged);
- the time of a refresh after 10k new events, on top of 1M and (``--full``) 10M;
- with ``--full``, the ratio with 1M events all inside the report's range (its 30 days and
  the previous 30), in a journey of its own.

On PostgreSQL each fill is followed by ``VACUUM ANALYZE``, as autovacuum would soon do.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from peewee import Database

from flask_journey import api
from flask_journey.db import is_sqlite, using
from flask_journey.models import Journey, utcnow
from flask_journey.reports.compute import compute
from flask_journey.reports.query import Query
from flask_journey.reports.reference import compute as reference
from flask_journey.reports.reference import differences
from flask_journey.reports.refresh import refresh
from flask_journey.store import COLUMNS, FIELDS, _insert_sql
from scripts import servers

from . import report
from .__main__ import prepare
from .app import create_app

#: The last day of the report's 30-day window; the previous period is the 30 days before it.
END = dt.date(2026, 11, 30)
START = END - dt.timedelta(days=29)
PREVIOUS_START = START - dt.timedelta(days=30)
#: When the reports are computed: the window's last sessions are still open.
NOW = dt.datetime.combine(END, dt.time(23, 0))
STEPS = ("eligibility", "business-details", "finances", "review")
FIELDS_BY_STEP = {
    "eligibility": ("country", "business-type", "employees", "founded", "turnover"),
    "business-details": ("business-name", "ein", "address", "zip", "website"),
    "finances": ("annual-revenue", "grant-amount", "bank", "iban", "purpose"),
    "review": ("contact-name", "contact-email", "phone", "consent", "signature"),
}
SITE = "https://grants.example.com"
#: (device class, browser, OS, weight): the user agent's parse, as the pipeline stores it.
DEVICES = (
    ("desktop", "Chrome", "Windows", 35),
    ("desktop", "Safari", "Mac OS X", 12),
    ("desktop", "Firefox", "Linux", 5),
    ("mobile", "Mobile Safari", "iOS", 22),
    ("mobile", "Chrome Mobile", "Android", 18),
    ("tablet", "Mobile Safari", "iOS", 6),
    ("bot", "Googlebot", "Other", 2),
)
LANGUAGES = (("en-US", 50), ("en-GB", 15), ("fr-FR", 12), ("es-ES", 10), ("de-DE", 8), (None, 5))
#: (first page's URL suffix, referrer): utm sources, outside referrers, direct visits.
SOURCES = (
    ("?utm_source=newsletter&utm_medium=email", None, 15),
    ("?utm_source=facebook", "https://l.facebook.com/", 10),
    ("", "https://www.google.com/", 35),
    ("", "https://www.bing.com/", 8),
    ("", "https://news.example.org/grants", 7),
    ("", None, 25),
)
ERRORS = ("valueMissing", "typeMismatch", "patternMismatch", "tooShort")
#: Events a transaction of the fill writes.
PER_TRANSACTION = 20_000
WINDOW_EVENTS = 100_000
FRESH_EVENTS = 10_000


def _session(rng: random.Random, number: str, start: dt.datetime) -> list[dict[str, Any]]:
    """One visit of the form, as the embed script reports it, in canonical form."""
    device, browser, os_name, _ = rng.choices(DEVICES, [d[3] for d in DEVICES])[0]
    language = rng.choices(LANGUAGES, [w for _, w in LANGUAGES])[0][0]
    suffix, referrer, _ = rng.choices(SOURCES, [s[2] for s in SOURCES])[0]
    at = start
    events: list[dict[str, Any]] = []

    def add(kind: str, gap: float, **values: Any) -> None:
        nonlocal at
        at += dt.timedelta(milliseconds=round(gap * 1000))
        events.append({"type": kind, "occurred_at": at, **values})

    add("session_start", 0, url=f"{SITE}/apply{suffix}", referrer=referrer)
    add("page_view", 0.2, url=f"{SITE}/apply{suffix}", referrer=referrer, title="Apply")
    for step in STEPS:
        add("step_view", rng.uniform(1, 8), step_key=step)
        fields = FIELDS_BY_STEP[step]
        for position, field in enumerate(fields):
            if rng.random() < 0.03 * (position + 1):
                # Leaves on this field: focused, perhaps typed, never finished.
                add("field_focus", rng.uniform(0.5, 4), step_key=step, field_key=field)
                if rng.random() < 0.5:
                    add("field_change", rng.uniform(1, 9), step_key=step, field_key=field)
                if rng.random() < 0.5:
                    add(
                        "dropoff_signal",
                        rng.uniform(5, 60),
                        step_key=step,
                        properties={"reason": rng.choice(("idle", "leave", "hidden"))},
                    )
                return _finish(rng, events, number, device, browser, os_name, language)
            add("field_focus", rng.uniform(0.5, 4), step_key=step, field_key=field)
            add("field_change", rng.uniform(0.5, 12), step_key=step, field_key=field)
            add("field_blur", rng.uniform(0.2, 3), step_key=step, field_key=field)
            if rng.random() < 0.12:
                add(
                    "validation_error",
                    0.05,
                    step_key=step,
                    field_key=field,
                    error_type=rng.choice(ERRORS),
                )
            if rng.random() < 0.08:
                # Comes back to an earlier field of the step.
                back = rng.choice(fields[: position + 1])
                add("field_focus", rng.uniform(1, 5), step_key=step, field_key=back)
                add("field_change", rng.uniform(0.5, 6), step_key=step, field_key=back)
                add("field_blur", rng.uniform(0.2, 2), step_key=step, field_key=back)
    add("submit_attempt", rng.uniform(2, 10))
    if rng.random() < 0.85:
        add("submit_success", rng.uniform(0.5, 2))
        if rng.random() < 0.5:
            add("session_end", rng.uniform(5, 30))
    return _finish(rng, events, number, device, browser, os_name, language)


def _finish(
    rng: random.Random,
    events: list[dict[str, Any]],
    number: str,
    device: str,
    browser: str,
    os_name: str,
    language: str | None,
) -> list[dict[str, Any]]:
    url = events[0]["url"]
    for n, event in enumerate(events):
        event.setdefault("url", f"{SITE}/apply/{event.get('step_key') or ''}".rstrip("/"))
        event.update(
            event_id=f"{rng.getrandbits(32):08x}-{number}-{n}",
            session_id=f"s-{number}",
            client_id=f"c-{number}",
            path=event["url"].split("?")[0][len(SITE) :] or "/",
            device_class=device,
            browser=browser,
            os=os_name,
            language=language,
            source="client",
            schema_version=1,
            embed_version="1.0.0",
        )
    events[0]["url"] = url
    return events


def sessions(
    seed: str, count: int, low: dt.datetime, high: dt.datetime
) -> Iterator[list[dict[str, Any]]]:
    """About ``count`` events of sessions starting between ``low`` and ``high``, at random."""
    rng = random.Random(seed)
    span = (high - low).total_seconds()
    made = n = 0
    while made < count:
        # Milliseconds, as the embed script's times have.
        start = low + dt.timedelta(milliseconds=round(rng.uniform(0, span) * 1000))
        events = _session(rng, f"{seed}{n}", start)
        made += len(events)
        n += 1
        yield events


def insert(db: Database, journey_id: int, stream: Iterator[list[dict[str, Any]]]) -> int:
    """Store the sessions' events with multi-row INSERTs, in large transactions."""
    sqlite = is_sqlite(db)
    received = utcnow()
    head = [journey_id, "journey", received.isoformat(" ", "microseconds") if sqlite else received]
    statement = _insert_sql(db, 500)
    occurred = 3 + FIELDS.index("occurred_at")
    props = 3 + FIELDS.index("properties")
    rows: list[list[Any]] = []
    stored = 0

    def flush(final: bool) -> None:
        nonlocal rows, stored
        with db.atomic():
            cursor = db.cursor()
            while len(rows) >= 500 or (final and rows):
                chunk, rows = rows[:500], rows[500:]
                sql = statement if len(chunk) == 500 else _insert_sql(db, len(chunk))
                cursor.execute(sql, [value for row in chunk for value in row])
                stored += len(chunk)

    for session in stream:
        for event in session:
            row = head + [event.get(name) for name in FIELDS]
            if sqlite:
                row[occurred] = event["occurred_at"].isoformat(" ", "microseconds")
            if row[props] is not None:
                row[props] = json.dumps(row[props])
            rows.append(row)
        if len(rows) >= PER_TRANSACTION:
            flush(False)
    flush(True)
    assert len(COLUMNS) == len(head) + len(FIELDS)
    return stored


def _day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _warm(fn: Callable[[], Any], rounds: int = 3) -> tuple[float, Any]:
    """The median time of ``rounds`` calls after a first one (one if that took over 2 s)."""
    first, result = _timed(fn)
    times = []
    for _ in range(rounds if first < 2 else 1):
        spent, result = _timed(fn)
        times.append(spent)
    return statistics.median(times), result


def settle(db: Database) -> None:
    """On PostgreSQL, what autovacuum does within a minute of a bulk load: VACUUM ANALYZE.

    Without it, the planner would plan for the table as it was before the load.
    """
    if not is_sqlite(db):
        db.execute_sql("VACUUM ANALYZE")


def measure(name: str, url: str, full: bool, scale: float = 1.0) -> dict[str, Any]:
    """Fill ``url`` in stages and measure the report and the refresh at each."""
    db, journey_id = prepare(url)
    out: dict[str, Any] = {"sizes": {}, "refresh": {}}

    def query(journey: int) -> Query:
        return Query(
            journey_id=journey, steps=STEPS, start=START, end=END, breakdown="device", now=NOW
        )

    def stage(label: str, journey: int, events: int, with_reference: bool = True) -> None:
        spent, _ = _timed(lambda: refresh(db))
        settle(db)
        fast, result = _warm(lambda: compute(db, query(journey)))
        entry = {
            "events": events,
            "refresh_s": spent,
            "report_s": fast,
            "sessions": result["totals"]["sessions"],
        }
        if with_reference:
            slow, expected = _timed(lambda: reference(db, query(journey)))
            entry.update(
                reference_s=slow,
                ratio=fast / slow,
                equal=result == expected,
                differences=differences(result, expected)[:5],
            )
        out["sizes"][label] = entry
        print(f"  {name} {label}: {_line(entry)}", file=sys.stderr, flush=True)

    def fresh(label: str, journey: int) -> None:
        # New sessions of another journey, so that the measured window stays the same.
        insert(db, journey, sessions(f"f{label}", int(FRESH_EVENTS * scale), _day(END), NOW))
        spent, done = _timed(lambda: refresh(db))
        out["refresh"][label] = {"events": done.events, "seconds": spent}
        print(
            f"  {name} refresh after {done.events} events on {label}: {spent:.3f} s",
            file=sys.stderr,
            flush=True,
        )

    # The app context is for the Python API; the models use ``db``, the one filled here.
    with using(db), create_app(url).app_context(), db.connection_context():
        org = Journey.get_by_id(journey_id).organization
        other = api.create_journey(org, "fresh").id
        # The window's events, a quarter of them in the previous period, which compare reads.
        window_events = int(WINDOW_EVENTS * scale)
        window = insert(db, journey_id, sessions("w", window_events * 3 // 4, _day(START), NOW))
        window += insert(
            db, journey_id, sessions("p", window_events // 4, _day(PREVIOUS_START), _day(START))
        )
        total = window
        stage("100k", journey_id, total)
        older = _day(PREVIOUS_START - dt.timedelta(days=700)), _day(PREVIOUS_START)
        total += insert(db, journey_id, sessions("o", int(1_000_000 * scale) - total, *older))
        stage("1M", journey_id, total)
        fresh("1M", other)
        if full:
            total += insert(db, journey_id, sessions("q", int(10_000_000 * scale) - total, *older))
            stage("10M", journey_id, total)
            fresh("10M", other)
            everything = api.create_journey(org, "all-in-range").id
            in_range = _day(PREVIOUS_START), NOW
            inside = insert(db, everything, sessions("a", int(1_000_000 * scale), *in_range))
            stage("1M in range", everything, inside)
    db.close()
    return out


def _line(entry: dict[str, Any]) -> str:
    text = f"{entry['events']} events, report {entry['report_s'] * 1000:.1f} ms"
    if "reference_s" in entry:
        text += (
            f", reference {entry['reference_s']:.2f} s, ratio {entry['ratio']:.4f}, "
            f"equal {entry['equal']} {' '.join(entry['differences'])}"
        )
    return text + f" (refresh before it {entry['refresh_s']:.1f} s)"


Entry = dict[str, Any]


def _refresh_of(results: Entry, key: str) -> Entry:
    return results["refresh"][key]


def _cell(
    get: Callable[[Entry], Entry], show: Callable[[Entry, Entry], str]
) -> Callable[[Entry], str]:
    """A table cell: ``show`` of the entry ``get`` picks out of a backend's results."""
    return lambda results: show(get(results), results)


def table(results: dict[str, dict[str, Any]], full: bool) -> str:
    """The results as a plain-text table, one column per database."""
    names = list(results)
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell: Callable[[dict[str, Any]], str]) -> None:
        rows.append((label, [cell(results[name]) for name in names]))

    def size(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        return lambda r: r["sizes"][key]

    sizes = ["100k", "1M", *(["10M"] if full else [])]
    for key in sizes:
        get = size(key)
        row(
            f"report, {key} events in the journey, warm ms",
            _cell(get, lambda e, r: f"{e['report_s'] * 1000:.1f}"),
        )
    for key in sizes[1:]:
        get = size(key)
        row(
            f"  {key} ÷ 100k (goal ≤ 1.5)",
            _cell(get, lambda e, r: f"{e['report_s'] / r['sizes']['100k']['report_s']:.2f}"),
        )
    for key in [*sizes, *(["1M in range"] if full else [])]:
        get = size(key)
        row(f"reference, {key}, s", _cell(get, lambda e, r: f"{e['reference_s']:.2f}"))
        row(
            f"  report ÷ reference{' (goal ≤ 0.01)' if key.startswith('1M') else ''}",
            _cell(get, lambda e, r: f"{e['ratio']:.4f}"),
        )
    if full:
        row(
            "report, 1M events all in the range, warm ms",
            lambda r: f"{r['sizes']['1M in range']['report_s'] * 1000:.1f}",
        )
    for key in ["1M", *(["10M"] if full else [])]:
        row(
            f"refresh after 10k new events on {key}, ms",
            _cell(partial(_refresh_of, key=key), lambda e, r: f"{e['seconds'] * 1000:.0f}"),
        )
    if full:
        row(
            "  10M ÷ 1M (goal ≤ 1.5)",
            lambda r: f"{r['refresh']['10M']['seconds'] / r['refresh']['1M']['seconds']:.2f}",
        )
    row("refresh of the 900k older events, s", lambda r: f"{r['sizes']['1M']['refresh_s']:.1f}")
    row(
        "report equals the reference at every size",
        lambda r: "yes" if all(s.get("equal", True) for s in r["sizes"].values()) else "NO",
    )
    width = max(len(label) for label, _ in rows)
    cells = [max(len(name), *(len(r[1][i]) for r in rows)) for i, name in enumerate(names)]

    def line(label: str, values: list[str]) -> str:
        padded = (value.rjust(n) for value, n in zip(values, cells, strict=True))
        return f"| {label.ljust(width)} | " + " | ".join(padded) + " |"

    out = [
        line("", names),
        "|" + "-" * (width + 2) + "|" + "|".join("-" * (n + 1) + ":" for n in cells) + "|",
    ]
    out += [line(label, values) for label, values in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.reports", description=__doc__.split("\n", 1)[0]
    )
    parser.add_argument("--full", action="store_true", help="also 10M events (long)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every size, for a quick try (0.05); labels stay",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="journey-bench-reports-") as scratch:
        if not args.no_sqlite:
            results["SQLite"] = measure(
                "SQLite", f"sqlite:///{Path(scratch) / 'r.sqlite3'}", args.full, args.scale
            )
        missing = servers.postgres_missing()
        if missing:
            print(f"PostgreSQL skipped: {missing}", file=sys.stderr)
        elif not args.no_postgres:
            with servers.postgres() as prefix:
                url = servers.create_postgres_database(prefix, "bench_reports")
                results["PostgreSQL"] = measure("PostgreSQL", url, args.full, args.scale)
    machine = report.machine()
    print(table(results, args.full))
    print(
        f"\n{machine['cpus']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
        f"SQLite {machine['sqlite']}; whole run {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m benchmarks``: how fast ingest is, as ratios taken in one run.

Each figure is set against a ceiling measured in the same run on the same machine, round by
round (ours, then the ceiling, then ours again...), and the median of the rounds' ratios is
reported: shared machines drift, ratios taken side by side drift much less.
See docs/performance.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from peewee import Database

from flask_journey import api
from scripts import servers

from . import ceiling, export, load, report, workload
from .app import create_app

JOURNEY_APP = "benchmarks.app:create_app()"
#: Seconds between the refreshes of the "summaries maintained" contenders (reports refresh at
#: most every JOURNEY_REPORT_MAX_STALENESS, 10 s by default: this is busier than that).
REFRESH_SECONDS = 2.0
BARE_APP = "benchmarks.app:create_bare_app()"
DEFAULT_OUTPUT = servers.ROOT / "benchmarks" / "results" / "latest.json"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n", 1)[0]
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="length of a measured round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per ratio (median)")
    parser.add_argument("--threads", type=int, default=16, help="gunicorn gthread threads")
    parser.add_argument("--bulk-connections", type=int, default=4)
    parser.add_argument("--small-connections", type=int, default=32)
    parser.add_argument(
        "--export-events",
        type=int,
        nargs="*",
        default=[10_000, 1_000_000],
        help="table sizes at which export's peak memory is measured",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--no-variants",
        action="store_true",
        help="skip the sync-worker and no-group-commit comparisons",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 1 round of 2 s, export at 10k and 100k events",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds, args.export_events = 2.0, 1, [10_000, 100_000]
    return args


def prepare(url: str) -> tuple[Database, int]:
    """Create the schema, organization and journey in an empty database."""
    app = create_app(url)
    state = app.extensions["journey"]
    with app.app_context():
        api.create_tables()
        org = api.create_organization(workload.ORG)
        journey = api.create_journey(org, workload.JOURNEY, origins=[workload.ORIGIN])
    return state.database, journey.id


def stored(db: Database) -> int:
    return db.execute_sql("SELECT COUNT(*) FROM journey_event").fetchone()[0]


def _median(values: list[float]) -> float:
    return statistics.median(values)


class Bench:
    """One run: the settings, a scratch folder, and the database URLs of one backend."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir

    def serve(self, app: str, env: dict[str, str], worker_class: str = "gthread"):
        threads = self.args.threads if worker_class == "gthread" else 1
        return servers.gunicorn(
            app, env, worker_class=worker_class, threads=threads, log_dir=self.workdir
        )

    @contextlib.contextmanager
    def refreshing(self, url: str) -> Iterator[Path]:
        """A process refreshing ``url``'s report summaries; the file it leaves its count in."""
        out = self.workdir / f"refreshed-{len(list(self.workdir.glob('refreshed-*')))}.txt"
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.refresher", url, str(REFRESH_SECONDS), str(out)],
            cwd=servers.ROOT,
        )
        try:
            yield out
        finally:
            servers.stop(process)

    def drive(
        self,
        server: servers.Server,
        size: int,
        connections: int,
        prefix: str,
        seconds: float | None = None,
    ) -> load.Result:
        return load.run(
            load.Load(server.port, size, connections, seconds or self.args.seconds, prefix)
        )

    def backend(self, name: str, url: Callable[[str], str]) -> dict[str, Any]:
        print(f"[{name}] bulk and storage ceiling", file=sys.stderr)
        result: dict[str, Any] = {
            "bulk": self.bulk(url("bulk"), url("ceiling"), url("bulk_summarised"))
        }
        print(f"[{name}] small batches and bare Flask", file=sys.stderr)
        result["small"], result["worker_peak_rss_mb"] = self.small(url)
        return result

    def bulk(self, bulk_url: str, ceiling_url: str, summarised_url: str) -> dict[str, Any]:
        """100-event batches against the storage ceiling, and with summaries maintained."""
        db, _ = prepare(bulk_url)
        ceiling_db, ceiling_journey = prepare(ceiling_url)
        summarised_db, _ = prepare(summarised_url)
        connections = self.args.bulk_connections
        rounds: list[dict[str, Any]] = []
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(self.serve(JOURNEY_APP, {"BENCH_DATABASE_URL": bulk_url}))
            summarised = stack.enter_context(
                self.serve(JOURNEY_APP, {"BENCH_DATABASE_URL": summarised_url})
            )
            refreshed = stack.enter_context(self.refreshing(summarised_url))
            answered = self.drive(server, 100, connections, "bw", 1.0).answered_204
            answered_summarised = self.drive(summarised, 100, connections, "sw", 1.0).answered_204
            for n in range(self.args.rounds):
                ceiling_rate = ceiling.measure(
                    ceiling_db, ceiling_journey, 100, f"c{n}", self.args.seconds
                )
                run = self.drive(server, 100, connections, f"b{n}")
                with_summaries = self.drive(summarised, 100, connections, f"m{n}")
                answered += run.answered_204
                answered_summarised += with_summaries.answered_204
                rounds.append(
                    {
                        "events_per_s": run.per_second * 100,
                        "ceiling_events_per_s": ceiling_rate,
                        "ratio": run.per_second * 100 / ceiling_rate,
                        "summarised_events_per_s": with_summaries.per_second * 100,
                        "summarised_ratio": with_summaries.per_second / run.per_second,
                        "statuses": run.statuses,
                        "summarised_statuses": with_summaries.statuses,
                        "p50_ms": run.p50_ms,
                        "p99_ms": run.p99_ms,
                    }
                )
        ok = all(set(r["statuses"]) == set(r["summarised_statuses"]) == {204} for r in rounds)
        return {
            "events_per_s": _median([r["events_per_s"] for r in rounds]),
            "ceiling_events_per_s": _median([r["ceiling_events_per_s"] for r in rounds]),
            "ratio": _median([r["ratio"] for r in rounds]),
            "summarised_ratio": _median([r["summarised_ratio"] for r in rounds]),
            "summaries_kept_up": int(refreshed.read_text()) == answered_summarised * 100,
            "connections": connections,
            "verified": ok
            and stored(db) == answered * 100
            and stored(summarised_db) == answered_summarised * 100,
            "rounds": rounds,
        }

    def small(self, url: Callable[[str], str]) -> tuple[dict[str, Any], float]:
        """5-event batches: ours and bare Flask, and the variants, taking turns round by round.

        Each contender is (app, worker class, environment); the journey apps each get a
        database of their own.
        """
        contenders: dict[str, tuple[str, str, dict[str, str]]] = {
            "ours": (JOURNEY_APP, "gthread", {}),
            "bare": (BARE_APP, "gthread", {}),
            "summarised": (JOURNEY_APP, "gthread", {}),
        }
        if not self.args.no_variants:
            contenders.update(
                {
                    "no_group_commit": (JOURNEY_APP, "gthread", {"BENCH_GROUP_COMMIT": "0"}),
                    "sync": (JOURNEY_APP, "sync", {}),
                    "bare_sync": (BARE_APP, "sync", {}),
                    "writes_skipped": (JOURNEY_APP, "gthread", {"BENCH_SKIP_WRITES": "1"}),
                }
            )
        connections = self.args.small_connections
        databases: dict[str, Database] = {}
        runs: dict[str, list[load.Result]] = {name: [] for name in contenders}
        cpu: dict[str, list[float]] = {name: [] for name in contenders}
        with contextlib.ExitStack() as stack:
            started = {}
            for name, (app, worker_class, extra) in contenders.items():
                env = dict(extra)
                if app == JOURNEY_APP:
                    database_url = url(f"small_{name}")
                    env["BENCH_DATABASE_URL"] = database_url
                    db = prepare(database_url)[0]
                    if "BENCH_SKIP_WRITES" not in env:  # such a server stores nothing
                        databases[name] = db
                    if name == "summarised":
                        refreshed = stack.enter_context(self.refreshing(database_url))
                started[name] = stack.enter_context(self.serve(app, env, worker_class))
            answered = dict.fromkeys(contenders, 0)
            for i, (name, server) in enumerate(started.items()):
                answered[name] += self.drive(server, 5, connections, f"w{i}", 1.0).answered_204
            for n in range(self.args.rounds):
                for i, (name, server) in enumerate(started.items()):
                    before = server.worker_cpu_seconds()
                    run = self.drive(server, 5, connections, f"s{n}{i}")
                    cpu[name].append(
                        (server.worker_cpu_seconds() - before) * 1e6 / max(run.answered_204, 1)
                    )
                    answered[name] += run.answered_204
                    runs[name].append(run)
            peak = started["ours"].worker_peak_rss_mb()
        kept_up = int(refreshed.read_text()) == answered["summarised"] * 5

        def rates(name: str) -> list[float]:
            return [run.per_second for run in runs[name]]

        def ratios(name: str, base: str) -> float:
            return _median([a / b for a, b in zip(rates(name), rates(base), strict=True)])

        summary: dict[str, Any] = {
            "requests_per_s": _median(rates("ours")),
            "bare_requests_per_s": _median(rates("bare")),
            "ratio": ratios("ours", "bare"),
            "summarised_ratio": ratios("summarised", "ours"),
            "summaries_kept_up": kept_up,
            "p50_ms": _median([r.p50_ms for r in runs["ours"]]),
            "p99_ms": _median([r.p99_ms for r in runs["ours"]]),
            "bare_p50_ms": _median([r.p50_ms for r in runs["bare"]]),
            "bare_p99_ms": _median([r.p99_ms for r in runs["bare"]]),
            "cpu_us_per_request": _median(cpu["ours"]),
            "bare_cpu_us_per_request": _median(cpu["bare"]),
            "connections": connections,
            "verified": all(
                all(set(r.statuses) == {204} for r in runs[name])
                and stored(db) == answered[name] * 5
                for name, db in databases.items()
            ),
            "rounds": {
                name: [
                    {**vars(r), "cpu_us_per_request": c}
                    for r, c in zip(found, cpu[name], strict=True)
                ]
                for name, found in runs.items()
            },
        }
        if "sync" in runs:
            summary["variants"] = {
                "no_group_commit": {
                    "requests_per_s": _median(rates("no_group_commit")),
                    "ratio": ratios("no_group_commit", "bare"),
                },
                "sync": {
                    "requests_per_s": _median(rates("sync")),
                    "bare_requests_per_s": _median(rates("bare_sync")),
                    "ratio": ratios("sync", "bare_sync"),
                },
                "group_commit_gain": ratios("ours", "no_group_commit"),
                "writes_skipped": {
                    "requests_per_s": _median(rates("writes_skipped")),
                    "ratio": ratios("writes_skipped", "bare"),
                    "cpu_us_per_request": _median(cpu["writes_skipped"]),
                },
            }
        return summary, peak

    def export(self, url: str) -> dict[str, Any]:
        db, journey_id = prepare(url)
        runs = []
        have = 0
        for count in sorted(self.args.export_events):
            print(f"[export] {count:,} events", file=sys.stderr)
            have = export.grow(db, journey_id, count, f"e{count}", have)
            runs.append(vars(export.export(url, have)))
        return {"backend": "SQLite", "runs": runs}


@contextlib.contextmanager
def _postgres(notes: list[str]) -> Iterator[Callable[[str], str] | None]:
    missing = servers.postgres_missing()
    if missing:
        notes.append(f"PostgreSQL skipped: {missing}")
        print(f"PostgreSQL skipped: {missing}", file=sys.stderr)
        yield None
        return
    with servers.postgres() as prefix:
        yield lambda name: servers.create_postgres_database(prefix, f"bench_{name}")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    notes: list[str] = []
    results: dict[str, Any] = {
        "machine": report.machine(),
        "settings": {key: value for key, value in vars(args).items() if key != "output"},
        "backends": {},
        "embed": report.embed_size(),
        "notes": notes,
    }
    with tempfile.TemporaryDirectory(prefix="journey-bench-") as scratch:
        workdir = Path(scratch)
        bench = Bench(args, workdir)

        def sqlite(name: str) -> str:
            return f"sqlite:///{workdir / name}.sqlite3"

        results["backends"]["SQLite"] = bench.backend("SQLite", sqlite)
        if not args.no_postgres:
            with _postgres(notes) as postgres:
                if postgres is not None:
                    results["backends"]["PostgreSQL"] = bench.backend("PostgreSQL", postgres)
                    version = postgres("version")
                    results["machine"]["postgresql"] = _server_version(version)
        if args.export_events:
            results["export"] = bench.export(sqlite("export"))
    print(report.table(results))
    report.write_json(results, args.output)
    return 0


def _server_version(url: str) -> str:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())

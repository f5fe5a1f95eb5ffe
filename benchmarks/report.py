"""Machine facts, and the results as a table."""

from __future__ import annotations

import gzip
import os
import platform
import sqlite3
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

EMBED = Path(__file__).resolve().parent.parent / "flask_journey" / "static" / "embed" / "v1.js"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory = float("nan")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(memory, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "fsync_ms": round(_fsync_ms(), 2),
        "packages": {
            name: version(name)
            for name in ("flask", "gunicorn", "peewee", "marshmallow", "psycopg2-binary")
            if _installed(name)
        },
    }


def _installed(name: str) -> bool:
    try:
        version(name)
    except Exception:
        return False
    return True


def _fsync_ms(rounds: int = 50) -> float:
    """Median time of a 4 KiB write and fsync in the temp folder, where the databases live."""
    fd, path = tempfile.mkstemp(prefix="journey-bench-fsync-")
    times = []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        os.unlink(path)
    return sorted(times)[len(times) // 2] * 1000


def embed_size() -> dict[str, int]:
    """The served embed script's size, raw and gzipped (level 9)."""
    raw = EMBED.read_bytes()
    return {"raw_bytes": len(raw), "gzip_bytes": len(gzip.compress(raw, 9, mtime=0))}


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def table(results: dict[str, Any]) -> str:
    """The results as a plain-text table, one column per database."""
    names = list(results["backends"])
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell) -> None:
        rows.append((label, [cell(results["backends"][name]) for name in names]))

    row("bulk: 100-event batches, events/s", lambda b: _n(b["bulk"]["events_per_s"]))
    row("storage ceiling, events/s", lambda b: _n(b["bulk"]["ceiling_events_per_s"]))
    row("bulk ÷ ceiling (goal ≥ 0.5)", lambda b: _n(b["bulk"]["ratio"], 2))
    row("small: 5-event batches, requests/s", lambda b: _n(b["small"]["requests_per_s"]))
    row("bare Flask 204, requests/s", lambda b: _n(b["small"]["bare_requests_per_s"]))
    row("small ÷ bare (goal ≥ 0.6)", lambda b: _n(b["small"]["ratio"], 2))
    row(
        "small: p50 / p99 latency, ms",
        lambda b: f"{b['small']['p50_ms']:.1f} / {b['small']['p99_ms']:.1f}",
    )
    row(
        "bare: p50 / p99 latency, ms",
        lambda b: f"{b['small']['bare_p50_ms']:.1f} / {b['small']['bare_p99_ms']:.1f}",
    )
    row(
        "worker CPU per request: ours / bare, µs",
        lambda b: (
            f"{_n(b['small']['cpu_us_per_request'])} / {_n(b['small']['bare_cpu_us_per_request'])}"
        ),
    )
    row(
        "with report summaries refreshed every 2 s: bulk ÷ without (goal ≥ 0.95)",
        lambda b: _n(b["bulk"]["summarised_ratio"], 2),
    )
    row("  small ÷ without (goal ≥ 0.95)", lambda b: _n(b["small"]["summarised_ratio"], 2))
    row(
        "  every stored event summarised",
        lambda b: (
            "yes" if b["bulk"]["summaries_kept_up"] and b["small"]["summaries_kept_up"] else "NO"
        ),
    )
    row(
        "every 204 stored, nothing else",
        lambda b: "yes" if b["bulk"]["verified"] and b["small"]["verified"] else "NO",
    )
    row("server worker peak RSS, MiB", lambda b: _n(b["worker_peak_rss_mb"], 1))
    if all("variants" in results["backends"][name]["small"] for name in names):
        row(
            "small, sync worker: ours / bare, requests/s",
            lambda b: (
                f"{_n(b['small']['variants']['sync']['requests_per_s'])} / "
                f"{_n(b['small']['variants']['sync']['bare_requests_per_s'])}"
            ),
        )
        row(
            "small, gthread, no group commit, requests/s",
            lambda b: _n(b["small"]["variants"]["no_group_commit"]["requests_per_s"]),
        )
        row(
            "group commit gain (with ÷ without)",
            lambda b: _n(b["small"]["variants"]["group_commit_gain"], 2),
        )
        row(
            "small, database writes skipped ÷ bare",
            lambda b: _n(b["small"]["variants"]["writes_skipped"]["ratio"], 2),
        )
        row(
            "  its worker CPU per request, µs",
            lambda b: _n(b["small"]["variants"]["writes_skipped"]["cpu_us_per_request"]),
        )
    width = max(len(label) for label, _ in rows)
    cells = [max(len(name), *(len(r[1][i]) for r in rows)) for i, name in enumerate(names)]

    def line(label: str, values: list[str]) -> str:
        padded = (value.rjust(size) for value, size in zip(values, cells, strict=True))
        return "  ".join([label.ljust(width), *padded])

    lines = [line("", names), *(line(label, values) for label, values in rows)]
    embed = results["embed"]
    lines.append("")
    lines.append(
        f"embed script: {embed['raw_bytes']:,} B raw, {embed['gzip_bytes']:,} B gzipped "
        "(goal ≤ 2,560 B)"
    )
    export = results.get("export")
    if export:
        runs = ", ".join(
            f"{r['events']:,} events {r['peak_rss_mb']:.1f} MiB ({r['seconds']:.0f} s)"
            for r in export["runs"]
        )
        lines.append(f"export peak RSS ({export['backend']}): {runs}")
    for note in results.get("notes", []):
        lines.append(f"note: {note}")
    m = results["machine"]
    lines.append("")
    lines.append(
        f"{m['cpus']} × {m['cpu_model']}, {m['memory_gib']} GiB, {m['os']}; Python "
        f"{m['python']}, SQLite {m['sqlite']}"
        + (f", PostgreSQL {m['postgresql']}" if m.get("postgresql") else "")
        + f"; fsync {m['fsync_ms']} ms"
    )
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: Path) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {path}", file=sys.stderr)

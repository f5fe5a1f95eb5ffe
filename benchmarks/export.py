"""Peak memory of ``flask journey export`` as the events table grows."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

from peewee import Database

from scripts.servers import ROOT

from . import ceiling


@dataclass
class ExportRun:
    events: int
    peak_rss_mb: float
    seconds: float


def grow(db: Database, journey_id: int, total: int, prefix: str, have: int = 0) -> int:
    """Insert 100-event batches, 100 to a transaction, until ``total`` events are stored."""
    batches = (total - have) // 100
    if batches > 0:
        ceiling.insert(db, journey_id, ceiling.bodies(100, prefix, batches), per_transaction=100)
    return have + batches * 100


def export(url: str, events: int) -> ExportRun:
    """Run ``flask journey export`` in a process of its own; return its peak resident memory."""
    env = {**os.environ, "BENCH_DATABASE_URL": url}
    command = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "benchmarks.app:create_app",
        "journey",
        "export",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status:
        raise RuntimeError(f"export failed: {process.stderr.read().decode(errors='replace')}")
    process.stderr.close()
    return ExportRun(events, usage.ru_maxrss / 1024, seconds)

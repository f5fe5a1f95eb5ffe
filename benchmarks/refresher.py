"""``python -m benchmarks.refresher URL SECONDS OUT``: keep a database's report summaries fresh.

Runs ``refresh`` every ``SECONDS`` (as cron or reports would) until stopped with SIGTERM, then
writes how many events it summarised to ``OUT``: the ingest benchmark's "summaries maintained"
contenders run one beside their server.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from flask_journey.reports.refresh import refresh

from .app import create_app


def main(url: str, seconds: float, out: Path) -> int:
    database = create_app(url).extensions["journey"].database
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    summarised = 0
    while not stop.wait(seconds):
        summarised += refresh(database).events
    summarised += refresh(database).events  # what arrived since the last round
    out.write_text(str(summarised))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])))

"""``python -m benchmarks.profile``: where an ingest request's time goes, with pyinstrument.

Posts batches to ``/api/ingest`` through Flask's test client in this process (one thread, no
network) against a fresh SQLite database, and prints pyinstrument's call tree. For the live
server under load, see docs/performance.md (py-spy).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from . import ceiling, workload
from .__main__ import prepare
from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("--size", type=int, default=100, help="events per batch")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--all", action="store_true", help="show library frames too")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("pyinstrument is needed: pip install -e '.[bench]'") from None

    with tempfile.TemporaryDirectory(prefix="journey-profile-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'profile.sqlite3'}"
        prepare(url)
        client = create_app(url).test_client()
        headers = {
            "Content-Type": "application/json",
            "Origin": workload.ORIGIN,
            "User-Agent": workload.USER_AGENT,
        }
        bodies = list(ceiling.bodies(args.size, "p", args.requests + 20))
        for body in bodies[:20]:  # warm up: imports, the user-agent parser, the pool
            client.post("/api/ingest", data=body, headers=headers)
        profiler = Profiler(interval=0.0002)
        with profiler:
            for body in bodies[20:]:
                response = client.post("/api/ingest", data=body, headers=headers)
                if response.status_code != 204:
                    raise SystemExit(f"unexpected {response.status_code}: {response.text}")
    print(profiler.output_text(unicode=True, color=False, show_all=args.all))


if __name__ == "__main__":
    main()

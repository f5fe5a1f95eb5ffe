"""``python -m benchmarks.storage``: what SQLite spends writing small batches, index by index.

In this process, on one thread: the load generator's 5-event batches are written eight to a
transaction, as group commit writes them under load, with flask-journey's own write
(``store._write``: the multi-row INSERT, the usage upsert, the COMMIT) into an events table
that already holds ``--existing`` events. It prints the CPU time per batch with every index of
the table, then with each secondary index dropped in turn, each in a fresh database; variants
take turns, round by round, and each figure is the median of its rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

from flask_journey import store
from flask_journey.events import CanonicalEvent
from flask_journey.models import Event, Journey

from . import ceiling
from .__main__ import prepare

#: A group commit's size under the small-batch load (about eight batches in the benchmark).
GROUP = 8


def _secondary_indexes() -> list[str]:
    """The names of the events table's indexes other than the unique ``(journey, event_id)``."""
    return [index._name for index in Event._meta.fields_to_index() if not index._unique]


def _batches(journey_id: int, prefix: str, count: int, org_id: int) -> list[store._Batch]:
    received = store.utcnow()
    batches = []
    for body in ceiling.bodies(5, prefix, count):
        events = [
            CanonicalEvent(
                **{
                    **{column: event.get(key) for column, key in ceiling.SOURCES.items()},
                    "occurred_at": dt.datetime(2024, 1, 15, 10),
                }
            )
            for event in json.loads(body)["events"]
        ]
        rows = store._rows(journey_id, "journey", received, events, False, True)
        batches.append(store._Batch(org_id, journey_id, "2024-01", rows))
    return batches


def measure(scratch: Path, drop: str | None, existing: int, measured: int) -> float:
    """CPU microseconds per 5-event batch, with index ``drop`` dropped (None: all kept)."""
    url = f"sqlite:///{scratch / (drop or 'all')}.sqlite3"
    db, journey_id = prepare(url)
    with db.connection_context():
        org_id = Journey.get_by_id(journey_id).organization_id
        if drop:
            db.execute_sql(f'DROP INDEX "{drop}"')
        filler = _batches(journey_id, "f", existing // 5, org_id)
        for start in range(0, len(filler), 200):
            store._write(db, filler[start : start + 200])
        batches = _batches(journey_id, "m", measured, org_id)
        started = time.process_time()
        for start in range(0, len(batches), GROUP):
            store._write(db, batches[start : start + GROUP])
        spent = time.process_time() - started
    return spent / len(batches) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.storage", description=__doc__)
    parser.add_argument("--existing", type=int, default=100_000, help="events stored first")
    parser.add_argument("--batches", type=int, default=20_000, help="5-event batches measured")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per figure (median)")
    args = parser.parse_args(argv)
    variants: list[str | None] = [None, *_secondary_indexes()]
    spent: dict[str | None, list[float]] = {variant: [] for variant in variants}
    with tempfile.TemporaryDirectory(prefix="journey-storage-") as scratch:
        for n in range(args.rounds):
            folder = Path(scratch) / str(n)
            folder.mkdir()
            for variant in variants:
                spent[variant].append(measure(folder, variant, args.existing, args.batches))
    baseline = statistics.median(spent[None])
    print(
        f"every index: {baseline:.0f} µs of CPU per 5-event batch ({GROUP} batches a "
        f"transaction, after {args.existing:,} events; median of {args.rounds} rounds)"
    )
    for index in variants[1:]:
        median = statistics.median(spent[index])
        print(f"without {index}: {median:.0f} µs ({median - baseline:+.0f})")


if __name__ == "__main__":
    main()

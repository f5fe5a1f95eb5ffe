"""What one session adds to its journey's rollups, and the numbers read back from them.

Pure. A journey's rollups (``journey_rollup``) hold, per local day of the report time zone and
per segment value (and for all sessions), the sums of :func:`contribution` over the sessions
that began that day: counts, and for durations the count and sum of each log-scale bucket
(:func:`bucket`). A report adds up the rows of its days (:class:`Sums`); its cost follows the
days and the journey's vocabulary, not its traffic. ``docs/reports.md`` says which numbers are
exact and which come from the buckets, with their bound.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from .query import NONE, SEGMENTS

#: Buckets per doubling of a duration: a quarter octave, each bucket's upper end 2^(1/4)
#: (about 19 %) above its lower end.
PER_OCTAVE = 4
#: How far a number read from the buckets (a median, a percentile) may be from the exact one,
#: relative to it: the width of a bucket.
BOUND = 2 ** (1 / PER_OCTAVE) - 1
#: The bucket of a duration of 0 s; the others start above it.
ZERO = 0
#: The bucket of 1 s: bucket ``OFFSET + k`` starts at 2^(k / PER_OCTAVE) s.
OFFSET = 200
#: ``total`` is kept for every row; ``bucket`` is :data:`NO_BUCKET` where it is no duration.
NO_BUCKET = -1

#: A rollup row's key: ``(kind, key1, key2, key3, bucket)``.
Key = tuple[str, str, str, str, int]


def bucket(seconds: float) -> int:
    """The log-scale bucket of a duration: 0 for none, else one per quarter octave."""
    if seconds <= 0:
        return ZERO
    return max(1, math.floor(PER_OCTAVE * math.log2(seconds)) + OFFSET)


@dataclass
class FieldSeen:
    """One field of a session, as its summary row holds it."""

    step_key: str
    field_key: str
    started: int
    returned: int
    errors: int
    error_types: Mapping[str, int]
    seconds: float | None
    hesitation: float | None


@dataclass
class SessionSeen:
    """One session as its summary rows hold it: what its contribution is made from."""

    first_at: dt.datetime
    last_at: dt.datetime
    segments: Mapping[str, str | None]
    started: int
    submitted: int
    completed: int
    ended: int
    #: ``[stepKey, viewed, seconds or None, [reasons], first view]`` per step.
    steps: list[list[Any]]
    last_step: str | None
    last_field: str | None
    fields: list[FieldSeen] = field(default_factory=list)
    #: The steps viewed in time order, a repeated view once (:mod:`.forms`).
    path: list[str] = field(default_factory=list)
    #: ``[stepKey, fieldKey, errorType, recovered, last, seconds to fix]`` per field error type.
    errors: list[list[Any]] = field(default_factory=list)
    completion_seconds: float | None = None
    #: The application it belongs to (None: an application of this one session).
    application: str | None = None

    def closed(self, cutoff: dt.datetime) -> bool:
        """Whether the session is over: it ended, or nothing happened after ``cutoff``."""
        return bool(self.ended) or self.last_at <= cutoff

    def segment(self, name: str) -> str:
        return self.segments.get(SEGMENTS[name]) or NONE


def field_seen(
    step: str,
    field_key: str,
    started: int,
    returned: int,
    errors: int,
    types: str | None,
    seconds: float | None,
    hesitation: float | None,
) -> FieldSeen:
    """A field row as the database returns it (error types as JSON text)."""
    return FieldSeen(
        step,
        field_key,
        started,
        returned,
        errors,
        json.loads(types) if types else {},
        seconds,
        hesitation,
    )


@dataclass(frozen=True)
class Journey:
    """What a session's contribution depends on besides the session: the order drop-offs are
    measured in (configured steps, then the others as the journey first saw them), the
    optional steps, which a step's sessions are never said to come from, and the segment values
    the rollups sum on their own (:class:`SegmentValues`)."""

    ranks: Mapping[str, int]
    optional: frozenset[str]
    zone: ZoneInfo
    values: SegmentValues = field(default_factory=lambda: SegmentValues(None))

    def rank(self, step: str) -> tuple[int, str]:
        return (self.ranks.get(step, len(self.ranks)), step)


#: What a segment value beyond a journey's limit is summed as.
OTHER_VALUE = "(other)"


class SegmentValues:
    """The values of each segment a journey's rollups sum on their own: at most ``limit`` per
    segment (None: no limit), admitted as sessions are rolled up, the rest summed as
    :data:`OTHER_VALUE`. A value is never taken back, so a session is taken out of the rollups
    under the value it was added under."""

    def __init__(
        self, limit: int | None, known: Iterable[tuple[str, str]] = (), admitting: bool = False
    ) -> None:
        self.limit = limit
        self.admitting = admitting
        self.known: dict[str, set[str]] = defaultdict(set)
        for name, value in known:
            self.known[name].add(value)
        self.added: list[tuple[str, str]] = []

    def __call__(self, name: str, value: str) -> str:
        """The value a session of ``value`` is summed under (admitting it if there is room and
        this is the refresh; a report counts a value with room left as itself)."""
        known = self.known[name]
        if self.limit is None or value in known:
            return value
        if len(known) >= self.limit:
            return OTHER_VALUE
        if self.admitting:
            known.add(value)
            self.added.append((name, value))
        return value

    def admitted(self, name: str, value: str) -> bool:
        """Whether the rollups hold a value's sessions apart from the others'."""
        return self.limit is None or value in self.known[name]


def contribution(session: SessionSeen, closed: bool, journey: Journey) -> dict[Key, list[float]]:
    """The rollup rows one session adds: ``{key: [n, total, squares]}`` (a duration's bucket
    keeps the sum of its durations and of their squares).

    ``closed``: whether the session counts as over (a rolled-up session always is; a report
    adds the sessions still open as they stand).
    """
    rows: dict[Key, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])

    def add(kind: str, k1: str = "", k2: str = "", k3: str = "", n: int = 1) -> None:
        if n:
            rows[(kind, k1, k2, k3, NO_BUCKET)][0] += n

    def time(kind: str, k1: str, k2: str, k3: str, seconds: float) -> None:
        entry = rows[(kind, k1, k2, k3, bucket(seconds))]
        entry[0] += 1
        entry[1] += seconds
        entry[2] += seconds * seconds

    completed = bool(session.completed)
    abandoned = bool(session.started and closed and not completed)
    local = session.first_at.replace(tzinfo=dt.timezone.utc).astimezone(journey.zone)
    hour = f"{local.hour:02d}"
    for name in SEGMENTS:
        add("segment", name, journey.values(name, session.segment(name)))
    for metric, n in (
        ("sessions", 1),
        ("starters", session.started),
        ("submitters", session.submitted),
        ("completions", session.completed),
        ("abandons", int(abandoned)),
        ("active", int(not closed and not completed)),
    ):
        add("total", metric, n=n)
        if metric in ("sessions", "starters", "completions"):
            add("hour", hour, metric, n=n)
    viewed = [entry for entry in session.steps if entry[1]]
    for position, (key, _, spent, _, _) in enumerate(viewed):
        add("step", key, "reach")
        add("step", key, "position", n=position)
        if spent is not None:
            time("step_time", key, "", "", spent)
    for key, _, _, reasons, _ in session.steps:
        for reason in reasons:
            add("reason", key, reason)
    if viewed and closed and not completed:
        add("step", max((entry[0] for entry in viewed), key=journey.rank), "dropoffs")
    _path(session, closed, journey, add)
    for seen in session.fields:
        _field(session, seen, closed, add, time)
    for step, field_key, error_type, recovered, last, seconds in session.errors:
        add("outcome", step, field_key, f"{error_type}\x1fsessions")
        add("outcome", step, field_key, f"{error_type}\x1frecovered", n=recovered)
        add("outcome", step, field_key, f"{error_type}\x1fabandoned", n=int(abandoned and last))
        if seconds is not None:
            time("fix_time", step, field_key, error_type, seconds)
    if session.completion_seconds is not None:
        time("completion_time", "", "", "", session.completion_seconds)
        add("completion_bin", str(coarse(session.completion_seconds)))
    if session.application is None:
        add("single", "sessions")
        if completed:
            add("single", "completed")
            time("single_days", "", "", "", (session.last_at - session.first_at).total_seconds())
            if session.completion_seconds is not None:
                time("single_time", "", "", "", session.completion_seconds)
                add("single_bin", str(coarse(session.completion_seconds)))
    return rows


def _path(session: SessionSeen, closed: bool, journey: Journey, add: Any) -> None:
    """Exits, transitions and where each step's sessions came from, from the session's path."""
    path = session.path
    if not path:
        return
    pairs = set(zip(path, path[1:], strict=False))
    if session.completed:
        pairs.add((path[-1], "(completed)"))
    elif closed:
        pairs.add((path[-1], "(exit)"))
        add("step", path[-1], "exits")
    for here, there in pairs:
        add("move", here, there)
    for step in dict.fromkeys(path):
        before = path[: path.index(step)]
        source = next(
            (s for s in reversed(before) if s not in journey.optional and s != step), None
        )
        if source is not None:
            add("came", step, source)


def _field(session: SessionSeen, seen: FieldSeen, closed: bool, add: Any, time: Any) -> None:
    step, key = seen.step_key, seen.field_key
    completed = bool(session.completed)
    abandoner = bool(session.started and closed and not completed)
    here = session.last_field == key and session.last_step == step
    add("field", step, key, "sessions")
    add("field", step, key, "starters", n=seen.started)
    add("field", step, key, "returns", n=seen.returned)
    add("field", step, key, "errorSessions", n=int(seen.errors > 0))
    add("field", step, key, "abandons", n=int(closed and not completed and here))
    for error_type, count in seen.error_types.items():
        add("error", step, key, error_type, n=count)
    if not seen.errors:
        add("field", step, key, "clean")
        add("field", step, key, "cleanAbandons", n=int(abandoner))
    group = "c" if completed else "a" if abandoner else "o"
    if group != "o":
        add("behaviour", step, key, f"{group}\x1fsessions")
        add("behaviour", step, key, f"{group}\x1freturns", n=seen.returned)
        add("behaviour", step, key, f"{group}\x1ferrors", n=int(seen.errors > 0))
    if seen.seconds is not None:
        time("field_time", step, key, group, seen.seconds)
    if seen.hesitation is not None:
        time("hesitation", step, key, "", seen.hesitation)


#: The upper bounds of the coarse histogram of completion times, in seconds (a log scale:
#: 10 s, 30 s, 1 min, 2 min, 5 min, 10 min, 30 min, 1 h, 2 h, 6 h, 1 day, 1 week); a last
#: bin without bound holds the rest.
BINS = (10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400, 604800)


def coarse(seconds: float) -> int:
    """The index of the :data:`BINS` bin a duration falls in."""
    return next((n for n, bound in enumerate(BINS) if seconds <= bound), len(BINS))


def local_day(session: SessionSeen, zone: ZoneInfo) -> str:
    """The local date (ISO) a session belongs to: the day of its first event."""
    return session.first_at.replace(tzinfo=dt.timezone.utc).astimezone(zone).date().isoformat()


def selectors(session: SessionSeen, journey: Journey) -> Iterator[tuple[str, str]]:
    """The rollups a session counts in: all sessions (``('', '')``), and each segment's value
    (or :data:`OTHER_VALUE`)."""
    yield "", ""
    for name in SEGMENTS:
        yield name, journey.values(name, session.segment(name))


class Histogram:
    """The buckets of some durations: ``{bucket: [count, sum, sum of squares]}``."""

    def __init__(self) -> None:
        self.buckets: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])

    def add(self, index: int, count: float, total: float, squares: float) -> None:
        entry = self.buckets[index]
        entry[0] += count
        entry[1] += total
        entry[2] += squares

    def add_value(self, seconds: float) -> None:
        self.add(bucket(seconds), 1, seconds, seconds * seconds)

    def merge(self, other: Histogram) -> None:
        for index, (count, total, squares) in other.buckets.items():
            self.add(index, count, total, squares)

    @property
    def count(self) -> int:
        return int(sum(count for count, _, _ in self.buckets.values()))

    def _ranked(self) -> list[tuple[int, int, float, float]]:
        return [
            (index, int(count), total / count, max(0.0, squares / count - (total / count) ** 2))
            for index, (count, total, squares) in sorted(self.buckets.items())
            if count > 0
        ]

    def _at(self, ranked: Sequence[tuple[int, int, float, float]], rank: int) -> float:
        """The value at a 0-based rank, read from its bucket: the mean of one value, the two
        values themselves of two (their mean and deviation give them back), else the quantile
        ``(rank + 0.5) / count`` of a density over the bucket that has its values' mean and
        variance (:func:`_within`)."""
        for index, count, mean, variance in ranked:
            if rank < count:
                if index == ZERO or count == 1 or not variance:
                    return mean
                if count == 2:
                    return mean + (1 if rank else -1) * math.sqrt(variance)
                low = 2 ** ((index - OFFSET) / PER_OCTAVE)
                high = 2 ** ((index + 1 - OFFSET) / PER_OCTAVE)
                return _within(low, high, mean, variance, (rank + 0.5) / count)
            rank -= count
        raise IndexError(rank)

    def median(self) -> float | None:
        """The median, rounded to 3 decimals, each middle value read from its bucket
        (:meth:`_at`); None without values."""
        total = self.count
        if not total:
            return None
        ranked = self._ranked()
        low, high = self._at(ranked, (total - 1) // 2), self._at(ranked, total // 2)
        return round((low + high) / 2, 3)

    def percentile(self, p: int, scale: float = 1) -> float | None:
        """The nearest-rank ``p``-th percentile, read from its bucket (:meth:`_at`), divided by
        ``scale`` and rounded to 3 decimals."""
        total = self.count
        if not total:
            return None
        return round(self._at(self._ranked(), max(math.ceil(p * total / 100), 1) - 1) / scale, 3)

    def counts(self) -> dict[int, int]:
        """How many durations each bucket holds."""
        return {index: int(count) for index, (count, _, _) in self.buckets.items() if count > 0}


def _within(low: float, high: float, mean: float, variance: float, q: float) -> float:
    """The ``q`` quantile of the quadratic density over ``[low, high]`` with this mean and
    variance, its negative stretches cut off (a bucket's values crowd towards the side of a
    peak; a line or an even spread cannot say so)."""
    width = high - low
    m1 = min(1.0, max(0.0, (mean - low) / width))
    m2 = variance / (width * width) + m1 * m1
    # The density c0 + c1 t + c2 t² on [0, 1] whose first three moments are 1, m1 and m2.
    c0 = 9 - 36 * m1 + 30 * m2
    c1 = -36 + 192 * m1 - 180 * m2
    c2 = 30 - 180 * m1 + 180 * m2

    def mass(t: float) -> float:
        return t * (c0 + t * (c1 / 2 + t * c2 / 3))

    cuts = [0.0, 1.0]
    if c2:
        root = c1 * c1 - 4 * c2 * c0
        if root > 0:
            cuts += [(-c1 + sign * math.sqrt(root)) / (2 * c2) for sign in (-1, 1)]
    elif c1:
        cuts.append(-c0 / c1)
    cuts = sorted(t for t in set(cuts) if 0 <= t <= 1)
    pieces = [
        (start, end, mass(end) - mass(start))
        for start, end in zip(cuts, cuts[1:], strict=False)
        if c0 + c1 * (start + end) / 2 + c2 * ((start + end) / 2) ** 2 > 0
    ]
    left = q * sum(part for _, _, part in pieces)
    if left <= 0:
        return mean
    for start, end, part in pieces:
        if left <= part:
            base, high_t = mass(start), end
            low_t = start
            for _ in range(32):
                middle = (low_t + high_t) / 2
                if mass(middle) - base < left:
                    low_t = middle
                else:
                    high_t = middle
            return low + (low_t + high_t) / 2 * width
        left -= part
    return high


def merged(histograms: Iterable[Histogram]) -> Histogram:
    found = Histogram()
    for histogram in histograms:
        found.merge(histogram)
    return found

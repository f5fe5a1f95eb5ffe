"""What a report is asked for, and the small definitions every way of computing one shares.

:class:`Query` names a journey, a date range in a time zone, segment filters and a breakdown.
The fast computation (:mod:`.compute`, from the summaries) and the reference computation
(:mod:`.reference`, from raw events) both answer a :class:`Query` with the same plain data.
``docs/reports.md`` defines every number in the same words.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from peewee import Database

from ..db import is_sqlite

#: Segment names, as the report API's parameters spell them, and their summary columns.
SEGMENTS: dict[str, str] = {
    "device": "device_class",
    "browser": "browser",
    "os": "os",
    "language": "language",
    "country": "country",
    "source": "source",
}
#: The value of a segment for a session that has none.
NONE = "(none)"
#: The traffic source of a session with neither a utm_source nor an outside referrer.
DIRECT = "(direct)"
#: How many values a breakdown (and the ``segments`` listing) shows at most.
TOP_VALUES = 10
#: How many pages and referrers ``events`` lists at most.
TOP_EVENTS = 20
#: Per-user stages the report counts: the first two inferred from identify events (seed 001),
#: the others named by stage events.
USER_STAGES = ("discovered", "signed_up", "activated", "engaged", "paid", "churned", "inactive")
#: How many server-side actions ``outcomes`` lists; the rest are one ``(other)`` row.
TOP_OUTCOMES = 20
OTHER_OUTCOMES = "(other)"
#: Event types that are page views, in every format.
PAGEVIEW_TYPES = ("page_view", "pageview")
#: The types of a session's field events, and of those that count as starting the form.
FIELD_TYPES = ("field_focus", "field_blur", "field_change", "validation_error")
STARTER_TYPES = ("field_focus", "field_change", "validation_error")
#: Ranges shorter than this many days are reported by hour.
HOURLY_BELOW_DAYS = 3
#: Days a report covers when it is given neither ``from`` nor ``to``.
DEFAULT_DAYS = 30
#: Where stored (naive UTC) times count their seconds from.
EPOCH = dt.datetime(1970, 1, 1)


@dataclass(frozen=True)
class Query:
    """One report's question: a journey, a range of local dates, filters and a breakdown."""

    journey_id: int
    #: The journey's configured steps, in order (may be empty).
    steps: tuple[str, ...]
    start: dt.date
    #: The last day of the range, included.
    end: dt.date
    timezone: str = "UTC"
    filters: Mapping[str, str] = field(default_factory=dict)
    breakdown: str | None = None
    compare: bool = True
    idle: dt.timedelta = dt.timedelta(minutes=30)
    #: When the report is computed (naive UTC): what "idle" is measured against.
    now: dt.datetime = field(default_factory=lambda: utc_now())
    #: The configured steps a session may skip (:mod:`.forms`).
    optional: tuple[str, ...] = ()
    #: How long an uncompleted application may go without events and still count as saved.
    application_idle: dt.timedelta = dt.timedelta(days=30)
    #: How many values of each segment the rollups sum on their own
    #: (``JOURNEY_MAX_SEGMENT_VALUES``).
    segment_values: int = 100

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The range as naive UTC datetimes: first included, first excluded."""
        return local_midnight(self.start, self.zone), local_midnight(
            self.end + dt.timedelta(days=1), self.zone
        )

    @property
    def hourly(self) -> bool:
        return (self.end - self.start).days + 1 < HOURLY_BELOW_DAYS

    def previous(self) -> Query:
        """The range of the same length that ends the day before this one starts."""
        days = (self.end - self.start).days + 1
        return replace(
            self,
            start=self.start - dt.timedelta(days=days),
            end=self.start - dt.timedelta(days=1),
            compare=False,
        )

    def periods(self) -> list[str]:
        """The trend's periods, in order: local days, or local hours for short ranges."""
        if not self.hourly:
            days = (self.end - self.start).days + 1
            return [(self.start + dt.timedelta(days=n)).isoformat() for n in range(days)]
        start, end = self.bounds()
        hours, at = [], start
        while at < end:
            hours.append(self.period(at))
            at += dt.timedelta(hours=1)
        return list(dict.fromkeys(hours))

    def period(self, when: dt.datetime) -> str:
        """The trend period a naive UTC time falls in."""
        local = when.replace(tzinfo=dt.timezone.utc).astimezone(self.zone)
        return local.strftime("%Y-%m-%dT%H:00") if self.hourly else local.date().isoformat()


def stored_time(value: Any) -> dt.datetime:
    """A stored time as a naive UTC datetime (SQLite returns text)."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def db_time(db: Database, value: dt.datetime) -> Any:
    """A naive UTC time as a query parameter: text that sorts as the time on SQLite."""
    return value.isoformat(" ", "microseconds") if is_sqlite(db) else value


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The start of a local day as a naive UTC datetime."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    return start.astimezone(dt.timezone.utc).replace(tzinfo=None)


def default_range(
    start: dt.date | None, end: dt.date | None, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The range a report covers: 30 days ending today, or from ``start``, or up to ``end``."""
    span = dt.timedelta(days=DEFAULT_DAYS - 1)
    if start is None and end is None:
        end = today
    if start is None:
        assert end is not None
        start = end - span
    if end is None:
        end = start + span
    return start, end


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 decimals; None when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


def median_seconds(values: Iterable[float]) -> float | None:
    """The median of ``values``, rounded to 3 decimals; None when there are none."""
    values = list(values)
    return round(statistics.median(values), 3) if values else None


def url_host(url: str | None) -> str | None:
    """The lower-case host of a URL, or None."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host or None


def utm_source(url: str | None) -> str | None:
    """The ``utm_source`` value of a URL's query string, or None."""
    if not url or "utm_source" not in url:
        return None
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    return next((v for k, v in parse_qsl(query) if k == "utm_source" and v), None)


def top(counts: Mapping[str, int], limit: int = TOP_VALUES) -> Iterator[tuple[str, int]]:
    """The ``limit`` largest counts, largest first, ties by key."""
    return iter(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit])


class Where:
    """The WHERE clause over ``journey_session s`` of a query's sessions, with its params
    (without ``ranged``, of its journey and filters only)."""

    def __init__(self, db: Database, query: Query, ranged: bool = True) -> None:
        start, end = query.bounds()
        clauses = ["s.journey_id = {p}"]
        self.params: list[Any] = [query.journey_id]
        if ranged:
            clauses += ["s.first_at >= {p}", "s.first_at < {p}"]
            self.params += [db_time(db, start), db_time(db, end)]
        for name, value in sorted(query.filters.items()):
            column = SEGMENTS[name]
            if value == NONE:
                clauses.append(f"s.{column} IS NULL")
            else:
                clauses.append(f"s.{column} = {{p}}")
                self.params.append(value)
        self.sql = " AND ".join(clauses)


def segment_sql(name: str) -> str:
    """A session's value of a segment in SQL over ``journey_session s``: :data:`NONE` when it
    has none, as :meth:`.rollup.SessionSeen.segment` reads it."""
    return f"COALESCE(NULLIF(s.{SEGMENTS[name]}, ''), '{NONE}')"

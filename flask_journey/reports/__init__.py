"""The read side: a journey's report, from summaries kept off the ingest path.

- :mod:`.query`: what a report is asked for (:class:`Query`) and the shared small definitions;
- :mod:`.summary`: one session's events summarised (pure);
- :mod:`.rollup`: what a session adds to its journey's rollups, and durations' buckets (pure);
- :mod:`.refresh`: the summaries and rollups kept up to date with the events table,
  incrementally;
- :mod:`.rollups`: the rollups in the database, and a report's sums from them;
- :mod:`.policy`: when a report refreshes them first (the app's ``refresh_policy``);
- :mod:`.compute`: a report from its sums;
- :mod:`.reference`: the same report from raw events, slow and obvious (the tests' oracle);
- :mod:`.tables`: a report as CSV and terminal tables.

:func:`report` is the one entry the Python API, the HTTP report API, the CLI and the dashboard
share. ``docs/reports.md`` defines every number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from peewee import Database

from ..config import Settings
from ..db import using
from ..models import Journey
from .compute import compute, compute_overview
from .policy import NeverRefresh, RefreshPolicy, RefreshWhenOlder
from .query import SEGMENTS, Query, default_range, utc_now
from .refresh import Rolling, refreshed_at
from .vocabulary import Limits

__all__ = [
    "SEGMENTS",
    "NeverRefresh",
    "Query",
    "RefreshPolicy",
    "RefreshWhenOlder",
    "ReportError",
    "default_policy",
    "overview",
    "parse_options",
    "report",
]

#: The dates a report may cover: its previous period and time zones stay within datetime's.
EARLIEST = dt.date(1970, 1, 1)
LATEST = dt.date(2999, 12, 31)
#: The longest range, in days (ten years).
MAX_DAYS = 3660


class ReportError(ValueError):
    """A report parameter that cannot be used; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter} {message}")
        self.parameter = parameter


def _date(name: str, value: str | None) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ReportError(name, "must be a date (YYYY-MM-DD)") from None


def parse_options(args: Mapping[str, str | None]) -> dict[str, Any]:
    """Report keyword arguments from text parameters (``from``, ``to``, ``compare``,
    ``breakdown`` and the segment filters), as the report API and the CLI receive them."""
    compare = (args.get("compare") or "true").lower()
    if compare not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ReportError("compare", "must be true or false")
    return {
        "start": _date("from", args.get("from")),
        "end": _date("to", args.get("to")),
        "breakdown": args.get("breakdown") or None,
        "compare": compare in ("true", "1", "yes", "on"),
        "filters": {name: args[name] for name in SEGMENTS if args.get(name)},
    }


def report(
    db: Database,
    journey: Journey,
    settings: Settings,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    filters: Mapping[str, str] | None = None,
    breakdown: str | None = None,
    compare: bool = True,
    previous: str = "full",
    now: dt.datetime | None = None,
    refresh_policy: RefreshPolicy | None = None,
) -> dict[str, Any]:
    """The report of ``journey`` (see ``docs/reports.md``), as plain data.

    ``settings`` give the time zone and the idle minutes that close a session;
    ``refresh_policy`` (the app's ``refresh_policy``) says whether the summaries are refreshed
    first: by default when they are older than the settings' staleness. On the replica of
    ``JOURNEY_REPORT_DATABASE_URL`` they never are: a standby cannot be written, so the report
    shows what it has replayed (``refreshedAt`` says when the primary refreshed it).
    With ``compare``, the previous period is under ``"previous"``: the whole report for it, or
    only its range and totals when ``previous`` is ``"totals"`` (all the dashboard shows of it).
    Raises :class:`ReportError` for a filter or breakdown that is no segment, or a range that
    ends before it starts.
    """
    if previous not in ("full", "totals"):
        raise ReportError("previous", "must be full or totals")
    query, refreshed = _query(
        db, journey, settings, start, end, filters, breakdown, compare, now, refresh_policy
    )
    return _labelled(journey, compute(db, query, previous=previous), refreshed)


def overview(
    db: Database,
    journey: Journey,
    settings: Settings,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    now: dt.datetime | None = None,
    refresh_policy: RefreshPolicy | None = None,
) -> dict[str, Any]:
    """A journey's totals and trend, with the previous period's totals: a line of a list of
    journeys. The same numbers as :func:`report`'s, computed from the session rows alone."""
    query, refreshed = _query(
        db, journey, settings, start, end, None, None, True, now, refresh_policy
    )
    return _labelled(journey, compute_overview(db, query), refreshed)


def _query(
    db: Database,
    journey: Journey,
    settings: Settings,
    start: dt.date | None,
    end: dt.date | None,
    filters: Mapping[str, str] | None,
    breakdown: str | None,
    compare: bool,
    now: dt.datetime | None,
    refresh_policy: RefreshPolicy | None,
) -> tuple[Query, dt.datetime | None]:
    """The checked question, and when the summaries were refreshed (first, if the policy says
    so and ``db`` is the primary)."""
    filters = dict(filters or {})
    for name in filters:
        if name not in SEGMENTS:
            raise ReportError(name, f"is not a segment (one of {', '.join(SEGMENTS)})")
    if breakdown is not None and breakdown not in SEGMENTS:
        raise ReportError("breakdown", f"must be one of {', '.join(SEGMENTS)}")
    timezone = settings.report_timezone
    now = now or utc_now()
    query = Query(journey.id, (), dt.date.min, dt.date.min, timezone)
    today = now.replace(tzinfo=dt.timezone.utc).astimezone(query.zone).date()
    for name, day in (("from", start), ("to", end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise ReportError(name, f"must be between {EARLIEST} and {LATEST}")
    start, end = default_range(start, end, today)
    if end < start:
        raise ReportError("to", "must not be before from")
    if (end - start).days >= MAX_DAYS:
        raise ReportError("from", f"must be at most {MAX_DAYS} days before to")
    if settings.report_database_url is None:
        (refresh_policy or default_policy(settings)).before_report(db, now)
    last = refreshed_at(db)
    with using(db):
        steps = tuple(journey.configured_steps())
    query = Query(
        journey.id,
        steps,
        start,
        end,
        timezone,
        filters,
        breakdown,
        compare,
        dt.timedelta(minutes=settings.session_idle_minutes),
        now,
        tuple(journey.optional_steps()),
        dt.timedelta(days=settings.application_idle_days),
        settings.max_segment_values,
    )
    return query, last


def default_policy(settings: Settings) -> RefreshWhenOlder:
    """An app's refresh policy unless its host sets another: refresh when the summaries are
    ``JOURNEY_REPORT_MAX_STALENESS`` seconds old."""
    return RefreshWhenOlder(settings.report_max_staleness, Limits.of(settings), rolling(settings))


def rolling(settings: Settings) -> Rolling:
    """How an app's refreshes keep the rollups: in its report time zone, a session over after
    its idle minutes."""
    return Rolling(
        settings.report_timezone,
        dt.timedelta(minutes=settings.session_idle_minutes),
        settings.max_segment_values,
    )


def _labelled(
    journey: Journey, result: dict[str, Any], refreshed: dt.datetime | None
) -> dict[str, Any]:
    return {
        "orgKey": journey.organization.slug,
        "journeyKey": journey.slug,
        **result,
        "refreshedAt": refreshed.isoformat(timespec="seconds") + "Z" if refreshed else None,
    }

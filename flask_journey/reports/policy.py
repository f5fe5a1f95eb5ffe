"""When a report brings the summaries up to date first: a policy the host (or its cron) owns.

An app's policy is ``app.extensions["journey"].refresh_policy``; by default
:class:`RefreshWhenOlder` with ``JOURNEY_REPORT_MAX_STALENESS``. A site that refreshes from cron
(``flask journey refresh``) sets :class:`NeverRefresh`, so that no report request ever waits for
a refresh or its lock. ``docs/reports.md`` says when to choose which.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from peewee import Database

from .refresh import Rolling, refresh, refreshed_at
from .vocabulary import Limits


class RefreshPolicy(Protocol):
    """Decides, before a report is computed, whether the summaries are refreshed first."""

    def before_report(self, db: Database, now: dt.datetime) -> None:
        """Refresh ``db``'s summaries now, or not (``now``: naive UTC)."""
        ...


@dataclass(frozen=True)
class RefreshWhenOlder:
    """Refresh first when the summaries are ``seconds`` old or older (0: before every report);
    the refresh bounds each journey's vocabulary by ``limits`` and keeps the rollups as
    ``rolling`` says."""

    seconds: float
    limits: Limits
    rolling: Rolling = Rolling()

    def before_report(self, db: Database, now: dt.datetime) -> None:
        last = refreshed_at(db)
        if last is None or (now - last).total_seconds() >= self.seconds:
            refresh(db, limits=self.limits, rolling=self.rolling)


@dataclass(frozen=True)
class NeverRefresh:
    """Never refresh before a report: something else does (``flask journey refresh`` from
    cron, or :func:`flask_journey.api.refresh`), and reports show the summaries as they are."""

    def before_report(self, db: Database, now: dt.datetime) -> None:
        return None

"""What a dashboard page shows, read from its URL: range preset, dates, compare, filters,
breakdown and the field table's order (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from ..reports import SEGMENTS, ReportError, parse_options

#: Range presets, in days, and the default.
PRESETS = (7, 30, 90)
DEFAULT_PRESET = 30
#: Columns the field table can be ordered by; the default puts the worst fields first.
FIELD_ORDERS = (
    "worst",
    "fieldKey",
    "stepKey",
    "starters",
    "returns",
    "errorSessions",
    "errorRate",
    "abandons",
    "abandonShare",
    "medianSeconds",
)


@dataclass(frozen=True)
class View:
    """One dashboard view: the report's arguments and how the page presents them."""

    preset: str
    start: dt.date
    end: dt.date
    compare: bool
    filters: dict[str, str] = field(default_factory=dict)
    breakdown: str | None = None
    order: str = "worst"
    descending: bool = True

    def report_options(self) -> dict[str, Any]:
        """Keyword arguments of the report this view shows."""
        return {
            "start": self.start,
            "end": self.end,
            "compare": self.compare,
            "filters": dict(self.filters),
            "breakdown": self.breakdown,
        }

    def report_params(self) -> dict[str, str]:
        """The report API's query parameters for the same report."""
        params = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "compare": "true" if self.compare else "false",
        }
        params.update(self.filters)
        if self.breakdown:
            params["breakdown"] = self.breakdown
        return params

    def download_query(self, table: str | None = None) -> str:
        """``?...`` of a download of the same report (one CSV table, or the JSON)."""
        params = self.report_params()
        if table:
            params["table"] = table
        return "?" + urlencode(params)

    def page_params(self, **changes: Any) -> dict[str, str]:
        """The page's own query parameters, with ``changes`` applied (None removes one)."""
        params: dict[str, Any] = {"range": self.preset}
        if self.preset == "custom":
            params.update({"from": self.start.isoformat(), "to": self.end.isoformat()})
        params["compare"] = "on" if self.compare else "off"
        params.update(self.filters)
        params["breakdown"] = self.breakdown
        if (self.order, self.descending) != ("worst", True):
            params.update(sort=self.order, dir="desc" if self.descending else "asc")
        params.update(changes)
        return {key: str(value) for key, value in params.items() if value not in (None, "")}

    def query(self, **changes: Any) -> str:
        """``?...`` of the page with ``changes``."""
        return "?" + urlencode(self.page_params(**changes))

    def sort_query(self, column: str) -> str:
        """The page ordered by ``column``: descending first, then flipped."""
        descending = not (self.order == column and self.descending)
        if column in ("fieldKey", "stepKey") and self.order != column:
            descending = False
        return self.query(sort=column, dir="desc" if descending else "asc")


def _shown_dates(args: Mapping[str, str], preset: str, today: dt.date) -> tuple[str, str]:
    """The dates the page's form showed (its ``shown`` parameter, ``from/to``); for an address
    written by hand, the preset's own."""
    shown = (args.get("shown") or "").split("/")
    if len(shown) == 2:
        return shown[0], shown[1]
    start = today - dt.timedelta(days=int(preset) - 1)
    return start.isoformat(), today.isoformat()


def read_view(args: Mapping[str, str], today: dt.date) -> View:
    """The view a page's query parameters ask for; :class:`ReportError` names a bad one.

    Dates typed beside a preset select a custom range: the page has no script to switch the
    period to "Custom dates", so the server does, when ``from`` or ``to`` differs from the date
    the form showed; a date left as shown keeps its value."""
    preset = args.get("range") or str(DEFAULT_PRESET)
    if preset in {str(days) for days in PRESETS} and (args.get("from") or args.get("to")):
        shown = _shown_dates(args, preset, today)
        typed = (args.get("from") or shown[0], args.get("to") or shown[1])
        if typed != shown:
            args = {**args, "from": typed[0], "to": typed[1]}
            preset = "custom"
    if preset == "custom":
        options = parse_options({"from": args.get("from"), "to": args.get("to")})
        start, end = options["start"], options["end"]
        if start is None or end is None:
            raise ReportError("from" if start is None else "to", "is required for a custom range")
    elif preset in {str(days) for days in PRESETS}:
        end = today
        start = today - dt.timedelta(days=int(preset) - 1)
    else:
        raise ReportError("range", f"must be {', '.join(map(str, PRESETS))} or custom")
    compare = (args.get("compare") or "on").lower()
    if compare not in ("on", "off"):
        raise ReportError("compare", "must be on or off")
    breakdown = args.get("breakdown") or None
    if breakdown is not None and breakdown not in SEGMENTS:
        raise ReportError("breakdown", f"must be one of {', '.join(SEGMENTS)}")
    order = args.get("sort") or "worst"
    if order not in FIELD_ORDERS:
        raise ReportError("sort", f"must be one of {', '.join(FIELD_ORDERS)}")
    direction = args.get("dir") or "desc"
    if direction not in ("asc", "desc"):
        raise ReportError("dir", "must be asc or desc")
    return View(
        preset,
        start,
        end,
        compare == "on",
        {name: args[name] for name in SEGMENTS if args.get(name)},
        breakdown,
        order,
        direction == "desc",
    )


def _rank(value: Any) -> Any:
    """A cell's place in an order: a count hidden from a shared view (``"< 10"``) between 0 and
    the shown counts, all hidden ones alike; no value at all (None) before every number."""
    if isinstance(value, str) and value.startswith("< "):
        return float(value[2:]) - 0.5
    return -1 if value is None else value


def _worst(row: dict[str, Any]) -> tuple:
    return tuple(_rank(row[key]) for key in ("abandons", "errorRate", "returns", "starters"))


def order_fields(rows: list[dict[str, Any]], view: View) -> list[dict[str, Any]]:
    """The field rows in the view's order; ``worst`` ranks abandons, then error rate."""
    if view.order == "worst":
        return sorted(rows, key=_worst, reverse=True)
    if view.order in ("fieldKey", "stepKey"):
        return sorted(rows, key=lambda row: row[view.order] or "", reverse=view.descending)
    return sorted(rows, key=lambda row: _rank(row[view.order]), reverse=view.descending)

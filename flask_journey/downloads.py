"""A journey's report as an HTTP download: the report API's answer and the dashboard's links."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from .reports.tables import to_csv


def report_response(report: dict[str, Any], fmt: str, table: str, name: str) -> Response:
    """``report`` as JSON (``fmt="json"``) or as the CSV of one of its tables (``"csv"``; one
    of :data:`~flask_journey.reports.tables.TABLES`), saved as ``<name>.json`` or
    ``<name>-<table>.csv``. The caller has checked ``fmt`` and ``table``."""
    if fmt == "json":
        response = jsonify(report)
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response
    return Response(
        to_csv(report, table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-{table}.csv"'},
    )


def report_name(org: str, journey: str, report: dict[str, Any]) -> str:
    """The file name of a journey's report download, without its extension."""
    return f"{org}-{journey}-{report['from']}-{report['to']}"

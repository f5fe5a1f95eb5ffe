"""The canonical event and the one way events are stored, whatever format they came in.

A wire-format adapter hands :func:`store` a list of canonical events: dicts whose keys are
:data:`FIELDS`. Here they are scrubbed (:mod:`flask_journey.privacy`), enriched from the user
agent, and written in one transaction that skips event ids the journey already has.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from typing import Any

from peewee import Database

from .db import is_sqlite
from .models import Event, Usage, database, utcnow
from .privacy import describe_user_agent, scrub_url, strip_sensitive, url_path
from .tenants import Tenant

#: Keys of a canonical event; all but ``event_id``, ``type`` and ``occurred_at`` are optional.
FIELDS = (
    "event_id",
    "type",
    "name",
    "occurred_at",
    "session_id",
    "client_id",
    "user_id",
    "instance_id",
    "url",
    "path",
    "referrer",
    "title",
    "step_key",
    "field_key",
    "error_type",
    "device_class",
    "browser",
    "os",
    "language",
    "source",
    "schema_version",
    "embed_version",
    "category",
    "label",
    "value",
    "properties",
)

#: Keys an adapter may add that are used for enrichment and never stored.
TRANSIENT = ("user_agent",)

COLUMNS = ("journey", "wire_format", "received_at", *FIELDS)

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


@lru_cache(maxsize=8)
def _insert_sql(db: Database) -> str:
    def quote(name: str) -> str:
        return f"{db.quote[0]}{name}{db.quote[1]}"

    param = db.param
    columns = ", ".join(quote(Event._meta.fields[c].column_name) for c in COLUMNS)
    params = ", ".join([param] * len(COLUMNS))
    return (
        f"INSERT INTO {quote(Event._meta.table_name)} ({columns}) VALUES ({params}) "
        f"ON CONFLICT ({quote('journey_id')}, {quote('event_id')}) DO NOTHING"
    )


def _prepare(event: dict[str, Any], keep_query_values: bool) -> dict[str, Any]:
    """Apply the privacy rules and the user-agent enrichment to one canonical event."""
    user_agent = event.pop("user_agent", None)
    if user_agent:
        device = describe_user_agent(user_agent)
        event["device_class"] = event.get("device_class") or device.device_class
        event["browser"] = event.get("browser") or device.browser
        event["os"] = event.get("os") or device.os
    url = event.get("url")
    if url:
        event["path"] = event.get("path") or url_path(url)
        event["url"] = scrub_url(url, keep_query_values)
    if event.get("referrer"):
        event["referrer"] = scrub_url(event["referrer"], keep_query_values)
    props = event.get("properties")
    event["properties"] = strip_sensitive(props) if props else None
    return event


def store(
    tenant: Tenant,
    wire_format: str,
    events: list[dict[str, Any]],
    *,
    keep_query_values: bool = False,
) -> int:
    """Store a batch in one transaction and meter it; return how many events were new.

    Events whose ``event_id`` the journey already has are skipped, so a retried batch stores
    nothing twice. Nothing is written unless everything is.
    """
    db = database.obj
    received = utcnow()
    sqlite = is_sqlite(db)
    rows = []
    for event in events:
        _prepare(event, keep_query_values)
        row = [tenant.journey.id, wire_format, received]
        row.extend(event.get(name) for name in FIELDS)
        rows.append(row)
    time_columns = (COLUMNS.index("received_at"), COLUMNS.index("occurred_at"))
    props_column = COLUMNS.index("properties")
    for row in rows:
        if sqlite:
            for i in time_columns:
                row[i] = row[i].strftime(_SQLITE_TIME)
        if row[props_column] is not None:
            row[props_column] = json.dumps(row[props_column], separators=(",", ":"))
    with db.atomic():
        cursor = db.cursor()
        cursor.executemany(_insert_sql(db), rows)
        inserted = max(cursor.rowcount, 0)
        _meter(tenant, received, inserted)
    return inserted


def _meter(tenant: Tenant, when: dt.datetime, events: int) -> None:
    Usage.insert(
        organization=tenant.org.id, period=when.strftime("%Y-%m"), events=events, requests=1
    ).on_conflict(
        conflict_target=[Usage.organization, Usage.period],
        update={Usage.events: Usage.events + events, Usage.requests: Usage.requests + 1},
    ).execute()

"""Seed 002, the event tracker: ``POST /collect/{aid}/{tid}/event`` with one event.

``aid`` and ``tid`` are the organization's and the journey's ids (``accountId``/``trackerId`` in
``flask journey show``), in decimal or as the UUID whose integer they are (the seed allows
UUIDs). Success is ``204`` with an empty body; a refusal is ``{"error": "..."}`` with a 4xx
status, and nothing is tracked. ``instance_id`` links the event to web sessions that carry the
same one (the report's ``outcomes``).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from marshmallow import EXCLUDE, Schema

from ..events import CanonicalEvent, Tenant, utcnow
from ..outcomes import Refusal, TenantNotFound
from ..privacy import strip_personal
from ._base import Incoming, Parsed, Reply, WireFormat, event_id, json_object
from ._fields import MAX_KEY_LENGTH, JsonObject, text

#: A path id this site can have issued: a positive integer that fits a 64-bit column.
_ID = re.compile(r"^[1-9][0-9]{0,17}$")
_MAX_ID = 10**18
#: The same id as a UUID, in its canonical form: ``00000000-0000-0000-0000-00000000002a`` is 42.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


class CollectSchema(Schema):
    """The required fields; every other field of the body is kept as a property."""

    class Meta:
        unknown = EXCLUDE

    action = text(128, required=True)
    object = text(128, required=True)
    vendor = text(128, required=True)
    product = text(128, required=True)
    instance_id = text(128, required=True)


_event = CollectSchema()
_extras = JsonObject()


def path_id(value: str, what: str) -> int:
    """An ``aid``/``tid`` path segment as an id; one this site cannot have issued is not found."""
    if _ID.match(value):
        return int(value)
    number = uuid.UUID(value).int if _UUID.match(value) else 0
    if not 0 < number < _MAX_ID:
        raise TenantNotFound(what)
    return number


class CollectFormat(WireFormat):
    name = "collect"
    routes = (("/collect/<aid>/<tid>/event", "event"),)
    cors_headers = ("Content-Type", "Idempotency-Key")
    operations = (("/collect/{aid}/{tid}/event", "Event tracker: one event", CollectSchema),)
    replies = {204: None}
    docs = "formats/collect.md"

    @classmethod
    def amend_schemas(cls, schemas: dict[str, Any], max_events: int) -> None:
        # The body's other fields are kept, under the rules of a free-form object.
        schemas["Collect"]["propertyNames"] = {"minLength": 1, "maxLength": MAX_KEY_LENGTH}

    def envelope(self, incoming: Incoming) -> dict[str, Any]:
        body = json_object(incoming.body)
        event = _event.load(body)
        extras = {key: value for key, value in body.items() if key not in _event.fields}
        event["properties"] = _extras.deserialize(extras)
        event["ids"] = (incoming.view_args["aid"], incoming.view_args["tid"])
        return event

    def locate(self, event: dict[str, Any]) -> Tenant:
        aid, tid = event["ids"]
        return self.lookup.by_ids(path_id(aid, "organization"), path_id(tid, "journey"))

    def parse(self, event: dict[str, Any], tenant: Tenant, incoming: Incoming) -> Parsed:
        # A browser sends an Origin header with its POST; a server does not.
        from_browser = incoming.origin is not None
        properties = strip_personal(
            {
                "object": event["object"],
                "vendor": event["vendor"],
                "product": event["product"],
                **event["properties"],
            }
        )
        content = {
            "type": "collect",
            "name": event["action"],
            "occurred_at": utcnow(),
            "instance_id": event["instance_id"],
            "source": "browser" if from_browser else "server",
            "properties": properties,
        }
        canonical = CanonicalEvent(
            event_id=event_id(tenant, content, incoming.idempotency_key, client_time=False),
            user_agent=incoming.user_agent if from_browser else None,
            country=self.country(incoming),
            **content,
        )
        return Parsed([canonical])

    def accepted(self, parsed: Parsed) -> Reply:
        return Reply(204)

    def refused(self, outcome: Refusal) -> Reply:
        return Reply(outcome.code, {"error": outcome.message})

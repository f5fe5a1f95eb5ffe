"""Seed 002, the event tracker: ``POST /collect/{aid}/{tid}/event`` with one event.

``aid`` and ``tid`` are the organization's and the journey's ids (``accountId``/``trackerId`` in
``flask journey show``). Success is ``204`` with an empty body; a refusal is ``{"error": "..."}``
with a 4xx status, and nothing is tracked.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify, request
from marshmallow import EXCLUDE, Schema

from ..models import utcnow
from ..outcomes import Refusal, TenantNotFound
from ..privacy import strip_personal
from ..tenants import Tenant, by_ids
from ._base import Parsed, WireFormat, json_object
from ._fields import JsonObject, text

#: A path id this site can have issued: a positive integer that fits a 64-bit column.
_ID = re.compile(r"^[1-9][0-9]{0,17}$")


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
    if not _ID.match(value):
        raise TenantNotFound(what)
    return int(value)


class CollectFormat(WireFormat):
    name = "collect"
    routes = (("/collect/<aid>/<tid>/event", "event"),)
    cors_headers = ("Content-Type", "Idempotency-Key")

    def envelope(self, body: Any, view_args: dict[str, Any]) -> dict[str, Any]:
        event = _event.load(json_object(body))
        extras = {key: value for key, value in body.items() if key not in _event.fields}
        event["properties"] = _extras.deserialize(extras)
        event["ids"] = (view_args["aid"], view_args["tid"])
        return event

    def locate(self, event: dict[str, Any]) -> Tenant:
        aid, tid = event["ids"]
        return by_ids(path_id(aid, "organization"), path_id(tid, "journey"), self.state.tenants)

    def parse(self, event: dict[str, Any], tenant: Tenant) -> Parsed:
        # A browser sends an Origin header with its POST; a server does not.
        from_browser = request.headers.get("Origin") is not None
        properties = strip_personal(
            {
                "object": event["object"],
                "vendor": event["vendor"],
                "product": event["product"],
                **event["properties"],
            }
        )
        canonical = {
            "type": "collect",
            "name": event["action"],
            "occurred_at": utcnow(),
            "instance_id": event["instance_id"],
            "source": "browser" if from_browser else "server",
            "properties": properties,
        }
        canonical["event_id"] = self.event_id(tenant, canonical, client_time=False)
        canonical["user_agent"] = request.headers.get("User-Agent") if from_browser else None
        return Parsed([canonical])

    def accepted(self, parsed: Parsed) -> Response:
        return Response(status=204)

    def refused(self, outcome: Refusal) -> Response:
        response = jsonify(error=outcome.message)
        response.status_code = outcome.code
        return response

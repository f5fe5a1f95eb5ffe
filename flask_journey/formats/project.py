"""Seed 004, project-key custom events: ``POST /api/events`` with one event.

``projectKey`` is the journey's public key, and the event's ``url`` must have one of the
journey's allowed origins. Success is ``200 {"success": true, "eventId", "sessionId"}``; a refusal
is ``{"success": false, "error": "..."}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from ..events import CanonicalEvent, Tenant, utcnow
from ..outcomes import Refusal, TenantNotFound
from ..privacy import strip_personal, url_origin
from ._base import Incoming, Parsed, Reply, WireFormat, event_id, json_object
from ._fields import JsonObject, iso_time, naive_utc, text

#: Longest category or label kept in its own column.
MAX_LABEL_LENGTH = 256
#: The magnitudes the ``value`` column holds on every backend (a PostgreSQL ``real``); a value
#: outside them (or a nonzero one too small for it) stays in the properties.
VALUE_RANGE = (1e-37, 3.4e38)


class ProjectEventSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    projectKey = text(64, required=True)
    event_name = text(256, required=True)
    event_data = JsonObject()
    url = text(
        2048,
        required=True,
        validate=[
            validate.URL(
                schemes={"http", "https"},
                require_tld=False,
                error="must be an absolute http(s) URL",
            )
        ],
    )
    page_title = text(512)
    page_path = text(2048)
    referrer = text(2048)
    userAgent = text(1024)
    sessionId = text(128)
    userId = text(128)
    timestamp = iso_time()


_event = ProjectEventSchema()


def _label(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text_ = str(value)
    return text_ if 0 < len(text_) <= MAX_LABEL_LENGTH else None


def _value(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    low, high = VALUE_RANGE
    return number if number == 0 or low <= abs(number) <= high else None


def extract(event_data: dict[str, Any]) -> tuple[str | None, str | None, float | None, dict]:
    """``category``, ``label`` and ``value`` of ``event_data``, and the rest of it.

    A category or label that is no short string or number, or a value that is no number (or
    numeric string) within :data:`VALUE_RANGE`, is left among the rest.
    """
    rest = dict(event_data)
    category, label, value = _label(rest.get("category")), _label(rest.get("label")), None
    if category is not None:
        del rest["category"]
    if label is not None:
        del rest["label"]
    if "value" in rest:
        value = _value(rest["value"])
        if value is not None:
            del rest["value"]
    return category, label, value, rest


class ProjectAccepted(Schema):
    success = fields.Boolean(required=True, validate=validate.Equal(True))
    eventId = fields.String(required=True)
    sessionId = fields.String(required=True)


class ProjectError(Schema):
    """``{"success": false, "error": "..."}``."""

    success = fields.Boolean(required=True, validate=validate.Equal(False))
    error = fields.String(required=True)


class ProjectFormat(WireFormat):
    name = "project"
    routes = (("/api/events", "event"),)
    cors_headers = ("Content-Type", "Idempotency-Key")
    operations = (("/api/events", "Project-key custom events: one event", ProjectEventSchema),)
    replies = {200: ProjectAccepted}
    error = ProjectError
    docs = "formats/project.md"

    def envelope(self, incoming: Incoming) -> dict[str, Any]:
        return _event.load(json_object(incoming.body))

    def locate(self, event: dict[str, Any]) -> Tenant:
        return self.lookup.by_public_key(event["projectKey"])

    def origins(self, event: dict[str, Any], incoming: Incoming) -> tuple[str | None, ...]:
        return (*super().origins(event, incoming), url_origin(event["url"]))

    def parse(self, event: dict[str, Any], tenant: Tenant, incoming: Incoming) -> Parsed:
        category, label, value, rest = extract(event.get("event_data") or {})
        when = event.get("timestamp")
        content = {
            "type": "custom",
            "name": event["event_name"],
            "occurred_at": naive_utc(when) if when else utcnow(),
            "session_id": event.get("sessionId"),
            "user_id": self.identity.user_id(event.get("userId")),
            "url": event["url"],
            "path": event.get("page_path"),
            "referrer": event.get("referrer"),
            "title": event.get("page_title"),
            "category": category,
            "label": label,
            "value": value,
            "properties": strip_personal(rest) or None,
        }
        identifier = event_id(
            tenant, content, incoming.idempotency_key, client_time=when is not None
        )
        # Generated from the event id, so that a retried request is answered the same session.
        content["session_id"] = content["session_id"] or str(
            uuid.uuid5(uuid.NAMESPACE_URL, identifier)
        )
        canonical = CanonicalEvent(
            event_id=identifier,
            user_agent=event.get("userAgent") or incoming.user_agent,
            country=self.country(incoming),
            **content,
        )
        return Parsed([canonical])

    def accepted(self, parsed: Parsed) -> Reply:
        event = parsed.events[0]
        body = {"success": True, "eventId": event.event_id, "sessionId": event.session_id}
        return Reply(200, body)

    def refused(self, outcome: Refusal) -> Reply:
        message = "Invalid project key" if isinstance(outcome, TenantNotFound) else outcome.message
        return Reply(outcome.code, {"success": False, "error": message})

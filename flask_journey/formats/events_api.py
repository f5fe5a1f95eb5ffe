"""Seed 003, the Events API: ``POST /api/v1/events/pageview`` and ``/api/v1/events/custom``.

Authenticated by ``Authorization: Bearer <secret key>`` (``flask journey create-key ORG``);
``site_id`` is the journey's public key. Success is ``201 {"success": true, "event_id":
"evt_..."}``; a refusal is ``{"error": {"code", "message", "field"}}``.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from ..events import CanonicalEvent, Tenant, utcnow
from ..outcomes import (
    BodyTooLarge,
    InsufficientScope,
    InvalidRequest,
    OriginRejected,
    RateLimited,
    Refusal,
    TenantNotFound,
    Unauthenticated,
)
from ..privacy import strip_personal
from ._base import (
    Incoming,
    Parsed,
    Reply,
    WireFormat,
    error_field,
    event_id,
    first_error,
    json_object,
)
from ._fields import REQUIRED, Properties, text

#: The documented limits of ``props``.
MAX_PROPS = 10
MAX_PROP_KEY_LENGTH = 50

#: Error codes by outcome, most specific first; ``invalid_props`` is an ``InvalidRequest``
#: about ``props``.
CODES: tuple[tuple[type[Refusal], str], ...] = (
    (InvalidRequest, "invalid_request"),
    (BodyTooLarge, "invalid_request"),
    (Unauthenticated, "unauthorized"),
    (InsufficientScope, "insufficient_scope"),
    (TenantNotFound, "invalid_site_id"),
    (OriginRejected, "invalid_site_id"),
    (RateLimited, "rate_limit_exceeded"),
)


class PageviewSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    site_id = text(64, required=True)
    url = text(2048, required=True)
    referrer = text(2048)
    user_agent = text(1024)
    # The visitor's address: its country is kept (JOURNEY_GEOIP), the address never is.
    ip_address = text(64)


class CustomSchema(PageviewSchema):
    event_name = text(256, required=True)
    props = Properties(max_keys=MAX_PROPS, max_key_length=MAX_PROP_KEY_LENGTH, null_values=False)

    @validates_schema
    def _instance_id(self, data: dict[str, Any], **kwargs: Any) -> None:
        """``props.instance_id`` links the event to a web session (seed 002): a string."""
        instance = (data.get("props") or {}).get("instance_id")
        if instance is not None and not (isinstance(instance, str) and 0 < len(instance) <= 128):
            raise ValidationError("instance_id must be a string of 1 to 128 characters", "props")


SCHEMAS: dict[str, Schema] = {"pageview": PageviewSchema(), "custom": CustomSchema()}


class EventsApiCreated(Schema):
    success = fields.Boolean(required=True, validate=validate.Equal(True))
    event_id = fields.String(required=True)


class EventsApiErrorDetail(Schema):
    code = fields.String(
        required=True,
        validate=validate.OneOf(
            sorted({code for _, code in CODES} | {"invalid_props", "service_unavailable"})
        ),
    )
    message = fields.String(required=True)
    field = fields.String(required=True, allow_none=True)


class EventsApiError(Schema):
    """``{"error": {"code", "message", "field"}}``."""

    error = fields.Nested(EventsApiErrorDetail, required=True)


class EventsApiFormat(WireFormat):
    name = "events_api"
    routes = (("/api/v1/events/<any(pageview, custom):kind>", "event"),)
    cors_headers = ("Content-Type", "Authorization", "Idempotency-Key")
    authenticated = True
    operations = (
        ("/api/v1/events/pageview", "Events API: a page view", PageviewSchema),
        ("/api/v1/events/custom", "Events API: a custom event", CustomSchema),
    )
    replies = {201: EventsApiCreated}
    error = EventsApiError
    docs = "formats/events_api.md"

    def envelope(self, incoming: Incoming) -> dict[str, Any]:
        org = self.lookup.authenticate(incoming.authorization)
        kind = incoming.view_args["kind"]
        event = SCHEMAS[kind].load(json_object(incoming.body))
        event.update(kind=kind, org=org)
        return event

    def locate(self, event: dict[str, Any]) -> Tenant:
        tenant = self.lookup.by_public_key(event["site_id"])
        if tenant.org.id != event["org"].id:
            raise TenantNotFound("journey")
        return tenant

    def invalid(self, error: ValidationError) -> InvalidRequest:
        path, message = first_error(error.messages)
        name = error_field(path)
        if message == REQUIRED:
            return InvalidRequest(f"Missing required field: {name}", name)
        return InvalidRequest(f"Invalid field {name}: {message}", name)

    def parse(self, event: dict[str, Any], tenant: Tenant, incoming: Incoming) -> Parsed:
        props = dict(event.get("props") or {})
        # Seed 002's instance id, linking a server-side outcome to a web session: a column.
        instance_id = props.pop("instance_id", None)
        content = {
            "type": event["kind"],
            "name": event.get("event_name"),
            "occurred_at": utcnow(),
            "url": event["url"],
            "referrer": event.get("referrer"),
            "properties": strip_personal(props) or None,
        }
        if instance_id is not None:
            content["instance_id"] = instance_id
        canonical = CanonicalEvent(
            event_id=event_id(tenant, content, incoming.idempotency_key, client_time=False),
            user_agent=event.get("user_agent"),
            # A server sends these: its own address is not the visitor's, only ip_address is.
            country=self.geo.country(event.get("ip_address")),
            **content,
        )
        return Parsed([canonical])

    def accepted(self, parsed: Parsed) -> Reply:
        return Reply(201, {"success": True, "event_id": parsed.events[0].event_id})

    def refused(self, outcome: Refusal) -> Reply:
        code = next((c for cls, c in CODES if isinstance(outcome, cls)), "service_unavailable")
        field = getattr(outcome, "field", None)
        message = outcome.message
        if isinstance(outcome, InvalidRequest) and field == "props":
            code = "invalid_props"
        elif isinstance(outcome, TenantNotFound):
            message, field = "Site ID not found or access denied", "site_id"
        return Reply(outcome.code, {"error": {"code": code, "message": message, "field": field}})

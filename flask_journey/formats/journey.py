"""Seed 000, journey events: ``POST /api/ingest`` with a batch of tagged events.

Success is ``204`` with no body; every refusal is ``{"error": "..."}`` with the seed's wording.
A pure adapter (:mod:`flask_journey.formats._base`); the flow running it is
:mod:`flask_journey.ingest`, which also stores Python-built batches of this format
(:func:`flask_journey.ingest.store_batch`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from ..applications import KEY
from ..events import CanonicalEvent, Tenant
from ..outcomes import InvalidRequest, Refusal
from ._base import Incoming, Parsed, Reply, WireFormat
from ._fastload import fast_loader
from ._fields import InUtcRange, text

TAGS = (
    "session_start",
    "session_end",
    "page_view",
    "step_view",
    "field_focus",
    "field_blur",
    "field_change",
    "validation_error",
    "submit_attempt",
    "submit_success",
    "dropoff_signal",
)
DEVICE_CLASSES = ("desktop", "mobile", "tablet", "bot", "other")
#: What a device class the seed does not name (``"laptop"``) is stored as.
OTHER_DEVICE = "other"

_REQUIRED: dict[str, Any] = {"required": "is required", "null": "is required"}


def _schema_version() -> fields.Integer:
    return fields.Integer(
        required=True,
        strict=True,
        validate=validate.Equal(1, error="must be 1"),
        error_messages={**_REQUIRED, "invalid": "must be an integer"},
    )


def _application_key() -> fields.String:
    """An application key: a raw application id is refused, never stored."""
    return text(
        35,
        validate=[
            validate.Regexp(
                KEY,
                error="must be an application key (ak_ and 32 hex digits, as "
                "journey_embed(application=...) and api.application_key make it)",
            )
        ],
    )


class ContextSchema(Schema):
    error_messages = {"type": "must be an object"}

    class Meta:
        unknown = EXCLUDE

    orgKey = text(64, required=True)
    journeyKey = text(64, required=True)
    language = text(35)
    #: Seed 002's instance id, for every event of the batch that names none of its own.
    instanceId = text(128)
    #: The application every event of the batch that names none of its own belongs to.
    applicationKey = _application_key()
    #: Any string: the seed lists no values, so one not in :data:`DEVICE_CLASSES` is kept as
    #: :data:`OTHER_DEVICE` rather than refusing the batch.
    deviceClass = fields.String(allow_none=True, error_messages={"invalid": "must be a string"})


class EventSchema(Schema):
    """One event: the base properties and every tag's own properties.

    Unknown properties are dropped, never stored: they could carry what a visitor typed.
    """

    class Meta:
        unknown = EXCLUDE

    _tag = fields.String(
        required=True,
        data_key="_tag",
        validate=validate.OneOf(TAGS, error="must be one of: {choices}"),
        error_messages={**_REQUIRED, "invalid": "must be a string"},
    )
    schemaVersion = _schema_version()
    id = text(128, required=True)
    ts = fields.AwareDateTime(
        required=True,
        format="iso",
        default_timezone=dt.timezone.utc,
        validate=InUtcRange(),
        error_messages={
            **_REQUIRED,
            "invalid": "must be a valid ISO 8601 timestamp",
            "format": "must be a valid ISO 8601 timestamp",
        },
    )
    orgKey = text(64, required=True)
    journeyKey = text(64, required=True)
    sessionId = text(128, required=True)
    clientId = text(128, required=True)
    url = text(2048, required=True)
    referrer = text(2048)
    embedVersion = text(32)
    source = text(64)
    title = text(512)
    stepKey = text(128)
    fieldKey = text(128)
    errorType = text(64)
    reason = text(64)
    instanceId = text(128)
    applicationKey = _application_key()

    @validates_schema
    def _step_view_names_its_step(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("_tag") == "step_view" and not data.get("stepKey"):
            raise ValidationError("is required for step_view", "stepKey")


class BatchSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    schemaVersion = _schema_version()
    context = fields.Nested(ContextSchema, required=True, error_messages=_REQUIRED)
    events = fields.List(
        fields.Dict(error_messages={"invalid": "must be objects"}),
        required=True,
        error_messages={
            "required": "array is required",
            "null": "array is required",
            "invalid": "must be an array",
        },
    )


_load_batch = fast_loader(BatchSchema())
_load_event = fast_loader(EventSchema())


def device_class_of(value: str | None) -> str | None:
    """A batch's ``context.deviceClass`` as stored: one of :data:`DEVICE_CLASSES`, or None."""
    if not value:
        return None
    return value if value in DEVICE_CLASSES else OTHER_DEVICE


def load_event(raw: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """One event of a batch, validated; it must name the batch's organization and journey.

    Raises marshmallow's ``ValidationError`` or ``InvalidRequest``.
    """
    event = _load_event(raw)
    if event["orgKey"] != context["orgKey"]:
        raise InvalidRequest("orgKey must match context.orgKey", "orgKey")
    if event["journeyKey"] != context["journeyKey"]:
        raise InvalidRequest("journeyKey must match context.journeyKey", "journeyKey")
    return event


class JourneyFormat(WireFormat):
    name = "journey"
    routes = (("/api/ingest", "ingest"),)
    cors_headers = ("Content-Type", "Authorization")
    operations = (("/api/ingest", "Journey events, batched", BatchSchema),)
    replies = {204: None}
    docs = "formats/journey.md"
    #: The batch's events are validated one by one against ``EventSchema``.
    named_schemas = {"JourneyEvent": EventSchema}

    @classmethod
    def amend_schemas(cls, schemas: dict[str, Any], max_events: int) -> None:
        schemas["JourneyBatch"]["properties"]["events"].update(
            items={"$ref": "#/components/schemas/JourneyEvent"}, maxItems=max_events
        )

    def envelope(self, incoming: Incoming) -> dict[str, Any]:
        body = incoming.body
        if not isinstance(body, dict):
            raise InvalidRequest("body must be a JSON object", "body")
        batch = _load_batch(body)
        limit = self.max_batch_events
        if len(batch["events"]) > limit:
            raise InvalidRequest(f"events must contain at most {limit} events", "events")
        return batch

    def locate(self, batch: dict[str, Any]) -> Tenant:
        context = batch["context"]
        return self.lookup.by_slugs(context["orgKey"], context["journeyKey"])

    def parse(self, batch: dict[str, Any], tenant: Tenant, incoming: Incoming) -> Parsed:
        context = batch["context"]
        device_class = device_class_of(context.get("deviceClass"))
        language = context.get("language")
        instance_id = context.get("instanceId")
        application = context.get("applicationKey")
        user_agent = incoming.user_agent
        country = self.country(incoming)
        seen: set[str] = set()
        events = []
        for raw in batch["events"]:
            event = load_event(raw, context)
            if event["id"] in seen:
                continue
            seen.add(event["id"])
            properties = {
                "reason": event.get("reason"),
                "applicationKey": event.get("applicationKey") or application,
            }
            events.append(
                CanonicalEvent(
                    event_id=event["id"],
                    type=event["_tag"],
                    occurred_at=event["ts"].astimezone(dt.timezone.utc).replace(tzinfo=None),
                    session_id=event["sessionId"],
                    client_id=event["clientId"],
                    instance_id=event.get("instanceId") or instance_id or None,
                    url=event["url"],
                    referrer=event.get("referrer"),
                    title=event.get("title"),
                    step_key=event.get("stepKey"),
                    field_key=event.get("fieldKey"),
                    error_type=event.get("errorType"),
                    device_class=device_class,
                    language=language,
                    country=country,
                    source=event.get("source"),
                    schema_version=event["schemaVersion"],
                    embed_version=event.get("embedVersion"),
                    properties={k: v for k, v in properties.items() if v} or None,
                    user_agent=user_agent,
                )
            )
        return Parsed(events)

    def accepted(self, parsed: Parsed) -> Reply:
        return Reply(204)

    def refused(self, outcome: Refusal) -> Reply:
        if isinstance(outcome, InvalidRequest):
            message = f"Invalid request: {outcome.message}"
        else:
            message = outcome.message
        return Reply(outcome.code, {"error": message})


class TrustedJourneyFormat(JourneyFormat):
    """Seed 000 for the site's own Python code (:func:`flask_journey.ingest.store_batch`).

    An invalid event is set aside in ``Parsed.rejected``; the endpoint refuses the whole batch.
    """

    def parse(self, batch: dict[str, Any], tenant: Tenant, incoming: Incoming) -> Parsed:
        context = batch["context"]
        valid, rejected = [], []
        for index, raw in enumerate(batch["events"]):
            try:
                load_event(raw, context)
            except ValidationError as err:
                rejected.append((index, self.invalid(err).message))
            except InvalidRequest as err:
                rejected.append((index, err.message))
            else:
                valid.append(raw)
        parsed = super().parse({**batch, "events": valid}, tenant, incoming)
        parsed.rejected = rejected
        return parsed

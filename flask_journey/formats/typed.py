"""Seed 001, typed events: ``POST /api/i/v1/{publicKey}/events`` with up to 100 events.

``200 {"success": true, "processed": N}`` when every event is stored; ``207`` with
``errors: [{"index", "message"}]`` when some are refused (the others are stored); a refusal of the
whole request is ``{"success": false, "processed": 0, "errors": [{"index": -1, "message"}]}``.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from ..events import CanonicalEvent, Tenant, utcnow
from ..outcomes import InvalidRequest, Refusal, TenantNotFound
from ..privacy import IdentityPolicy, is_sensitive_key, looks_like_email, strip_personal
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
from ._fields import (
    MAX_KEY_LENGTH,
    REQUIRED,
    JsonObject,
    Properties,
    StrictBoolean,
    UnixMillis,
    iso_time,
    naive_utc,
    number,
    text,
)

#: The most events one request may carry (the seed's documented limit).
MAX_EVENTS = 100
SOURCES = ("client", "server", "integration")
#: The seed's stages, and the browser SDK's ``user.inactive()``.
STAGES = ("activated", "engaged", "inactive", "paid", "churned")
#: The browser SDK's ``customer.trialing()``, ``.paid()`` and ``.churned()``.
BILLING_STATUSES = ("trialing", "paid", "churned")
PROVIDERS = ("cal.com", "calendly", "unknown")
#: Properties that name the user of a server event; used as identity, never stored as such.
IDENTITY_PROPERTIES = ("__email", "__userId")

INACTIVE = "Invalid or inactive tracking configuration"

#: What the vendor's SDKs accept as an email address (``isValidEmail`` in ``@outlit/core``).
_SDK_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
#: The part of a Cal.com booking title that names the people meeting: "30 Minute Demo between
#: Acme and Jane Doe". The browser SDK sends the whole title as ``eventType``.
_BETWEEN = re.compile(r"\s+between\s+.+\s+and\s+.+$", re.IGNORECASE | re.DOTALL)


def _is_sdk_email(value: str) -> bool:
    # The length first: the pattern backtracks on a long string without a dot.
    if len(value) > 128 or not _SDK_EMAIL.match(value):
        raise ValidationError("must be an email address")
    return True


def email() -> fields.String:
    """An optional email address, as the vendor's SDKs accept one (at most 128 characters)."""
    return text(128, validate=[_is_sdk_email])


def _one_of(choices: tuple[str, ...], **kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.OneOf(choices, error="must be one of: {choices}"),
        error_messages={"required": REQUIRED, "null": REQUIRED},
        **kwargs,
    )


class UserSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    email = email()
    userId = text(128)


class BatchSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    visitorId = text(128)
    source = _one_of(SOURCES, load_default="client")
    #: The browser SDK's session id, for every event of the batch.
    sessionId = text(128)
    #: Seed 002's instance id, for every event of the batch that names none of its own.
    instanceId = text(128)
    #: The user set with ``setUser()``/``identify()``; ``user`` is the name this format took
    #: before the SDK's was known, still accepted.
    userIdentity = fields.Raw(allow_none=True)
    user = fields.Raw(allow_none=True)
    events = fields.List(
        fields.Raw(),
        required=True,
        error_messages={"required": REQUIRED, "null": REQUIRED, "invalid": "must be an array"},
    )


class UtmSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    source = text(256)
    medium = text(256)
    campaign = text(256)
    term = text(256)
    content = text(256)


class EventSchema(Schema):
    """The fields every event type shares; unknown fields are dropped."""

    class Meta:
        unknown = EXCLUDE

    type = fields.String(required=True)
    timestamp = UnixMillis(allow_none=True)
    url = text(2048, required=True)
    path = text(2048, required=True)
    referrer = text(2048)
    utm = fields.Nested(UtmSchema, allow_none=True)
    sessionId = text(128)
    instanceId = text(128)


class PageviewSchema(EventSchema):
    title = text(512)


class PropertiesSchema(EventSchema):
    """An event with ``properties``, which may name a server event's user."""

    properties = Properties()

    @validates_schema
    def _identity_properties(self, data: dict[str, Any], **kwargs: Any) -> None:
        props = data.get("properties") or {}
        mail = props.get("__email")
        if mail is not None and not (
            isinstance(mail, str) and len(mail) <= 128 and looks_like_email(mail)
        ):
            raise ValidationError("must be an email address", "__email")
        user_id = props.get("__userId")
        if user_id is not None and not (isinstance(user_id, str) and 0 < len(user_id) <= 128):
            raise ValidationError("must be a string of 1 to 128 characters", "__userId")


class CustomSchema(PropertiesSchema):
    eventName = text(256, required=True)


class FormSchema(EventSchema):
    formId = text(256)
    formFields = fields.Dict(allow_none=True, error_messages={"invalid": "must be an object"})


class IdentifySchema(EventSchema):
    email = email()
    userId = text(128)
    traits = JsonObject()

    @validates_schema
    def _names_someone(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("email") and not data.get("userId"):
            raise ValidationError("or userId is required", "email")


class EngagementSchema(EventSchema):
    activeTimeMs = number()
    totalTimeMs = number()


class CalendarSchema(EventSchema):
    provider = _one_of(PROVIDERS, allow_none=True)
    eventType = text(256)
    startTime = iso_time()
    endTime = iso_time()
    duration = number()
    isRecurring = StrictBoolean(allow_none=True, error_messages={"invalid": "must be a boolean"})
    inviteeEmail = email()
    inviteeName = text(256)


class StageSchema(PropertiesSchema):
    stage = _one_of(STAGES, required=True)


class BillingSchema(PropertiesSchema):
    status = _one_of(BILLING_STATUSES, required=True)
    customerId = text(128)
    stripeCustomerId = text(128)
    domain = text(256)


SCHEMAS: dict[str, Schema] = {
    "pageview": PageviewSchema(),
    "custom": CustomSchema(),
    "form": FormSchema(),
    "identify": IdentifySchema(),
    "engagement": EngagementSchema(),
    "calendar": CalendarSchema(),
    "stage": StageSchema(),
    "billing": BillingSchema(),
}

_batch = BatchSchema()
_user = UserSchema()


class EventRefused(Exception):
    """One event of a batch is invalid; the others are still stored."""


def load_event(raw: Any) -> dict[str, Any]:
    """Validate one event against its type's schema; raise :class:`EventRefused` if invalid."""
    if not isinstance(raw, dict):
        raise EventRefused("Event must be an object")
    schema = SCHEMAS.get(raw["type"]) if isinstance(raw.get("type"), str) else None
    if schema is None:
        raise EventRefused("Invalid event type")
    try:
        return load_keeping_user_id(schema, raw)
    except ValidationError as err:
        path, message = first_error(err.messages)
        raise EventRefused(f"{error_field(path)} {message}") from None


def load_keeping_user_id(schema: Schema, raw: dict[str, Any]) -> dict[str, Any]:
    """``schema.load(raw)``; when only the email is refused and a userId is given, without it.

    The email is dropped, the user id and the rest are kept.
    """
    try:
        return schema.load(raw)
    except ValidationError as err:
        if set(err.messages) != {"email"} or not raw.get("userId"):
            raise
        return schema.load({k: v for k, v in raw.items() if k != "email"})


def event_type_without_names(event_type: str | None, invitee: str | None) -> str | None:
    """A calendar booking's meeting type without the names of the people meeting."""
    if not event_type:
        return event_type
    kept = _BETWEEN.sub("", event_type)
    if invitee and invitee.strip():
        kept = kept.replace(invitee.strip(), "")
    return kept.strip() or None


def details(event: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The ``name`` and the properties kept of one valid event, by its type.

    Form field values are never kept, only the names of fields that are not sensitive.
    """
    kind = event["type"]
    props: dict[str, Any] = {}
    name = None
    if kind == "custom":
        name = event["eventName"]
        props.update(event.get("properties") or {})
    elif kind == "stage":
        name = event["stage"]
        props.update(event.get("properties") or {})
    elif kind == "billing":
        name = event["status"]
        props.update(event.get("properties") or {})
        for key in ("customerId", "stripeCustomerId", "domain"):
            props[key] = event.get(key)
    elif kind == "form":
        name = event.get("formId")
        props["fields"] = [
            key
            for key in event.get("formFields") or {}
            if 0 < len(key) <= MAX_KEY_LENGTH and not is_sensitive_key(key)
        ]
    elif kind == "identify":
        props["traits"] = event.get("traits")
    elif kind == "engagement":
        props.update(activeTimeMs=event.get("activeTimeMs"), totalTimeMs=event.get("totalTimeMs"))
    elif kind == "calendar":
        for key in ("provider", "duration", "isRecurring"):
            props[key] = event.get(key)
        props["eventType"] = event_type_without_names(
            event.get("eventType"), event.get("inviteeName")
        )
        for key in ("startTime", "endTime"):
            props[key] = event[key].isoformat() if event.get(key) else None
    for key in IDENTITY_PROPERTIES:
        props.pop(key, None)
    utm = {k: v for k, v in (event.get("utm") or {}).items() if v is not None}
    if utm:
        props["utm"] = utm
    return name, {k: v for k, v in strip_personal(props).items() if v is not None and v != {}}


def identity_of(event: dict[str, Any]) -> tuple[str | None, str | None]:
    """The ``(email, userId)`` an event names its user by, if any."""
    props = event.get("properties") or {}
    mail = event.get("email") or event.get("inviteeEmail") or props.get("__email")
    return mail, event.get("userId") or props.get("__userId")


def stored_identity(
    policy: IdentityPolicy, mail: str | None, user_id: str | None
) -> tuple[str | None, str | None]:
    """``(user_id, email)`` as ``JOURNEY_IDENTITY`` says to store them.

    The user id, or else the email, goes in the user column; the email also goes in the
    properties when both were given.
    """
    if user_id:
        return policy.user_id(user_id), policy.email(mail)
    return policy.email(mail), None


class TypedError(Schema):
    index = fields.Integer(required=True, metadata={"description": "-1: the whole request"})
    message = fields.String(required=True)


class TypedResult(Schema):
    """Every answer, success or refusal."""

    success = fields.Boolean(required=True)
    processed = fields.Integer(required=True, validate=validate.Range(min=0))
    errors = fields.List(fields.Nested(TypedError))


class TypedFormat(WireFormat):
    name = "typed"
    routes = (("/api/i/v1/<public_key>/events", "events"),)
    cors_headers = ("Content-Type", "Idempotency-Key")
    operations = (("/api/i/v1/{publicKey}/events", "Typed events, batched", BatchSchema),)
    replies = {200: TypedResult, 207: TypedResult}
    error = TypedResult
    docs = "formats/typed.md"
    #: One schema per event ``type``; the batch is an array of any of them.
    named_schemas = {f"Typed{kind.title()}Event": type(schema) for kind, schema in SCHEMAS.items()}

    @classmethod
    def amend_schemas(cls, schemas: dict[str, Any], max_events: int) -> None:
        refs = []
        for kind in SCHEMAS:
            name = f"Typed{kind.title()}Event"
            schemas[name]["properties"]["type"] = {"const": kind}
            refs.append({"$ref": f"#/components/schemas/{name}"})
        batch = schemas["TypedBatch"]
        batch["properties"]["events"].update(
            items={"oneOf": refs}, maxItems=min(MAX_EVENTS, max_events)
        )
        # What envelope() checks beyond the schema.
        batch["if"] = {
            "not": {
                "required": ["source"],
                "properties": {"source": {"enum": [s for s in SOURCES if s != "client"]}},
            }
        }
        batch["then"] = {"required": ["visitorId"], "properties": {"visitorId": {"type": "string"}}}

    def envelope(self, incoming: Incoming) -> dict[str, Any]:
        batch = _batch.load(json_object(incoming.body))
        limit = min(MAX_EVENTS, self.max_batch_events)
        if len(batch["events"]) > limit:
            raise InvalidRequest(f"Too many events: at most {limit} per request", "events")
        if batch["source"] == "client" and not batch.get("visitorId"):
            raise InvalidRequest("visitorId is required for client events", "visitorId")
        key = "user" if batch.get("userIdentity") is None else "userIdentity"
        user = batch.pop(key, None)
        if user is not None and not isinstance(user, dict):
            raise InvalidRequest(f"{key} must be an object", key)
        try:
            batch["user"] = load_keeping_user_id(_user, user) if user else None
        except ValidationError as err:
            raise ValidationError({key: err.messages}) from None
        batch["publicKey"] = incoming.view_args["public_key"]
        return batch

    def locate(self, batch: dict[str, Any]) -> Tenant:
        return self.lookup.by_public_key(batch["publicKey"])

    def parse(self, batch: dict[str, Any], tenant: Tenant, incoming: Incoming) -> Parsed:
        loaded: list[tuple[int, dict[str, Any]]] = []
        rejected: list[tuple[int, str]] = []
        for index, raw in enumerate(batch["events"]):
            try:
                loaded.append((index, load_event(raw)))
            except EventRefused as refusal:
                rejected.append((index, str(refusal)))
        user = batch.get("user") or {}
        fallback = (user.get("email"), user.get("userId"))
        if not any(fallback):
            fallback = next((i for _, e in loaded if any(i := identity_of(e))), (None, None))
        if batch["source"] == "server" and not any(fallback):
            raise InvalidRequest(
                "Server events require an identity: an identify event, or __email or __userId "
                "in an event's properties",
                "events",
            )
        policy = self.identity
        client = batch["source"] == "client"
        user_agent = incoming.user_agent if client else None
        country = self.country(incoming) if client else None
        events = []
        for index, event in loaded:
            own = identity_of(event)
            user_id, stored_email = stored_identity(policy, *(own if any(own) else fallback))
            name, props = details(event)
            if stored_email and any(own):
                props["email"] = stored_email
            when = event.get("timestamp")
            content = {
                "type": event["type"],
                "name": name,
                "occurred_at": naive_utc(when) if when else utcnow(),
                "session_id": event.get("sessionId") or batch.get("sessionId"),
                "client_id": batch.get("visitorId"),
                "user_id": user_id,
                "instance_id": event.get("instanceId") or batch.get("instanceId") or None,
                "url": event["url"],
                "path": event["path"],
                "referrer": event.get("referrer"),
                "title": event.get("title"),
                "source": batch["source"],
                "properties": props or None,
            }
            identifier = event_id(
                tenant, content, incoming.idempotency_key, client_time=when is not None, index=index
            )
            events.append(
                CanonicalEvent(
                    event_id=identifier, user_agent=user_agent, country=country, **content
                )
            )
        return Parsed(events, rejected)

    def accepted(self, parsed: Parsed) -> Reply:
        processed = len(parsed.events)
        if not parsed.rejected:
            return Reply(200, {"success": True, "processed": processed})
        errors = [{"index": index, "message": message} for index, message in parsed.rejected]
        body = {"success": False, "processed": processed, "errors": errors}
        return Reply(207 if processed else 400, body)

    def refused(self, outcome: Refusal) -> Reply:
        message = INACTIVE if isinstance(outcome, TenantNotFound) else outcome.message
        errors = [{"index": -1, "message": message}]
        return Reply(outcome.code, {"success": False, "processed": 0, "errors": errors})

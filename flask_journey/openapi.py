"""The OpenAPI 3.1 description of every endpoint, built from the schemas the code validates with.

Request bodies are the marshmallow schemas of the wire formats (``flask_journey/formats``) and of
the management API (``flask_journey/admin.py``); response bodies are the schemas below. Each
endpoint is one :class:`Endpoint` in :data:`ENDPOINTS`. :func:`describe` renders the description
of one app (only its mounted formats, its batch limits); it is served at ``GET /api/openapi.json``
and ``docs/openapi.json`` is the one of an app with the default settings.
"""

from __future__ import annotations

import http
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Blueprint, Response, jsonify
from marshmallow import INCLUDE, Schema, fields, validate

from . import admin
from .formats import FORMATS, events_api, journey, typed
from .formats import collect as collect_format
from .formats import project as project_format
from .formats._fields import (
    _MAX_MILLIS,
    MAX_DEPTH,
    MAX_KEY_LENGTH,
    JsonObject,
    Properties,
    UnixMillis,
)
from .models import SCOPES
from .reports import SEGMENTS
from .reports.tables import TABLES

if TYPE_CHECKING:
    from .state import JourneyState

#: Where the description is served.
URL = "/api/openapi.json"
OPENAPI_VERSION = "3.1.0"
#: The statuses every format (and the management API) documents for refusals, by name.
STANDARD_REFUSALS = (400, 403, 404, 413, 415, 429, 503)


# Response bodies.


class Error(Schema):
    """``{"error": "..."}``: seed 000, seed 002 and the management API."""

    error = fields.String(required=True)


class TypedError(Schema):
    index = fields.Integer(required=True, metadata={"description": "-1: the whole request"})
    message = fields.String(required=True)


class TypedResult(Schema):
    """Seed 001: every answer, success or refusal."""

    success = fields.Boolean(required=True)
    processed = fields.Integer(required=True, validate=validate.Range(min=0))
    errors = fields.List(fields.Nested(TypedError))


class EventsApiCreated(Schema):
    success = fields.Boolean(required=True, validate=validate.Equal(True))
    event_id = fields.String(required=True)


class EventsApiErrorDetail(Schema):
    code = fields.String(
        required=True,
        validate=validate.OneOf(
            sorted(
                {code for _, code in events_api.CODES} | {"invalid_props", "service_unavailable"}
            )
        ),
    )
    message = fields.String(required=True)
    field = fields.String(required=True, allow_none=True)


class EventsApiError(Schema):
    """Seed 003: ``{"error": {"code", "message", "field"}}``."""

    error = fields.Nested(EventsApiErrorDetail, required=True)


class ProjectAccepted(Schema):
    success = fields.Boolean(required=True, validate=validate.Equal(True))
    eventId = fields.String(required=True)
    sessionId = fields.String(required=True)


class ProjectError(Schema):
    """Seed 004: ``{"success": false, "error": "..."}``."""

    success = fields.Boolean(required=True, validate=validate.Equal(False))
    error = fields.String(required=True)


class JourneyResource(Schema):
    """A journey as the management API returns it."""

    orgKey = fields.String(required=True)
    journeyKey = fields.String(required=True)
    publicKey = fields.String(required=True)
    accountId = fields.Integer(required=True)
    trackerId = fields.Integer(required=True)
    allowedOrigins = fields.List(fields.String(), required=True)
    steps = fields.List(fields.String(), required=True)
    optionalSteps = fields.List(fields.String(), required=True)
    labels = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    createdAt = fields.String(required=True, metadata={"format": "date-time"})


class JourneyList(Schema):
    journeys = fields.List(fields.Nested(JourneyResource), required=True)


class NewKey(Schema):
    """A secret key as ``POST /api/keys`` returns it: the only time ``key`` is seen."""

    key = fields.String(required=True, metadata={"description": "sk_<lookup>_<secret>"})
    lookup = fields.String(required=True)
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True)
    createdAt = fields.String(required=True, metadata={"format": "date-time"})


class UsageCounts(Schema):
    events = fields.Integer(required=True)
    requests = fields.Integer(required=True)


class JourneyUsage(UsageCounts):
    journeyKey = fields.String(required=True)


class UsageThisMonth(UsageCounts):
    period = fields.String(required=True, metadata={"description": "YYYY-MM, UTC"})
    quota = fields.Integer(required=True, allow_none=True)
    remaining = fields.Integer(required=True, allow_none=True)
    journeys = fields.List(fields.Nested(JourneyUsage), required=True)


class Usage(Schema):
    """An organization's usage (docs/management-api.md)."""

    org = fields.String(required=True)
    monthlyQuota = fields.Integer(required=True, allow_none=True)
    months = fields.Dict(keys=fields.String(), values=fields.Nested(UsageCounts), required=True)
    thisMonth = fields.Nested(UsageThisMonth, required=True)


# The report (docs/reports.md): numbers, rates (fractions or null) and medians (seconds or null).


def _count() -> fields.Integer:
    return fields.Integer(required=True)


def _fraction() -> fields.Float:
    return fields.Float(required=True, allow_none=True)


def _counts() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class ReportTotals(Schema):
    sessions = _count()
    starters = _count()
    submitters = _count()
    completions = _count()
    abandons = _count()
    active = _count()
    startRate = _fraction()
    completionRate = _fraction()
    conversionRate = _fraction()


class ReportTransition(Schema):
    to = fields.String(required=True)
    sessions = _count()


class ReportStep(Schema):
    stepKey = fields.String(required=True)
    position = _count()
    configured = fields.Boolean(required=True)
    sessions = _count()
    shareOfSessions = _fraction()
    shareOfPrevious = _fraction()
    dropoffs = _count()
    dropoffReasons = _counts()
    medianSeconds = _fraction()
    optional = fields.Boolean(required=True)
    exits = _count()
    exitRate = _fraction()
    transitions = fields.List(fields.Nested(ReportTransition), required=True)
    previousStep = fields.String(required=True, allow_none=True)


class ReportErrorOutcome(Schema):
    stepKey = fields.String(required=True, allow_none=True)
    fieldKey = fields.String(required=True)
    errorType = fields.String(required=True)
    sessions = _count()
    recovered = _count()
    abandonedAfter = _count()
    excessAbandons = fields.Float(required=True)
    medianSecondsToFix = _fraction()


class ReportPercentiles(Schema):
    p50 = _fraction()
    p90 = _fraction()


class ReportApplications(Schema):
    started = _count()
    completed = _count()
    saved = _count()
    abandoned = _count()
    completionRate = _fraction()
    sessionsPerCompletion = _fraction()
    daysToComplete = fields.Nested(ReportPercentiles, required=True)


class ReportBucket(Schema):
    upToSeconds = fields.Integer(required=True, allow_none=True)
    count = _count()


class ReportDistribution(Schema):
    count = _count()
    p25 = _fraction()
    p50 = _fraction()
    p90 = _fraction()
    histogram = fields.List(fields.Nested(ReportBucket), required=True)


class ReportStepTime(Schema):
    stepKey = fields.String(required=True)
    p50 = _fraction()
    p90 = _fraction()


class ReportWeek(Schema):
    week = fields.String(required=True, metadata={"format": "date"})
    completions = _count()
    p50 = _fraction()


class ReportCompletionTime(Schema):
    sessions = fields.Nested(ReportDistribution, required=True)
    applications = fields.Nested(ReportDistribution)
    steps = fields.List(fields.Nested(ReportStepTime), required=True)
    weeks = fields.List(fields.Nested(ReportWeek), required=True)


class ReportComparison(Schema):
    abandoners = _fraction()
    completers = _fraction()
    difference = _fraction()
    pValue = _fraction()
    test = fields.String(required=True, allow_none=True)
    significant = fields.Boolean(required=True)


class ReportBehaviour(Schema):
    stepKey = fields.String(required=True, allow_none=True)
    fieldKey = fields.String(required=True)
    abandoners = _count()
    completers = _count()
    returnRate = fields.Nested(ReportComparison, required=True)
    errorRate = fields.Nested(ReportComparison, required=True)
    timeInField = fields.Nested(ReportComparison, required=True)


class ReportChange(Schema):
    stepKey = fields.String()
    now = _fraction()
    before = _fraction()
    difference = _fraction()
    pValue = _fraction()
    test = fields.String(required=True, allow_none=True)
    significant = fields.Boolean(required=True)


class ReportChanges(Schema):
    completionRate = fields.Nested(ReportChange, required=True)
    exitRates = fields.List(fields.Nested(ReportChange), required=True)


class ReportField(Schema):
    fieldKey = fields.String(required=True)
    stepKey = fields.String(required=True, allow_none=True)
    sessions = _count()
    starters = _count()
    returns = _count()
    errorSessions = _count()
    errors = _counts()
    errorRate = _fraction()
    abandons = _count()
    abandonShare = _fraction()
    medianSeconds = _fraction()
    medianHesitationSeconds = _fraction()


class ReportTrendPoint(Schema):
    period = fields.String(required=True)
    sessions = _count()
    starters = _count()
    completions = _count()
    completionRate = _fraction()


class ReportTrend(Schema):
    interval = fields.String(required=True, validate=validate.OneOf(("day", "hour")))
    points = fields.List(fields.Nested(ReportTrendPoint), required=True)


class ReportUsers(Schema):
    identified = _count()
    stages = _counts()


class ReportOutcome(Schema):
    action = fields.String(required=True)
    sessions = _count()
    completedSessions = _count()


class ReportEvents(Schema):
    total = _count()
    types = fields.List(fields.Dict(), required=True)
    trend = fields.List(fields.Dict(), required=True)
    pages = fields.List(fields.Dict(), required=True)
    referrers = fields.List(fields.Dict(), required=True)
    forms = fields.List(fields.Dict(), required=True)
    custom = fields.List(fields.Dict(), required=True)
    users = fields.Nested(ReportUsers, required=True)


class ReportBreakdownValue(Schema):
    value = fields.String(required=True)
    totals = fields.Nested(ReportTotals, required=True)
    steps = fields.List(fields.Nested(ReportStep), required=True)
    fields_ = fields.List(fields.Nested(ReportField), required=True, data_key="fields")
    completionTime = fields.Nested(ReportCompletionTime, required=True)


class ReportPeriod(Schema):
    """The numbers of one period (the report's, or its previous one)."""

    from_ = fields.String(required=True, data_key="from", metadata={"format": "date"})
    to = fields.String(required=True, metadata={"format": "date"})
    timezone = fields.String(required=True)
    filters = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    breakdown = fields.String(required=True, allow_none=True)
    totals = fields.Nested(ReportTotals, required=True)
    steps = fields.List(fields.Nested(ReportStep), required=True)
    fields_ = fields.List(fields.Nested(ReportField), required=True, data_key="fields")
    trend = fields.Nested(ReportTrend, required=True)
    events = fields.Nested(ReportEvents, required=True)
    outcomes = fields.List(fields.Nested(ReportOutcome), required=True)
    errorOutcomes = fields.List(fields.Nested(ReportErrorOutcome), required=True)
    applications = fields.Nested(ReportApplications, required=True)
    completionTime = fields.Nested(ReportCompletionTime, required=True)
    behaviour = fields.List(fields.Nested(ReportBehaviour), required=True)
    segments = fields.Dict(keys=fields.String(), values=_counts(), required=True)
    breakdownValues = fields.List(
        fields.Nested(ReportBreakdownValue), required=True, allow_none=True
    )
    previous: fields.Field = fields.Raw(required=True, allow_none=True)


class Report(ReportPeriod):
    """A journey's report (docs/reports.md), with the previous period under ``previous``."""

    orgKey = fields.String(required=True)
    journeyKey = fields.String(required=True)
    refreshedAt = fields.String(required=True, allow_none=True)
    previous = fields.Nested(ReportPeriod, required=True, allow_none=True)
    changes = fields.Nested(ReportChanges, required=True, allow_none=True)


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


REPORT_PARAMETERS: tuple[dict[str, Any], ...] = (
    _query("from", "First day, YYYY-MM-DD (default: 30 days before to)", format="date"),
    _query("to", "Last day, included, YYYY-MM-DD (default: today)", format="date"),
    _query("compare", "Add the previous period (default true)", enum=["true", "false"]),
    _query(
        "breakdown",
        "Break the numbers down by a segment",
        enum=list(SEGMENTS),
    ),
    *(_query(segment, f"Only sessions whose {segment} is this value") for segment in SEGMENTS),
    _query("format", "json (default) or csv", enum=["json", "csv"]),
    _query(
        "table",
        "The table format=csv writes (default steps)",
        enum=list(TABLES),
    ),
)


class Description(Schema):
    """This description (an OpenAPI 3.1 document)."""

    class Meta:
        unknown = INCLUDE

    openapi = fields.String(required=True)
    info = fields.Dict(required=True)
    paths = fields.Dict(required=True)


# The endpoints.


@dataclass(frozen=True)
class Endpoint:
    """One operation: its route, what it answers and in which shape it refuses.

    ``replies`` maps each success status to its body schema (``None``: no body); ``error`` is
    the schema of every refusal, with the statuses in ``refusals``. ``wire_format`` names the
    ``JOURNEY_FORMATS`` entry that mounts it (``None``: always mounted). ``scope``: it needs
    ``Authorization: Bearer sk_...`` of a key with that scope (403 otherwise). ``media_types``
    are those of the success bodies.
    """

    method: str
    path: str
    summary: str
    replies: Mapping[int, type[Schema] | None]
    error: type[Schema] | None = None
    refusals: tuple[int, ...] = ()
    body: type[Schema] | None = None
    wire_format: str | None = None
    scope: str | None = None
    media_types: tuple[str, ...] = ("application/json",)
    docs: str = ""
    parameters: tuple[dict[str, Any], ...] = field(default=())


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "post",
        "/api/ingest",
        "Journey events, batched (seed 000)",
        {204: None},
        Error,
        STANDARD_REFUSALS,
        body=journey.BatchSchema,
        wire_format="journey",
        docs="formats/journey.md",
    ),
    Endpoint(
        "post",
        "/api/i/v1/{publicKey}/events",
        "Typed events, batched (seed 001)",
        {200: TypedResult, 207: TypedResult},
        TypedResult,
        STANDARD_REFUSALS,
        body=typed.BatchSchema,
        wire_format="typed",
        docs="formats/typed.md",
    ),
    Endpoint(
        "post",
        "/collect/{aid}/{tid}/event",
        "One tracker event (seed 002)",
        {204: None},
        Error,
        STANDARD_REFUSALS,
        body=collect_format.CollectSchema,
        wire_format="collect",
        docs="formats/collect.md",
    ),
    Endpoint(
        "post",
        "/api/v1/events/pageview",
        "A page view (seed 003)",
        {201: EventsApiCreated},
        EventsApiError,
        (401, *STANDARD_REFUSALS),
        body=events_api.PageviewSchema,
        wire_format="events_api",
        scope="ingest",
        docs="formats/events_api.md",
    ),
    Endpoint(
        "post",
        "/api/v1/events/custom",
        "A custom event (seed 003)",
        {201: EventsApiCreated},
        EventsApiError,
        (401, *STANDARD_REFUSALS),
        body=events_api.CustomSchema,
        wire_format="events_api",
        scope="ingest",
        docs="formats/events_api.md",
    ),
    Endpoint(
        "post",
        "/api/events",
        "A project-key custom event (seed 004)",
        {200: ProjectAccepted},
        ProjectError,
        STANDARD_REFUSALS,
        body=project_format.ProjectEventSchema,
        wire_format="project",
        docs="formats/project.md",
    ),
    Endpoint(
        "get",
        "/api/journeys",
        "The organization's journeys",
        {200: JourneyList},
        Error,
        (401, 403, 503),
        scope="admin",
        docs="management-api.md",
    ),
    Endpoint(
        "post",
        "/api/journeys",
        "Create a journey",
        {201: JourneyResource},
        Error,
        (400, 401, 403, 413, 415, 503),
        body=admin.NewJourneySchema,
        scope="admin",
        docs="management-api.md",
    ),
    Endpoint(
        "get",
        "/api/journeys/{journeyKey}",
        "One journey",
        {200: JourneyResource},
        Error,
        (401, 403, 404, 503),
        scope="admin",
        docs="management-api.md",
    ),
    Endpoint(
        "put",
        "/api/journeys/{journeyKey}",
        "Replace a journey's allowed origins, steps, optional steps or labels",
        {200: JourneyResource},
        Error,
        (400, 401, 403, 404, 413, 415, 503),
        body=admin.JourneyUpdateSchema,
        scope="admin",
        docs="management-api.md",
    ),
    Endpoint(
        "post",
        "/api/keys",
        "Create a secret key with the given scopes",
        {201: NewKey},
        Error,
        (400, 401, 403, 413, 415, 503),
        body=admin.NewKeySchema,
        scope="admin",
        docs="management-api.md",
    ),
    Endpoint(
        "get",
        "/api/usage",
        "The organization's usage against its quota",
        {200: Usage},
        Error,
        (401, 403, 503),
        scope="admin",
        docs="management-api.md",
    ),
    Endpoint(
        "get",
        "/api/journeys/{journeyKey}/report",
        "A journey's report",
        {200: Report},
        Error,
        (400, 401, 403, 404, 503),
        scope="read",
        media_types=("application/json", "text/csv"),
        docs="reports.md",
        parameters=REPORT_PARAMETERS,
    ),
    Endpoint(
        "get",
        "/embed/v1.js",
        "The embed script",
        {200: None},
        media_types=("text/javascript",),
        docs="embed.md",
    ),
    Endpoint("get", URL, "This description", {200: Description}, docs="openapi.md"),
)


# Rendering.

_PARAMETER = re.compile(r"{(\w+)}")
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "A retry with the same key stores nothing twice (docs/formats/index.md).",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}


def _schema_name(schema: Any) -> str:
    """A component name unique across modules: ``TypedPageview``, ``EventsApiPageview``."""
    cls = resolve_schema_cls(schema)
    assert isinstance(cls, type)  # one schema, never a list of them, is named here
    name = cls.__name__.removesuffix("Schema")
    module = cls.__module__.rsplit(".", 1)[-1]
    prefix = "" if module == __name__.rsplit(".", 1)[-1] else module.title().replace("_", "")
    return name if name.startswith(prefix) else prefix + name


def _properties(converter: Any, field_: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """What the shared custom fields of ``formats/_fields.py`` accept."""
    if isinstance(field_, Properties):
        scalars = ["string", "number", "boolean"] + (["null"] if field_.null_values else [])
        ret: dict[str, Any] = {
            "additionalProperties": {"type": scalars},
            "propertyNames": {"minLength": 1, "maxLength": field_.max_key_length},
        }
        if field_.max_keys is not None:
            ret["maxProperties"] = field_.max_keys
        return ret
    if isinstance(field_, JsonObject):
        return {
            "description": f"Any JSON object: keys of 1 to {MAX_KEY_LENGTH} characters, "
            f"finite numbers, at most {MAX_DEPTH} levels deep."
        }
    if any(isinstance(v, validate.URL) for v in field_.validators):
        return {"format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]+"}
    if isinstance(field_, UnixMillis):
        return {"minimum": 0, "maximum": _MAX_MILLIS, "description": "A Unix time in milliseconds."}
    return {}


def _responses(endpoint: Endpoint) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, schema in endpoint.replies.items():
        reply: dict[str, Any] = {"description": http.HTTPStatus(status).phrase}
        if schema is not None:
            # A schema describes the JSON form; any other (CSV, say) is described as text.
            reply["content"] = {
                media: {"schema": schema if media.endswith("json") else {"type": "string"}}
                for media in endpoint.media_types
            }
        elif status != 204:
            reply["content"] = {media: {} for media in endpoint.media_types}
        responses[str(status)] = reply
    for status in endpoint.refusals:
        description = http.HTTPStatus(status).phrase
        if status == 403 and endpoint.scope is not None:
            description += f", e.g. a key without the {endpoint.scope} scope"
        refusal: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": endpoint.error}},
        }
        if status == 429:
            refusal["headers"] = _RETRY_AFTER
        responses[str(status)] = refusal
    return responses


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": endpoint.method + re.sub(r"[^A-Za-z0-9]+", "_", endpoint.path),
        "responses": _responses(endpoint),
    }
    if endpoint.docs:
        operation["description"] = f"See docs/{endpoint.docs}."
    if endpoint.scope is not None:
        needs = f"Needs a secret key with the {endpoint.scope} scope."
        operation["description"] = f"{needs} {operation.get('description', '')}".strip()
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAMETER.findall(endpoint.path)
    ]
    cls = FORMATS.get(endpoint.wire_format or "")
    if cls is not None and "Idempotency-Key" in cls.cors_headers:
        parameters.append(_IDEMPOTENCY_KEY)
    parameters.extend(endpoint.parameters)
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "description": "JSON, sent as application/json, text/plain or */*+json.",
            "content": {"application/json": {"schema": endpoint.body}},
        }
    if endpoint.scope is not None:
        operation["security"] = [{"secretKey": []}]
    return operation


def _typed_events(spec: APISpec, max_events: int) -> None:
    """Seed 001's events: one schema per event ``type``, the batch an array of any of them."""
    refs = []
    for kind, schema in typed.SCHEMAS.items():
        name = f"Typed{kind.title()}Event"
        spec.components.schema(name, schema=type(schema))
        spec.components.schemas[name]["properties"]["type"] = {"const": kind}
        refs.append({"$ref": f"#/components/schemas/{name}"})
    batch = spec.components.schemas["TypedBatch"]
    batch["properties"]["events"].update(
        items={"oneOf": refs}, maxItems=min(typed.MAX_EVENTS, max_events)
    )
    # What TypedFormat.envelope checks beyond the schema.
    batch["if"] = {
        "not": {
            "required": ["source"],
            "properties": {"source": {"enum": [s for s in typed.SOURCES if s != "client"]}},
        }
    }
    batch["then"] = {"required": ["visitorId"], "properties": {"visitorId": {"type": "string"}}}


def _collect_extras(spec: APISpec) -> None:
    """Seed 002 keeps the body's other fields, under the rules of a free-form object."""
    spec.components.schemas["Collect"]["propertyNames"] = {
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
    }


def _journey_events(spec: APISpec, max_events: int) -> None:
    """Seed 000's events are validated one by one against ``EventSchema``; the batch holds them."""
    spec.components.schema("JourneyEvent", schema=journey.EventSchema)
    spec.components.schemas["JourneyBatch"]["properties"]["events"].update(
        items={"$ref": "#/components/schemas/JourneyEvent"}, maxItems=max_events
    )


def describe(state: JourneyState) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the endpoints one app serves."""
    from . import __version__  # the package imports this module before it defines it

    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="flask-journey",
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={"description": "Journey-analytics ingest and management API. See docs/."},
    )
    for custom, openapi_type in (
        (JsonObject, "object"),
        (Properties, "object"),
        (UnixMillis, "number"),
    ):
        plugin.map_to_openapi_type(custom, openapi_type, None)
    assert plugin.converter is not None  # set by spec.register_plugin, through APISpec()
    plugin.converter.add_attribute_function(_properties)
    spec.components.security_scheme(
        "secretKey",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A secret key of the organization (flask journey create-key ORG "
            "--scope ...), with the scope each operation names: ingest, read or admin.",
        },
    )
    mounted = set(state.formats)
    by_path: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        if endpoint.wire_format is None or endpoint.wire_format in mounted:
            by_path.setdefault(endpoint.path, {})[endpoint.method] = _operation(endpoint)
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    max_events = state.settings.max_batch_events
    if "typed" in mounted:
        _typed_events(spec, max_events)
    if "collect" in mounted:
        _collect_extras(spec)
    if "journey" in mounted:
        _journey_events(spec, max_events)
    return spec.to_dict()


def create_openapi_blueprint(state: JourneyState) -> Blueprint:
    """``GET /api/openapi.json``: the description of this app's endpoints."""
    bp = Blueprint("journey_openapi", __name__)
    cached: list[dict[str, Any]] = []

    @bp.get(URL)
    def description() -> Response:
        if not cached:
            cached.append(describe(state))
        return jsonify(cached[0])

    return bp

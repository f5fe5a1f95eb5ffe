"""The management API and the report API: journeys of the organization whose secret key
authenticates the call.

``GET /api/journeys``, ``POST /api/journeys``, ``GET`` and ``PUT /api/journeys/<journeyKey>``
``POST /api/keys`` and ``GET /api/usage`` need a key with the ``admin`` scope; ``GET
/api/journeys/<journeyKey>/report`` (``docs/reports.md``) one with ``read``. Errors are
``{"error": "..."}`` like the ingest endpoint's; a key without the scope gets 403. Each view
authenticates the key, then calls :mod:`flask_journey.api`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from peewee import DatabaseError, InterfaceError

from . import api
from .downloads import report_name, report_response
from .endpoints import Endpoint, Error
from .formats._base import error_field, first_error
from .models import Journey, Organization
from .outcomes import InvalidRequest, Refusal, TenantNotFound
from .payload import read_json
from .reports import SEGMENTS
from .reports.tables import DEFAULT_TABLE, TABLES
from .tenants import authenticate

if TYPE_CHECKING:
    from .state import JourneyState

MAX_ORIGINS = 50


def _origins(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(max=api.MAX_ORIGIN_LENGTH)),
        validate=validate.Length(max=MAX_ORIGINS),
        **kwargs,
    )


def _steps(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=api.MAX_STEP_LENGTH)),
        validate=validate.Length(max=api.MAX_STEPS),
        **kwargs,
    )


def _labels() -> fields.Dict:
    # Each key and label is checked by api.update_journey, whose message names it.
    return fields.Dict(
        keys=fields.String(), values=fields.String(), validate=validate.Length(max=api.MAX_LABELS)
    )


class JourneyUpdateSchema(Schema):
    """``PUT``: the journey's allowed origins, its configured steps, the labels of its step and
    field keys, or several."""

    class Meta:
        unknown = RAISE

    allowedOrigins = _origins()
    steps = _steps()
    labels = _labels()
    optionalSteps = _steps()

    @validates_schema
    def _changes_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("or steps is required", "allowedOrigins")


class NewKeySchema(Schema):
    """``POST /api/keys``: the new key's scopes."""

    class Meta:
        unknown = RAISE

    scopes = fields.List(
        fields.String(validate=validate.OneOf(api.SCOPES)),
        required=True,
        validate=validate.Length(min=1, max=len(api.SCOPES)),
    )


class NewJourneySchema(Schema):
    class Meta:
        unknown = RAISE

    journeyKey = fields.String(required=True, validate=validate.Regexp(api.SLUG))
    allowedOrigins = _origins(load_default=list)
    steps = _steps(load_default=list)


# What the management and report API answer, as the OpenAPI description declares it.


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
    scopes = fields.List(fields.String(validate=validate.OneOf(api.SCOPES)), required=True)
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


def _load(schema: Schema, max_bytes: int) -> dict[str, Any]:
    body = read_json(request, max_bytes)
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object", "body")
    try:
        return schema.load(body)
    except ValidationError as err:
        path, message = first_error(err.messages)
        raise InvalidRequest(f"{error_field(path)} {message}", error_field(path)) from None


#: The request field behind each argument a :class:`~flask_journey.api.TenantError` names.
_FIELDS = {
    "slug": "journeyKey",
    "origins": "allowedOrigins",
    "steps": "steps",
    "labels": "labels",
    "optional": "optionalSteps",
}


def _journey(org: Organization, key: str) -> Journey:
    try:
        return api.get_journey(org, key)
    except api.TenantError:
        raise TenantNotFound("journey") from None


def _invalid(exc: api.TenantError) -> InvalidRequest:
    return InvalidRequest(str(exc), _FIELDS.get(exc.argument or "", exc.argument))


def create_admin_blueprint(state: JourneyState) -> Blueprint:
    bp = Blueprint("journey_admin", __name__)

    @bp.errorhandler(Refusal)
    def refused(outcome: Refusal) -> tuple[Response, int]:
        message = outcome.message
        if isinstance(outcome, InvalidRequest):
            message = f"Invalid request: {message}"
        return jsonify(error=message), outcome.code

    @bp.errorhandler(DatabaseError)
    @bp.errorhandler(InterfaceError)
    def unavailable(exc: Exception) -> tuple[Response, int]:
        state.database_outage.failed(exc, f"to {request.path} answered 503")
        return jsonify(error=f"Storage unavailable: {type(exc).__name__}"), 503

    @bp.after_request
    def answered(response: Response) -> Response:
        if response.status_code < 300:  # every view reads the database to authenticate
            state.database_outage.succeeded()
        return response

    @bp.get("/api/journeys")
    def list_journeys():
        org = authenticate(request.headers.get("Authorization"), "admin")
        return jsonify(journeys=[j.to_dict() for j in api.list_journeys(org)])

    @bp.post("/api/journeys")
    def create_journey():
        org = authenticate(request.headers.get("Authorization"), "admin")
        data = _load(NewJourneySchema(), state.settings.max_body_bytes)
        try:
            journey = api.create_journey(
                org, data["journeyKey"], origins=data["allowedOrigins"], steps=data["steps"]
            )
        except api.TenantError as exc:
            raise _invalid(exc) from None
        return jsonify(journey.to_dict()), 201

    @bp.get("/api/journeys/<journey_key>")
    def get_journey(journey_key: str):
        org = authenticate(request.headers.get("Authorization"), "admin")
        return jsonify(_journey(org, journey_key).to_dict())

    @bp.put("/api/journeys/<journey_key>")
    def put_journey(journey_key: str):
        org = authenticate(request.headers.get("Authorization"), "admin")
        _journey(org, journey_key)  # an unknown journey is a 404 whatever the body
        data = _load(JourneyUpdateSchema(), state.settings.max_body_bytes)
        try:
            journey = api.update_journey(
                org,
                journey_key,
                origins=data.get("allowedOrigins"),
                steps=data.get("steps"),
                labels=data.get("labels"),
                optional=data.get("optionalSteps"),
            )
        except api.TenantError as exc:
            raise _invalid(exc) from None
        return jsonify(journey.to_dict())

    @bp.post("/api/keys")
    def create_key():
        org = authenticate(request.headers.get("Authorization"), "admin")
        data = _load(NewKeySchema(), state.settings.max_body_bytes)
        secret = api.create_key(org, data["scopes"])
        key = next(k for k in api.list_keys(org) if k.lookup == secret.split("_")[1])
        return jsonify(
            key=secret,
            lookup=key.lookup,
            scopes=list(key.scope_list() or ()),
            createdAt=key.created_at.isoformat() + "Z",
        ), 201

    @bp.get("/api/usage")
    def usage():
        org = authenticate(request.headers.get("Authorization"), "admin")
        return jsonify(api.usage(org))

    @bp.get("/api/journeys/<journey_key>/report")
    def journey_report(journey_key: str):
        org = authenticate(request.headers.get("Authorization"), "read")
        _journey(org, journey_key)
        kind = request.args.get("format", "json")
        table = request.args.get("table", DEFAULT_TABLE)
        if kind not in ("json", "csv"):
            raise InvalidRequest("format must be json or csv", "format")
        if table not in TABLES:
            raise InvalidRequest(f"table must be one of {', '.join(TABLES)}", "table")
        try:
            result = api.report(org, journey_key, **api.report_options(request.args))
        except api.TenantError as exc:
            raise InvalidRequest(str(exc), exc.argument) from None
        return report_response(result, kind, table, report_name(org.slug, journey_key, result))

    return bp


# The operations above, as the OpenAPI description (flask_journey/openapi.py) declares them.


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


ENDPOINTS: tuple[Endpoint, ...] = (
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
        body=NewJourneySchema,
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
        body=JourneyUpdateSchema,
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
        body=NewKeySchema,
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
)

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
from .formats._base import error_field, first_error
from .models import Journey, Organization
from .outcomes import InvalidRequest, Refusal, TenantNotFound
from .payload import read_json
from .reports.tables import DEFAULT_TABLE, TABLES, to_csv
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
        if kind == "json":
            return jsonify(result)
        name = f"{org.slug}-{journey_key}-{result['from']}-{result['to']}-{table}.csv"
        return Response(
            to_csv(result, table),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return bp

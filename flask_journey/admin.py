"""The management API: journeys of the organization whose secret key authenticates the call.

``GET /api/journeys``, ``POST /api/journeys``, ``GET`` and ``PUT /api/journeys/<journeyKey>``;
errors are ``{"error": "..."}`` like the ingest endpoint's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from peewee import DatabaseError, InterfaceError

from . import tenants
from .formats._base import error_field, first_error
from .models import Journey, Organization
from .outcomes import InvalidRequest, Refusal, TenantNotFound
from .payload import read_json

if TYPE_CHECKING:
    from .extension import JourneyState

MAX_ORIGINS = 50


class OriginsSchema(Schema):
    class Meta:
        unknown = RAISE

    allowedOrigins = fields.List(
        fields.String(validate=validate.Length(max=255)),
        required=True,
        validate=validate.Length(max=MAX_ORIGINS),
    )


class NewJourneySchema(OriginsSchema):
    journeyKey = fields.String(required=True, validate=validate.Regexp(tenants.SLUG))
    allowedOrigins = fields.List(
        fields.String(validate=validate.Length(max=255)),
        load_default=list,
        validate=validate.Length(max=MAX_ORIGINS),
    )


def _load(schema: Schema, max_bytes: int) -> dict[str, Any]:
    body = read_json(request, max_bytes)
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object", "body")
    try:
        return schema.load(body)
    except ValidationError as err:
        path, message = first_error(err.messages)
        raise InvalidRequest(f"{error_field(path)} {message}", error_field(path)) from None


def _journey(org: Organization, key: str) -> Journey:
    try:
        return tenants.get_journey(org, key)
    except tenants.TenantError:
        raise TenantNotFound("journey") from None


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
        org = tenants.authenticate(request.headers.get("Authorization"))
        return jsonify(journeys=[j.to_dict() for j in org.journeys.order_by(Journey.slug)])

    @bp.post("/api/journeys")
    def create_journey():
        org = tenants.authenticate(request.headers.get("Authorization"))
        data = _load(NewJourneySchema(), state.settings.max_body_bytes)
        try:
            journey = tenants.create_journey(org, data["journeyKey"], data["allowedOrigins"])
        except tenants.TenantError as exc:
            raise InvalidRequest(str(exc), "journeyKey") from None
        return jsonify(journey.to_dict()), 201

    @bp.get("/api/journeys/<journey_key>")
    def get_journey(journey_key: str):
        org = tenants.authenticate(request.headers.get("Authorization"))
        return jsonify(_journey(org, journey_key).to_dict())

    @bp.put("/api/journeys/<journey_key>")
    def put_journey(journey_key: str):
        org = tenants.authenticate(request.headers.get("Authorization"))
        journey = _journey(org, journey_key)
        data = _load(OriginsSchema(), state.settings.max_body_bytes)
        try:
            tenants.set_origins(journey, data["allowedOrigins"])
        except tenants.TenantError as exc:
            raise InvalidRequest(str(exc), "allowedOrigins") from None
        return jsonify(journey.to_dict())

    return bp

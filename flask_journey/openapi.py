"""The OpenAPI 3.1 description of every endpoint, generated from what the code declares.

Each operation is declared once, next to the code that serves it: a wire format's as class
attributes of its adapter (``operations``, ``replies``, ``error``, ``docs``; its refusals and
scope follow from ``authenticated``, its ``Idempotency-Key`` parameter from ``cors_headers``),
the management and report API's in :data:`flask_journey.admin.ENDPOINTS`, the embed script's in
:data:`flask_journey.embed.ENDPOINT`. Request and reply bodies are the marshmallow schemas they
name; the report's query parameters list the registries of segments and tables.
:func:`describe` renders the description of one app (only its mounted formats, its batch
limits); it is served at ``GET /api/openapi.json`` and ``docs/openapi.json`` is the one of an
app with the default settings.
"""

from __future__ import annotations

import http
import re
from typing import TYPE_CHECKING, Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Blueprint, Response, jsonify
from marshmallow import INCLUDE, Schema, fields, validate

from . import admin, embed
from .endpoints import STANDARD_REFUSALS, Endpoint
from .formats import FORMATS
from .formats._base import WireFormat
from .formats._fields import (
    _MAX_MILLIS,
    MAX_DEPTH,
    MAX_KEY_LENGTH,
    JsonObject,
    Properties,
    UnixMillis,
)

if TYPE_CHECKING:
    from .state import JourneyState

#: Where the description is served.
URL = "/api/openapi.json"
OPENAPI_VERSION = "3.1.0"


class Description(Schema):
    """This description (an OpenAPI 3.1 document)."""

    class Meta:
        unknown = INCLUDE

    openapi = fields.String(required=True)
    info = fields.Dict(required=True)
    paths = fields.Dict(required=True)


def format_endpoints(cls: type[WireFormat]) -> tuple[Endpoint, ...]:
    """The operations a wire format declares; one that needs a secret key may also answer 401."""
    return tuple(
        Endpoint(
            "post",
            path,
            summary,
            cls.replies,
            cls.error,
            (401, *STANDARD_REFUSALS) if cls.authenticated else STANDARD_REFUSALS,
            body=body,
            wire_format=cls.name,
            scope="ingest" if cls.authenticated else None,
            docs=cls.docs,
        )
        for path, summary, body in cls.operations
    )


#: Every operation the package serves, with the formats' first, in the order of ``FORMATS``.
ENDPOINTS: tuple[Endpoint, ...] = (
    *(endpoint for cls in FORMATS.values() for endpoint in format_endpoints(cls)),
    *admin.ENDPOINTS,
    embed.ENDPOINT,
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
    """A component name unique across modules.

    A request schema (``...Schema``) is prefixed with its module's name unless its name starts
    with it (``TypedPageview``, ``EventsApiPageview``, ``AdminNewKey``, ``Collect``); a reply
    schema is named as its class is (``TypedResult``, ``JourneyResource``).
    """
    cls = resolve_schema_cls(schema)
    assert isinstance(cls, type)  # one schema, never a list of them, is named here
    if not cls.__name__.endswith("Schema"):
        return cls.__name__
    name = cls.__name__.removesuffix("Schema")
    prefix = cls.__module__.rsplit(".", 1)[-1].title().replace("_", "")
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
    for cls in (cls for name, cls in FORMATS.items() if name in mounted):
        for schema_name, schema in cls.named_schemas.items():
            spec.components.schema(schema_name, schema=schema)
        cls.amend_schemas(spec.components.schemas, state.settings.max_batch_events)
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

"""What the OpenAPI description says of an operation, declared next to the view that serves it.

The wire formats declare theirs as class attributes of their adapter (``flask_journey/formats``),
the management and report API in :mod:`flask_journey.admin`, the embed script in
:mod:`flask_journey.embed`; :mod:`flask_journey.openapi` renders them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields

#: The statuses every format (and the management API) documents for refusals, by name.
STANDARD_REFUSALS = (400, 403, 404, 413, 415, 429, 503)


class Error(Schema):
    """``{"error": "..."}``: the journey and collect formats and the management API."""

    error = fields.String(required=True)


@dataclass(frozen=True)
class Endpoint:
    """One operation: its route, what it answers and in which shape it refuses.

    ``replies`` maps each success status to its body schema (``None``: no body); ``error`` is
    the schema of every refusal, with the statuses in ``refusals``. ``wire_format`` names the
    ``JOURNEY_FORMATS`` entry that mounts it (``None``: always mounted). ``scope``: it needs
    ``Authorization: Bearer sk_...`` of a key with that scope (403 otherwise). ``media_types``
    are those of the success bodies; ``docs`` the page of docs/ that documents it.
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

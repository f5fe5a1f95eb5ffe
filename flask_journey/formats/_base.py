"""What every wire-format adapter is given and gives back, and the base class they share.

An adapter is pure: it is handed an :class:`Incoming` (the request, read once by
:func:`flask_journey.ingest.read_request`), finds its tenant through a :class:`Lookup` it was built
with, and returns canonical events (:class:`Parsed`) and plain :class:`Reply` values. It touches
no Flask global, no response class and no database of its own, so each can be called, and is
tested (``tests/test_adapters.py``), without an app. The flow that runs an adapter
(read, envelope, locate, admit, parse, quota, store, render) is :mod:`flask_journey.ingest`;
the Flask view, blueprint and CORS glue are there too.

A format subclasses :class:`WireFormat` and says only what is its own: its routes, how its request
names a tenant, how its events map to canonical events, and how it words success and refusal.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from marshmallow import Schema, ValidationError

from ..endpoints import Error
from ..events import CanonicalEvent, Tenant, TenantOrganization
from ..geo import NOWHERE, Geo
from ..outcomes import InvalidRequest, Refusal
from ..privacy import IdentityPolicy


@dataclass(frozen=True, slots=True)
class Incoming:
    """What an ingest request carries that matters, read once from it.

    ``body`` is the decoded JSON body (``None`` when ``unreadable``: the refusal saying why the
    body could not be read, raised by the flow where it would have used the body). Headers are
    ``None`` when not sent; ``client`` is the address the request came from.
    """

    body: Any
    view_args: Mapping[str, Any] = field(default_factory=dict)
    origin: str | None = None
    user_agent: str | None = None
    authorization: str | None = None
    idempotency_key: str | None = None
    client: str | None = None
    path: str = ""
    unreadable: Refusal | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """An adapter's answer: a status, a JSON-serialisable body (``None``: empty) and headers."""

    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()

    def with_header(self, name: str, value: str) -> Reply:
        """This reply with one more header."""
        return Reply(self.status, self.body, (*self.headers, (name, value)))


class Lookup(Protocol):
    """How an adapter finds the tenant its request names; each raises an outcome if none.

    :class:`flask_journey.ingest.TenantLookup` reads the app's database (through its cache).
    """

    def by_slugs(self, org_slug: str, journey_slug: str) -> Tenant: ...

    def by_public_key(self, public_key: str) -> Tenant: ...

    def by_ids(self, account_id: int, tracker_id: int) -> Tenant: ...

    def authenticate(self, authorization: str | None) -> TenantOrganization:
        """The organization whose secret key, with the ``ingest`` scope, an ``Authorization``
        header value carries."""
        ...


@dataclass
class Parsed:
    """A request's events in canonical form, and the ones refused with their reasons."""

    events: list[CanonicalEvent]
    rejected: list[tuple[int, str]] = field(default_factory=list)
    stored: int = 0


def first_error(messages: Any, path: tuple = ()) -> tuple[tuple, str]:
    """The path and text of the first message in a marshmallow error dict."""
    if isinstance(messages, dict):
        key = next(iter(messages))
        return first_error(messages[key], (*path, key))
    if isinstance(messages, list) and messages:
        return first_error(messages[0], path)
    return path, str(messages)


def json_object(body: Any) -> dict[str, Any]:
    """``body`` when it is a JSON object; else the request is invalid."""
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object", "body")
    return body


def error_field(path: tuple) -> str:
    """The name of the innermost named field in an error path (``ts`` in events.1.ts)."""
    names = [str(p) for p in path if not isinstance(p, int) and p != "_schema"]
    return names[-1] if names else "body"


def event_id(
    tenant: Tenant,
    content: Mapping[str, Any],
    idempotency_key: str | None,
    *,
    client_time: bool,
    index: int = 0,
) -> str:
    """An ``evt_...`` id for a canonical event whose wire format carries no id.

    Derived from the request's ``Idempotency-Key`` header and the event's ``index`` in the
    request when the header is sent; else, when the client said when the event happened
    (``client_time``), from the event's ``content`` (the fields its format sets from the
    request, by name) and ``index``; else random. A retried request thus gets the ids it got
    the first time, and stores nothing twice, while two identical events of one request (two
    clicks in one millisecond) are both stored.
    """
    hashed: list[Any]
    if idempotency_key:
        hashed = ["idempotency-key", idempotency_key, index]
    elif client_time:
        # The first event keeps the id earlier releases gave it.
        hashed = ["event", dict(content)] if index == 0 else ["event", dict(content), index]
    else:
        return f"evt_{uuid.uuid4().hex}"
    raw = json.dumps([tenant.journey.id, hashed], sort_keys=True, default=str)
    return f"evt_{hashlib.sha256(raw.encode()).hexdigest()[:32]}"


class WireFormat:
    """One wire format's adapter; a subclass per format, an instance per app.

    ``lookup`` finds tenants; ``max_batch_events`` (``JOURNEY_MAX_BATCH_EVENTS``) bounds a
    batch, ``identity`` (``JOURNEY_IDENTITY``) says how a user's id or email is kept and
    ``geo`` (``JOURNEY_GEOIP``) gives the country of the visitor's address, if the format has
    it (:meth:`country`); by default no country is looked up.
    """

    #: The name used in ``JOURNEY_FORMATS`` and stored in ``Event.wire_format``.
    name: ClassVar[str]
    #: ``(rule, endpoint)`` pairs, each answering POST.
    routes: ClassVar[tuple[tuple[str, str], ...]]
    #: Headers a browser may send in a cross-origin request to these routes.
    cors_headers: ClassVar[tuple[str, ...]] = ("Content-Type",)
    #: True when ``envelope``/``locate`` admit only requests carrying a secret key; such
    #: requests are not held to the stricter limit for unknown origins.
    authenticated: ClassVar[bool] = False

    # What the OpenAPI description (flask_journey/openapi.py) says of the routes.

    #: ``(path, summary, request body schema)`` of each operation, paths as OpenAPI writes them.
    operations: ClassVar[tuple[tuple[str, str, type[Schema]], ...]]
    #: The body schema of each success status :meth:`accepted` answers (``None``: no body).
    replies: ClassVar[Mapping[int, type[Schema] | None]]
    #: The body schema of every reply of :meth:`refused`.
    error: ClassVar[type[Schema]] = Error
    #: The page of docs/ that documents the format.
    docs: ClassVar[str]
    #: Schemas the description names beyond those it reaches from the request bodies.
    named_schemas: ClassVar[Mapping[str, type[Schema]]] = {}

    @classmethod
    def amend_schemas(cls, schemas: dict[str, Any], max_events: int) -> None:
        """Add to the described ``schemas`` (by name) what the schemas' fields cannot say.

        ``max_events`` is the app's ``JOURNEY_MAX_BATCH_EVENTS``.
        """

    def __init__(
        self,
        lookup: Lookup,
        *,
        max_batch_events: int,
        identity: IdentityPolicy,
        geo: Geo = NOWHERE,
    ) -> None:
        self.lookup = lookup
        self.max_batch_events = max_batch_events
        self.identity = identity
        self.geo = geo

    def country(self, incoming: Incoming) -> str | None:
        """The country of the visitor of a request from a browser (its ``Origin`` says so).

        A request from a server carries the server's address, not the visitor's: it has none.
        """
        return self.geo.country(incoming.client) if incoming.origin is not None else None

    def envelope(self, incoming: Incoming) -> Any:
        """Check the request's outer shape; return what ``locate`` and ``parse`` need.

        May raise an outcome or marshmallow's ``ValidationError`` (see :meth:`invalid`).
        """
        raise NotImplementedError

    def locate(self, envelope: Any) -> Tenant:
        """Find the tenant the request names (through ``self.lookup``), or raise an outcome."""
        raise NotImplementedError

    def parse(self, envelope: Any, tenant: Tenant, incoming: Incoming) -> Parsed:
        """Map the request to canonical events; may raise like ``envelope``."""
        raise NotImplementedError

    def accepted(self, parsed: Parsed) -> Reply:
        """The reply once ``parsed.events`` are committed."""
        raise NotImplementedError

    def refused(self, outcome: Refusal) -> Reply:
        """The reply for an outcome, in the format's own error shape and status."""
        raise NotImplementedError

    def origins(self, envelope: Any, incoming: Incoming) -> tuple[str | None, ...]:
        """The origins the request comes from, each checked against the journey's allowed origins.

        The ``Origin`` header first (only it makes a request count as from a known origin); a
        format whose events name their page URL may add its origin after it.
        """
        return (incoming.origin,)

    def invalid(self, error: ValidationError) -> InvalidRequest:
        """The outcome for a body its schemas refused: ``"<field> <message>"`` by default."""
        path, message = first_error(error.messages)
        name = error_field(path)
        return InvalidRequest(f"{name} {message}", name)

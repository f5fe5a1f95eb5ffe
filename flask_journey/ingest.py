"""The ingest flow every wire format shares, from a request (or a Python batch) to stored events.

A request is read once into an :class:`~flask_journey.formats._base.Incoming` (its JSON body,
path arguments and the headers that matter; :func:`read_request`), then :func:`respond` runs it
through its format's adapter: envelope (the outer shape), locate (the tenant), admit (origins
and rate limits, :mod:`flask_journey.guard`), parse (canonical events), quota, store
(:mod:`flask_journey.store`), and the adapter's reply. Every refusal, of the request or of
some of its events, is logged and counted (:mod:`flask_journey.refusals`); a storage outage is
logged by the app's outage log (:mod:`flask_journey.outages`) and answered 503.

:func:`store_batch` runs a journey-events batch built by the site's own Python code through the
same flow, without the origin and rate-limit checks.

The adapters (:mod:`flask_journey.formats`) are pure; the Flask side of ingest is here and only
here: :func:`read_request` is the one function that reads ``flask.request``, and :func:`blueprint`
mounts a format's routes with their CORS handling and turns its replies into responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from flask import Blueprint, Request, Response, jsonify, request
from flask_cors import CORS
from marshmallow import ValidationError
from peewee import DatabaseError, InterfaceError

from . import migrations, refusals, store, tenants
from .events import Tenant, TenantOrganization
from .formats._base import Incoming, Parsed, Reply, WireFormat
from .formats.journey import TrustedJourneyFormat
from .outcomes import Refusal, Unavailable
from .payload import read_json
from .privacy import IdentityNotConfigured
from .refusals import INVALID_EVENT, reason_of
from .tenants import TenantCache

if TYPE_CHECKING:
    from .state import JourneyState

__all__ = [
    "Incoming",
    "Reply",
    "Stored",
    "TenantLookup",
    "adapter",
    "blueprint",
    "read_request",
    "render",
    "respond",
    "store_batch",
]


class TenantLookup:
    """The adapters' :class:`~flask_journey.formats._base.Lookup` on an app's tenant cache."""

    def __init__(self, cache: TenantCache) -> None:
        self.cache = cache

    def by_slugs(self, org_slug: str, journey_slug: str) -> Tenant:
        return tenants.by_slugs(org_slug, journey_slug, self.cache)

    def by_public_key(self, public_key: str) -> Tenant:
        return tenants.by_public_key(public_key, self.cache)

    def by_ids(self, account_id: int, tracker_id: int) -> Tenant:
        return tenants.by_ids(account_id, tracker_id, self.cache)

    def authenticate(self, authorization: str | None) -> TenantOrganization:
        org = tenants.authenticate(authorization, "ingest")
        return TenantOrganization(org.id, org.slug, org.rate_limit, org.monthly_quota)


def adapter(state: JourneyState, cls: type[WireFormat]) -> WireFormat:
    """An adapter of format ``cls`` for an app, with its tenant lookups and settings."""
    settings = state.settings
    return cls(
        TenantLookup(state.tenants),
        max_batch_events=settings.max_batch_events,
        identity=settings.identity,
        geo=state.geo,
    )


def read_request(http_request: Request, view_args: Mapping[str, Any], max_bytes: int) -> Incoming:
    """Read what an ingest request carries, once: its body (at most ``max_bytes``) and headers.

    A body :func:`flask_journey.payload.read_json` refuses is kept as the refusal
    (``unreadable``), for the flow to answer in the format's own error shape.
    """
    try:
        body, unreadable = read_json(http_request, max_bytes), None
    except Refusal as outcome:
        body, unreadable = None, outcome
    headers = http_request.headers
    return Incoming(
        body,
        view_args,
        origin=headers.get("Origin"),
        user_agent=headers.get("User-Agent"),
        authorization=headers.get("Authorization"),
        idempotency_key=headers.get("Idempotency-Key"),
        client=http_request.remote_addr,
        path=http_request.path,
        unreadable=unreadable,
    )


def respond(state: JourneyState, wire_format: WireFormat, incoming: Incoming) -> Reply:
    """The reply to a request: its events stored and accepted, or refused.

    A 2xx reply means the events are committed; a refusal is in the format's own error shape,
    with ``Retry-After`` when the outcome names one.
    """
    try:
        parsed = _run(state, wire_format, incoming, trusted=False)
    except Refusal as outcome:
        reply = wire_format.refused(outcome)
        retry_after = getattr(outcome, "retry_after", None)
        if retry_after is not None:
            reply = reply.with_header("Retry-After", str(retry_after))
        return reply
    return wire_format.accepted(parsed)


def _run(
    state: JourneyState, wire_format: WireFormat, incoming: Incoming, *, trusted: bool
) -> Parsed:
    """The flow: the request's events stored, or the outcome (logged and counted) raised.

    A ``trusted`` request (the site's own code) skips the origin and rate-limit checks.
    """
    settings = state.settings
    tenant: Tenant | None = None
    try:
        migrations.ensure_current(state.database)
        if incoming.unreadable is not None:
            raise incoming.unreadable
        try:
            envelope = wire_format.envelope(incoming)
            tenant = wire_format.locate(envelope)
            if not trusted:
                state.guard.admit(
                    tenant,
                    *wire_format.origins(envelope, incoming),
                    authenticated=wire_format.authenticated,
                    client=incoming.client,
                )
            parsed = wire_format.parse(envelope, tenant, incoming)
        except ValidationError as err:
            raise wire_format.invalid(err) from None
        if parsed.events:
            state.guard.check_quota(tenant, len(parsed.events))
            parsed.stored = store.store(
                state.database,
                tenant,
                wire_format.name,
                parsed.events,
                keep_query_values=settings.keep_query_values,
                group_commit=settings.group_commit,
            )
            state.database_outage.succeeded()
        if parsed.rejected:
            index, message = parsed.rejected[0]
            _record(
                state,
                wire_format,
                tenant,
                INVALID_EVENT,
                f"event {index}: {message}",
                count=len(parsed.rejected),
            )
        return parsed
    except Refusal as outcome:
        _record(state, wire_format, tenant, reason_of(outcome), outcome.message)
        raise
    except (DatabaseError, InterfaceError) as exc:
        # Logged by the outage log (one traceback, then a line per failure), not per refusal.
        answered = "raised Unavailable" if trusted else "answered 503"
        state.database_outage.failed(exc, f"to {incoming.path} {answered}")
        raise Unavailable(f"Storage unavailable: {type(exc).__name__}") from exc
    except migrations.SchemaError as exc:
        unavailable = Unavailable("Storage unavailable: the database schema is not current")
        _record(state, wire_format, tenant, "unavailable", f"{unavailable.message}: {exc}")
        raise unavailable from exc
    except IdentityNotConfigured as exc:
        unavailable = Unavailable("Identity hashing is not configured on this site")
        _record(state, wire_format, tenant, "unavailable", str(exc))
        raise unavailable from exc


def _record(
    state: JourneyState,
    wire_format: WireFormat,
    tenant: Tenant | None,
    reason: str,
    message: str,
    **kwargs: Any,
) -> None:
    refusals.record(state.database, tenant, wire_format.name, reason, message, **kwargs)


class Stored(NamedTuple):
    """What :func:`store_batch` did: how many events were new, and the events it set aside."""

    #: Events written now; those the journey already had (a retry) are not counted.
    stored: int
    #: ``(index, message)`` of each event of the batch that was not valid, in batch order.
    rejected: list[tuple[int, str]]


def store_batch(state: JourneyState, batch: Mapping[str, Any]) -> Stored:
    """Store a journey-events batch (``docs/formats/journey.md``) from the site's own Python code.

    ``state`` is the app's (``app.extensions["journey"]``); ``batch`` is what ``POST
    /api/ingest`` takes: ``{"schemaVersion": 1, "context": {"orgKey", "journeyKey", ...},
    "events": [...]}``. It goes through the same flow as that request (validation, privacy,
    the organization's quota, storage in one transaction, refusal counts) except the origin
    and rate-limit checks: the caller is the site itself. No app context is needed.

    Returns :class:`Stored`: the number of events written (a retried batch writes none: event
    ids already stored are skipped) and the events set aside as invalid, by index and message;
    unlike the HTTP endpoint, which refuses the whole batch for one invalid event, the valid
    ones are stored. Raises a :class:`flask_journey.outcomes.Refusal` when the whole batch is
    refused: :class:`~flask_journey.outcomes.InvalidRequest` for a malformed batch,
    :class:`~flask_journey.outcomes.TenantNotFound` for an unknown organization or journey,
    :class:`~flask_journey.outcomes.RateLimited` past the monthly quota,
    :class:`~flask_journey.outcomes.Unavailable` when storage is; then nothing is stored.
    """
    wire_format = adapter(state, TrustedJourneyFormat)
    parsed = _run(state, wire_format, Incoming(batch, path="store_batch"), trusted=True)
    return Stored(parsed.stored, parsed.rejected)


def blueprint(state: JourneyState, wire_format: WireFormat) -> Blueprint:
    """The format's routes, answering browsers of any origin, credentialed requests too.

    flask-cors answers their preflights (``OPTIONS``) and adds its headers to responses the
    view did not write (a server error, say). The request's ``Origin`` is echoed, never ``*``,
    with ``Access-Control-Allow-Credentials: true``: the SDKs send with
    ``navigator.sendBeacon``, which always includes credentials, and a browser drops the
    answer to such a request without that header. Cookies are never read; which origins may
    store events is the journey's allowed origins, checked on the ``POST`` and answered with a
    403 the page can read.
    """
    max_bytes = state.settings.max_body_bytes

    def view(**view_args: Any) -> Response:
        incoming = read_request(request, view_args, max_bytes)
        return render(respond(state, wire_format, incoming), incoming.origin)

    bp = Blueprint(f"journey_{wire_format.name}", __name__)
    for rule, endpoint in wire_format.routes:
        bp.add_url_rule(rule, endpoint, view, methods=["POST"])
    CORS(
        bp,
        origins="*",
        send_wildcard=False,
        supports_credentials=True,
        methods=["POST", "OPTIONS"],
        allow_headers=list(wire_format.cors_headers),
        max_age=state.settings.cors_max_age,
    )
    return bp


def render(reply: Reply, origin: str | None) -> Response:
    """A :class:`Reply` as the current app's response, with CORS headers for ``origin``."""
    if reply.body is None:
        response = Response(status=reply.status)
    else:
        response = jsonify(reply.body)
        response.status_code = reply.status
    for name, value in reply.headers:
        response.headers[name] = value
    if origin:
        # What flask-cors adds to an answer for a browser. It leaves alone a response that
        # has Access-Control-Allow-Origin; working these headers out in its generic
        # after_request cost about 25 us a request, a fifth of this view.
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers.add("Vary", "Origin")
    return response

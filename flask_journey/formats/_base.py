"""What every wire format shares: the request flow from body to stored events.

A format subclasses :class:`WireFormat` and says only what is its own: its routes, how its request
names a tenant, how its events map to canonical events, and how it words success and refusal.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from flask import Blueprint, Response, request
from flask_cors import CORS
from marshmallow import ValidationError
from peewee import DatabaseError, InterfaceError

from .. import migrations, pipeline, refusals
from ..outcomes import InvalidRequest, Refusal, Unavailable
from ..payload import read_json
from ..pipeline import TRANSIENT
from ..privacy import IdentityNotConfigured
from ..refusals import INVALID_EVENT, reason_of
from ..tenants import Tenant

if TYPE_CHECKING:
    from ..state import JourneyState


@dataclass
class Parsed:
    """A request's events in canonical form, and the ones refused with their reasons."""

    events: list[dict[str, Any]]
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


class WireFormat:
    """One wire format mounted on an app; a subclass per format, an instance per app."""

    #: The name used in ``JOURNEY_FORMATS`` and stored in ``Event.wire_format``.
    name: ClassVar[str]
    #: ``(rule, endpoint)`` pairs, each answering POST.
    routes: ClassVar[tuple[tuple[str, str], ...]]
    #: Headers a browser may send in a cross-origin request to these routes.
    cors_headers: ClassVar[tuple[str, ...]] = ("Content-Type",)
    #: True when ``envelope``/``locate`` admit only requests carrying a secret key; such
    #: requests are not held to the stricter limit for unknown origins.
    authenticated: ClassVar[bool] = False

    def __init__(self, state: JourneyState) -> None:
        self.state = state

    # What a format says for itself.

    def envelope(self, body: Any, view_args: dict[str, Any]) -> Any:
        """Check the request's outer shape; return what ``locate`` and ``parse`` need.

        May raise ``InvalidRequest`` or marshmallow's ``ValidationError``.
        """
        raise NotImplementedError

    def locate(self, envelope: Any) -> Tenant:
        """Find the tenant the request names, or raise an outcome."""
        raise NotImplementedError

    def parse(self, envelope: Any, tenant: Tenant) -> Parsed:
        """Map the request to canonical events; may raise like ``envelope``."""
        raise NotImplementedError

    def accepted(self, parsed: Parsed) -> Response:
        """The response once ``parsed.events`` are committed."""
        raise NotImplementedError

    def refused(self, outcome: Refusal) -> Response:
        """The response for an outcome, in the format's own error shape."""
        raise NotImplementedError

    def origins(self, envelope: Any) -> tuple[str | None, ...]:
        """The origins the request comes from, each checked against the journey's allowed origins.

        The ``Origin`` header first (only it makes a request count as from a known origin); a
        format whose events name their page URL may add its origin after it.
        """
        return (request.headers.get("Origin"),)

    def invalid(self, error: ValidationError) -> InvalidRequest:
        """The outcome for a body its schemas refused: ``"<field> <message>"`` by default."""
        path, message = first_error(error.messages)
        name = error_field(path)
        return InvalidRequest(f"{name} {message}", name)

    # Helpers for formats.

    def event_id(
        self, tenant: Tenant, event: dict[str, Any], *, client_time: bool, index: int = 0
    ) -> str:
        """An ``evt_...`` id for a canonical event whose wire format carries no id.

        Derived from the request's ``Idempotency-Key`` header and the event's ``index`` in the
        request when the header is sent; else, when the client said when the event happened
        (``client_time``), from the event's content and ``index``; else random. A retried
        request thus gets the ids it got the first time, and stores nothing twice, while two
        identical events of one request (two clicks in one millisecond) are both stored.
        """
        key = request.headers.get("Idempotency-Key")
        if key:
            content: Any = ["idempotency-key", key, index]
        elif client_time:
            kept = {k: v for k, v in event.items() if k not in TRANSIENT}
            # The first event keeps the id earlier releases gave it.
            content = ["event", kept] if index == 0 else ["event", kept, index]
        else:
            return f"evt_{uuid.uuid4().hex}"
        raw = json.dumps([tenant.journey.id, content], sort_keys=True, default=str)
        return f"evt_{hashlib.sha256(raw.encode()).hexdigest()[:32]}"

    # The flow, the same for every format.

    def blueprint(self) -> Blueprint:
        """The format's routes, answering browsers of any origin, credentialed requests too.

        flask-cors answers their preflights (``OPTIONS``) and adds its headers to responses
        :meth:`handle` did not write (a server error, say). The request's ``Origin`` is echoed,
        never ``*``, with ``Access-Control-Allow-Credentials: true``: the SDKs send with
        ``navigator.sendBeacon``, which always includes credentials, and a browser drops the
        answer to such a request without that header. Cookies are never read; which origins
        may store events is the journey's allowed origins, checked on the ``POST`` and answered
        with a 403 the page can read.
        """
        bp = Blueprint(f"journey_{self.name}", __name__)
        for rule, endpoint in self.routes:
            bp.add_url_rule(rule, endpoint, self.handle, methods=["POST"])
        CORS(
            bp,
            origins="*",
            send_wildcard=False,
            supports_credentials=True,
            methods=["POST", "OPTIONS"],
            allow_headers=list(self.cors_headers),
            max_age=self.state.settings.cors_max_age,
        )
        return bp

    def handle(self, **view_args: Any) -> Response:
        response = self.respond(view_args)
        origin = request.headers.get("Origin")
        if origin:
            # What flask-cors adds to an answer for a browser. It leaves alone a response that
            # has Access-Control-Allow-Origin; working these headers out in its generic
            # after_request cost about 25 us a request, a fifth of this view.
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers.add("Vary", "Origin")
        return response

    def respond(self, view_args: dict[str, Any]) -> Response:
        """The response to the request: events stored and accepted, or refused.

        Every refusal, of the request or of some of its events, is logged and counted
        (:mod:`flask_journey.refusals`).
        """
        settings = self.state.settings
        tenant: Tenant | None = None
        try:
            migrations.ensure_current(self.state.database)
            try:
                envelope = self.envelope(read_json(request, settings.max_body_bytes), view_args)
                tenant = self.locate(envelope)
                self.state.guard.admit(
                    tenant,
                    *self.origins(envelope),
                    authenticated=self.authenticated,
                    client=request.remote_addr,
                )
                parsed = self.parse(envelope, tenant)
            except ValidationError as err:
                raise self.invalid(err) from None
            if parsed.events:
                self.state.guard.check_quota(tenant, len(parsed.events))
                parsed.stored = pipeline.store(
                    tenant,
                    self.name,
                    parsed.events,
                    keep_query_values=settings.keep_query_values,
                    group_commit=settings.group_commit,
                    database=self.state.database,
                )
                self.state.database_outage.succeeded()
            if parsed.rejected:
                index, message = parsed.rejected[0]
                self._refused(
                    tenant, INVALID_EVENT, f"event {index}: {message}", count=len(parsed.rejected)
                )
            return self.accepted(parsed)
        except Refusal as outcome:
            self._refused(tenant, reason_of(outcome), outcome.message)
            response = self.refused(outcome)
            retry_after = getattr(outcome, "retry_after", None)
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)
            return response
        except (DatabaseError, InterfaceError) as exc:
            # Logged by the outage log (one traceback, then a line per failure), not per refusal.
            self.state.database_outage.failed(exc, f"to {request.path} answered 503")
            return self.refused(Unavailable(f"Storage unavailable: {type(exc).__name__}"))
        except migrations.SchemaError as exc:
            unavailable = Unavailable("Storage unavailable: the database schema is not current")
            self._refused(tenant, "unavailable", f"{unavailable.message}: {exc}")
            return self.refused(unavailable)
        except IdentityNotConfigured as exc:
            unavailable = Unavailable("Identity hashing is not configured on this site")
            self._refused(tenant, "unavailable", str(exc))
            return self.refused(unavailable)

    def _refused(self, tenant: Tenant | None, reason: str, message: str, **kwargs: Any) -> None:
        refusals.record(self.state.database, tenant, self.name, reason, message, **kwargs)

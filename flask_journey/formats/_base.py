"""What every wire format shares: the request flow from body to stored events.

A format subclasses :class:`WireFormat` and says only what is its own: its routes, how its request
names a tenant, how its events map to canonical events, and how it words success and refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from flask import Blueprint, Response, current_app, request
from flask_cors import CORS
from marshmallow import ValidationError
from peewee import DatabaseError, InterfaceError

from .. import pipeline
from ..outcomes import InvalidRequest, Refusal, Unavailable
from ..payload import read_json
from ..tenants import Tenant

if TYPE_CHECKING:
    from ..extension import JourneyState


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

    def origin(self, envelope: Any) -> str | None:
        """The origin the request comes from, checked against the journey's allowed origins."""
        return request.headers.get("Origin")

    # The flow, the same for every format.

    def blueprint(self) -> Blueprint:
        bp = Blueprint(f"journey_{self.name}", __name__)
        for rule, endpoint in self.routes:
            bp.add_url_rule(rule, endpoint, self.handle, methods=["POST"])
        CORS(
            bp,
            origins="*",
            send_wildcard=False,
            methods=["POST", "OPTIONS"],
            allow_headers=list(self.cors_headers),
            max_age=self.state.settings.cors_max_age,
        )
        return bp

    def handle(self, **view_args: Any) -> Response:
        settings = self.state.settings
        try:
            try:
                envelope = self.envelope(read_json(request, settings.max_body_bytes), view_args)
                tenant = self.locate(envelope)
                self.state.guard.admit(tenant, self.origin(envelope))
                parsed = self.parse(envelope, tenant)
            except ValidationError as err:
                path, message = first_error(err.messages)
                name = error_field(path)
                raise InvalidRequest(f"{name} {message}", name) from None
            if parsed.events:
                self.state.guard.check_quota(tenant, len(parsed.events))
                parsed.stored = pipeline.store(
                    tenant,
                    self.name,
                    parsed.events,
                    keep_query_values=settings.keep_query_values,
                )
            return self.accepted(parsed)
        except Refusal as outcome:
            response = self.refused(outcome)
            retry_after = getattr(outcome, "retry_after", None)
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)
            return response
        except (DatabaseError, InterfaceError) as exc:
            current_app.logger.exception("flask-journey could not store a batch")
            return self.refused(Unavailable(f"Storage unavailable: {type(exc).__name__}"))

"""Format-neutral reasons a request is refused.

The shared pipeline raises these; each wire format renders them in its own error shape. They are
werkzeug ``HTTPException`` subclasses, so the status is right even where no format renders them.
"""

from __future__ import annotations

from werkzeug.exceptions import BadRequest as _BadRequest
from werkzeug.exceptions import (
    Forbidden,
    HTTPException,
    NotFound,
    RequestEntityTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from werkzeug.exceptions import UnsupportedMediaType as _UnsupportedMediaType


class Refusal(HTTPException):
    """Base of every outcome; ``message`` is safe to show to the client."""

    #: The HTTP status, set by each outcome's werkzeug exception class.
    code: int

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(Refusal, _BadRequest):
    """The body is not what the format documents. ``field`` names the offending field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnsupportedBody(InvalidRequest, _UnsupportedMediaType):
    """The body's ``Content-Type`` is no media type, or its ``Content-Encoding`` is unknown (415).

    An ``InvalidRequest`` about ``body``, so every format words it as it words those.
    """

    code = 415

    def __init__(self, message: str) -> None:
        super().__init__(message, "body")


class BodyTooLarge(Refusal, RequestEntityTooLarge):
    """The body is larger than ``JOURNEY_MAX_BODY_BYTES``."""


class Unauthenticated(Refusal, Unauthorized):
    """A secret key is missing, unknown or revoked."""


class InsufficientScope(Refusal, Forbidden):
    """A valid secret key made without the scope (``ingest``, ``read``, ``admin``) the request
    needs."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"This API key does not have the {scope!r} scope")
        self.scope = scope


class TenantNotFound(Refusal, NotFound):
    """The organization, journey or key the request names does not exist.

    ``what`` is ``"organization"`` or ``"journey"``.
    """

    def __init__(self, what: str) -> None:
        super().__init__(f"{what.capitalize()} not found")
        self.what = what


class OriginRejected(Refusal, Forbidden):
    """The request's origin is not among the journey's allowed origins."""


class RateLimited(Refusal, TooManyRequests):
    """A rate limit or the monthly quota is exhausted; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int, *, quota: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.quota = quota


class Unavailable(Refusal, ServiceUnavailable):
    """Storage (the database, or rate-limit storage when failing closed) cannot be reached."""


__all__ = [
    "BodyTooLarge",
    "InsufficientScope",
    "InvalidRequest",
    "OriginRejected",
    "RateLimited",
    "Refusal",
    "TenantNotFound",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedBody",
]

"""Reading a request body as bounded, well-formed JSON, before any wire format looks at it."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import Request

from .outcomes import BodyTooLarge, InvalidRequest

#: ``\u0000`` preceded by an even number of backslashes: an escaped NUL inside a JSON string.
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
#: An escaped UTF-16 surrogate without its pair: valid JSON, but no UTF-8 string.
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)

#: Content types a JSON body may arrive with; ``text/plain`` is what navigator.sendBeacon sends.
JSON_CONTENT_TYPES = ("application/json", "text/plain", "")


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _NonFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NonFinite(text)
    return value


def read_json(request: Request, max_bytes: int) -> Any:
    """Decode the request body as JSON or raise an outcome saying what is wrong with it.

    Refuses bodies over ``max_bytes`` (413), other content types, invalid UTF-8, NUL
    characters, non-JSON, and nesting too deep to decode (all 400).
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise BodyTooLarge(f"Request body exceeds {max_bytes} bytes")
    mimetype = request.mimetype or ""
    if mimetype not in JSON_CONTENT_TYPES and not mimetype.endswith("+json"):
        raise InvalidRequest("body must be JSON (application/json or text/plain)", "body")
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise BodyTooLarge(f"Request body exceeds {max_bytes} bytes")
    if not raw.strip():
        raise InvalidRequest("body must not be empty", "body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("body must be valid UTF-8", "body") from None
    escapes = "\\u" in text  # both patterns need one; the regexes are slow on long bodies
    if "\x00" in text or (escapes and _ESCAPED_NUL.search(text)):
        raise InvalidRequest("body must not contain NUL characters", "body")
    if escapes and _LONE_SURROGATE.search(text):
        raise InvalidRequest("body must not contain unpaired surrogates", "body")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise InvalidRequest("body is nested too deeply", "body") from None
    except _NonFinite:
        raise InvalidRequest("body must not contain NaN or infinite numbers", "body") from None
    except ValueError:
        raise InvalidRequest("body must be valid JSON", "body") from None

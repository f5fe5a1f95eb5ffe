"""Reading a request body as bounded, well-formed JSON, before any wire format looks at it."""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Callable
from typing import Any

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from .outcomes import BodyTooLarge, InvalidRequest, UnsupportedBody

#: ``\u0000`` preceded by an even number of backslashes: an escaped NUL inside a JSON string.
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
#: An escaped UTF-16 surrogate without its pair: valid JSON, but no UTF-8 string.
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)

#: Content types a JSON body may arrive with; ``text/plain`` is what navigator.sendBeacon sends.
JSON_CONTENT_TYPES = ("application/json", "text/plain", "")

#: ``type/subtype`` as RFC 9110 spells a media type (werkzeug lower-cases it).
_MEDIA_TYPE = re.compile(r"^[!#$%&'*+.^_`|~0-9a-z-]+/[!#$%&'*+.^_`|~0-9a-z-]+$")

#: ``Content-Encoding`` values a body may arrive with, and the zlib ``wbits`` inflating each.
ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}

#: Bytes read from the request stream at a time while inflating.
_CHUNK = 64 * 1024


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

    A body sent with ``Content-Encoding: gzip`` or ``deflate`` is inflated first. Refuses bodies
    over ``max_bytes`` before or after inflating (413), a ``Content-Type`` that is no media type
    and encodings other than those (415); other content types, a body the server could not read
    (a malformed chunked body), invalid compressed data, invalid UTF-8, NUL characters, non-JSON,
    and nesting too deep to decode (all 400).
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise BodyTooLarge(f"Request body exceeds {max_bytes} bytes")
    check_content_type(request)
    raw = read_body(request, max_bytes)
    if not raw.strip():
        raise InvalidRequest("body must not be empty", "body")
    return decode_json(raw)


def check_content_type(request: Request) -> None:
    """Refuse a ``Content-Type`` that is not a media type (415), or not a JSON one (400)."""
    header = request.headers.get("Content-Type", "").strip()
    mimetype = request.mimetype or ""
    if header and not _MEDIA_TYPE.match(mimetype):
        raise UnsupportedBody(f"Content-Type {header[:64]!r} is not a media type")
    if mimetype not in JSON_CONTENT_TYPES and not mimetype.endswith("+json"):
        raise InvalidRequest("body must be JSON (application/json or text/plain)", "body")


def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, inflated as its ``Content-Encoding`` says, at most ``max_bytes``."""
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    read = _reader(request)
    if encoding in ("", "identity"):
        raw = read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise BodyTooLarge(f"Request body exceeds {max_bytes} bytes")
        return raw
    wbits = ENCODINGS.get(encoding)
    if wbits is None:
        shown = encoding[:32]
        raise UnsupportedBody(
            f"Content-Encoding {shown!r} is not supported (gzip, deflate or identity)"
        )
    return inflate(read, encoding, wbits, max_bytes)


def _reader(request: Request) -> Callable[[int], bytes]:
    stream = request.stream

    def read(size: int) -> bytes:
        try:
            return stream.read(size)
        except RequestEntityTooLarge:  # the host app's MAX_CONTENT_LENGTH
            raise BodyTooLarge("Request body is too large") from None
        except Exception:  # the server's own parse errors: gunicorn's are no OSError
            message = "body could not be read (malformed or truncated)"
            raise InvalidRequest(message, "body") from None

    return read


def inflate(read: Callable[[int], bytes], encoding: str, wbits: int, max_bytes: int) -> bytes:
    """Inflate what ``read`` returns, refusing (413) once more than ``max_bytes`` come out.

    At most ``max_bytes + 1`` bytes are ever inflated, however small the compressed body. A
    ``deflate`` body may be zlib data (as RFC 9110 says) or raw deflate (as some clients send).
    """
    out = bytearray()
    decoder: Any = None
    compressed = 0
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            break
        compressed += len(chunk)
        if compressed > max_bytes:
            raise BodyTooLarge(f"Request body exceeds {max_bytes} bytes")
        if decoder is None:
            raw_deflate = encoding == "deflate" and not _zlib_header(chunk)
            decoder = zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else wbits)
        data = chunk
        while data and not decoder.eof:
            try:
                out += decoder.decompress(data, max_bytes + 1 - len(out))
            except zlib.error:
                raise InvalidRequest(f"body is not valid {encoding} data", "body") from None
            if len(out) > max_bytes:
                raise BodyTooLarge(f"Request body exceeds {max_bytes} bytes once inflated")
            data = decoder.unconsumed_tail
        if decoder.eof and (data or decoder.unused_data):
            raise InvalidRequest(f"body has data after the end of its {encoding} data", "body")
    if decoder is not None and not decoder.eof:
        raise InvalidRequest(f"body is not valid {encoding} data (truncated)", "body")
    return bytes(out)


def _zlib_header(data: bytes) -> bool:
    """Whether ``data`` starts with a zlib header (RFC 1950: deflate, and a check sum of 31)."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def decode_json(raw: bytes) -> Any:
    """Decode a body as strict JSON (UTF-8, no NUL, no lone surrogates, finite numbers)."""
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

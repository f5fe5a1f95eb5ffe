"""Hostile values for the sweep of every field, and JSON that can carry the ones JSON cannot.

A :class:`Raw` value is written into the body as it is (``NaN``, ``1e400``, a lone surrogate
escape, nesting deeper than any decoder recurses): ``json.dumps`` could not produce them.
"""

from __future__ import annotations

import copy
import json
from typing import Any


class Raw:
    """JSON text put into a body as it is."""

    def __init__(self, text: str) -> None:
        self.text = text


def dumps(body: Any) -> bytes:
    """``body`` as JSON, with each :class:`Raw` value written as its text."""
    raws: list[str] = []

    def swap(value: Any) -> Any:
        if isinstance(value, Raw):
            raws.append(value.text)
            return f"@@raw{len(raws) - 1}@@"
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(body))
    for index, raw in enumerate(raws):
        text = text.replace(f'"@@raw{index}@@"', raw)
    return text.encode("utf-8", "surrogatepass")


def nested(depth: int, leaf: Any = 1, *, kind: str = "dict") -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value} if kind == "dict" else [value]
    return value


def replaced(body: Any, path: tuple, value: Any) -> Any:
    """A copy of ``body`` with the value at ``path`` (keys and list indexes) replaced."""
    body = copy.deepcopy(body)
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


#: Values that no field accepts: the body itself is refused before any format reads it.
REFUSED_ANYWHERE: dict[str, Any] = {
    "nul": "a\x00b",
    "escaped-nul": Raw('"a\\u0000b"'),
    "lone-high-surrogate": Raw('"\\ud800"'),
    "lone-low-surrogate": Raw('"x\\udc00y"'),
    "reversed-surrogates": Raw('"\\udc00\\ud800"'),
    "nan": Raw("NaN"),
    "infinity": Raw("Infinity"),
    "minus-infinity": Raw("-Infinity"),
    "1e400": Raw("1e400"),
    "-1e400": Raw("-1e400"),
    "nesting-20000-deep": Raw("[" * 20_000 + "]" * 20_000),
    "string-over-body-limit": "x" * 600_000,
}

#: Values a field may accept where they are plausible, and must otherwise refuse with a 4xx.
HOSTILE: dict[str, Any] = {
    "ts-plus-14-at-year-1": "0001-01-01T00:00:00+14:00",
    "ts-minus-14-at-year-9999": "9999-12-31T23:59:59-14:00",
    "ts-year-10000": "10000-01-01T00:00:00Z",
    "ts-year-0": "0000-01-01T00:00:00Z",
    "ts-feb-30": "2024-02-30T10:00:00Z",
    "ts-offset-24h": "2024-01-15T10:30:00+24:00",
    "ts-no-offset": "2024-01-15T10:30:00",
    "ts-date-only": "2024-01-15",
    "millis-year-10000": 253_402_300_800_000,
    "huge-integer": 10**400,
    "int64-max-plus-1": 2**63,
    "int64-min-minus-1": -(2**63) - 1,
    "uint64-over": 2**64,
    "minus-one": -1,
    "zero": 0,
    "max-double": 1.7976931348623157e308,
    "min-double": -1.7976931348623157e308,
    "denormal": 5e-324,
    "fraction": 0.5,
    "null": None,
    "true": True,
    "false": False,
    "empty-list": [],
    "empty-object": {},
    "list-of-null": [None],
    "object": {"a": 1},
    "numeric-string": "123",
    "integer": 123,
    "list-of-10000": ["x"] * 10_000,
    "nested-dict-100": nested(100),
    "nested-list-100": nested(100, kind="list"),
    "empty-string": "",
    "space": " ",
    "string-10k": "x" * 10_000,
    "string-200k": "y" * 200_000,
    "emoji": "\U0001f642" * 300,
    "control-characters": "\x01\x07\x1b[31m\r\n\t",
    "bidi-override": "\u202egnp.exe",
    "zero-width": "\u200b\ufeff",
    "noncharacters": "\ufffe\uffff\U0010ffff",
    "path-traversal": "../../../etc/passwd",
    "script": "<script>alert(1)</script>",
    "sql": "' OR 1=1; DROP TABLE journey_event; --",
    "percent-nul": "%00",
    "format-string": "%s%s%n{0}{__class__}",
    "javascript-url": "javascript:alert(1)",
    "userinfo-url": "https://user:pass@grants.example.com/",
    "bare-scheme": "http://",
    "null-literal-string": "null",
    "nan-string": "NaN",
}

#: Header and path values: strings a client can send there (latin-1, no line breaks).
HEADER_VALUES: dict[str, str] = {
    "empty": "",
    "space": " ",
    "long-8k": "x" * 8_000,
    "latin-1": "caf\xe9",
    "control": "\x01\x7f",
    "trailing-slash": "https://grants.example.com/",
    "path": "https://grants.example.com/apply",
    "upper-case": "HTTPS://GRANTS.EXAMPLE.COM",
    "default-port": "https://grants.example.com:443",
    "userinfo": "https://user@grants.example.com",
    "null-origin": "null",
    "query": "https://grants.example.com?x=1",
    "sql": "' OR 1=1 --",
    "bearer-garbage": "Bearer sk_\x01_\xff",
    "bearer-only": "Bearer ",
}

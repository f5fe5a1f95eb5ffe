"""Marshmallow fields the wire formats share: bounded text, times, and property objects.

Messages are phrased to follow the field's name (``url is required``), as
:meth:`~._base.WireFormat.invalid` words them by default.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from typing import Any

from marshmallow import ValidationError, fields, validate

#: The message of a missing required field; a format may reword it (seed 003 does).
REQUIRED = "is required"
#: How deeply a free-form object (seed 002's extra fields, seed 004's ``event_data``) may nest.
MAX_DEPTH = 8
#: Longest key of a property object.
MAX_KEY_LENGTH = 128

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MAX_MILLIS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def text(max_length: int, *, required: bool = False, **kwargs: Any) -> fields.String:
    """A string of at most ``max_length`` characters; optional ones may be null."""
    length = (
        validate.Length(min=1, max=max_length, error=f"must be 1 to {max_length} characters")
        if required
        else validate.Length(max=max_length, error=f"must be at most {max_length} characters")
    )
    return fields.String(
        required=required,
        allow_none=not required,
        validate=[length, *kwargs.pop("validate", ())],
        error_messages={"required": REQUIRED, "null": REQUIRED, "invalid": "must be a string"},
        **kwargs,
    )


def email(**kwargs: Any) -> fields.String:
    """An optional email address (at most 128 characters)."""
    return text(128, validate=[validate.Email(error="must be an email address")], **kwargs)


def number(**kwargs: Any) -> fields.Float:
    """An optional finite, non-negative number."""
    return fields.Float(
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(min=0, error="must not be negative"),
        error_messages={
            "invalid": "must be a number",
            "special": "must be a finite number",
            "too_large": "must be a finite number",
        },
        **kwargs,
    )


class InUtcRange(validate.Validator):
    """An aware time that is also a time in UTC: years 1 to 9999 there, whatever its offset.

    ``0001-01-01T00:00:00+14:00`` is a valid ISO 8601 time that is in year 0 in UTC.
    """

    error = "must be between 0001-01-01 and 9999-12-31 in UTC"

    def __init__(self, error: str | None = None) -> None:
        self.error = error or self.error

    def __call__(self, value: dt.datetime) -> dt.datetime:
        try:
            value.astimezone(dt.timezone.utc)
        except OverflowError:
            raise ValidationError(self.error) from None
        return value


def iso_time(**kwargs: Any) -> fields.AwareDateTime:
    """An optional ISO 8601 time, within UTC's years 1 to 9999; one without an offset is UTC."""
    message = "must be an ISO 8601 timestamp"
    return fields.AwareDateTime(
        format="iso",
        default_timezone=dt.timezone.utc,
        allow_none=True,
        validate=InUtcRange(),
        error_messages={"invalid": message, "format": message},
        **kwargs,
    )


def naive_utc(value: dt.datetime) -> dt.datetime:
    """An aware time as the naive UTC datetime the events table stores."""
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


#: The largest integer a property may hold: beyond it no JSON reader's double holds it either.
_MAX_INT = int(sys.float_info.max)


def is_scalar(value: Any) -> bool:
    """A string, boolean, null or finite number (an integer within a double's range)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return -_MAX_INT <= value <= _MAX_INT
    return value is None or isinstance(value, (str, bool))


class StrictBoolean(fields.Boolean):
    """JSON's ``true`` or ``false`` only: marshmallow's Boolean also takes ``"no"``, ``0``, ..."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class UnixMillis(fields.Field):
    """A Unix time in milliseconds (a number), loaded as an aware UTC datetime."""

    default_error_messages = {"invalid": "must be a Unix timestamp in milliseconds"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        if not 0 <= value <= _MAX_MILLIS:  # also refuses NaN
            raise self.make_error("invalid")
        # Added to the epoch: dividing by 1000 into a float can land a microsecond short.
        return _EPOCH + dt.timedelta(milliseconds=value)


class Properties(fields.Field):
    """A flat object of string, number and boolean values (and null, where allowed)."""

    default_error_messages = {
        "type": "must be an object",
        "too_many": "must have at most {max} keys",
        "key": "keys must be 1 to {max} characters",
        "value": "values must be strings, numbers or booleans",
        "value_or_null": "values must be strings, numbers, booleans or null",
    }

    def __init__(
        self,
        *,
        max_keys: int | None = None,
        max_key_length: int = MAX_KEY_LENGTH,
        null_values: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(allow_none=True, **kwargs)
        self.max_keys = max_keys
        self.max_key_length = max_key_length
        self.null_values = null_values

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.make_error("type")
        if self.max_keys is not None and len(value) > self.max_keys:
            raise self.make_error("too_many", max=self.max_keys)
        for key, item in value.items():
            if not 0 < len(key) <= self.max_key_length:
                raise self.make_error("key", max=self.max_key_length)
            if not is_scalar(item) or (item is None and not self.null_values):
                raise self.make_error("value_or_null" if self.null_values else "value")
        return value


class JsonObject(fields.Field):
    """A free-form JSON object: finite numbers, keys of at most 128 characters, shallow nesting."""

    default_error_messages = {
        "type": "must be an object",
        "key": f"keys must be 1 to {MAX_KEY_LENGTH} characters",
        "number": "must be a finite number",
        "depth": f"must not nest more than {MAX_DEPTH} levels deep",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.make_error("type")
        self._check(value, 1)
        return value

    def _check(self, value: Any, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise self.make_error("depth")
        if isinstance(value, dict):
            for key, item in value.items():
                if not 0 < len(key) <= MAX_KEY_LENGTH:
                    raise self.make_error("key")
                self._check(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                self._check(item, depth + 1)
        elif not is_scalar(value):
            raise self.make_error("number")

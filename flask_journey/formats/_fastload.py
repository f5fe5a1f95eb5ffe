"""Loading the common, valid case of a marshmallow schema fast, with marshmallow's own errors.

Marshmallow stays the declaration of what a wire format accepts. :func:`fast_loader` reads that
declaration once and returns a function with the result of ``schema.load(data)``: for the field
types and validators it knows (strings, strict integers, ISO 8601 datetimes, nested schemas,
lists, plain dicts; ``Length``, ``OneOf``, ``Equal``) it checks the data itself; anything it does
not accept, it hands to ``schema.load``, so a refusal carries marshmallow's exact messages and
anything it cannot prove valid is decided by marshmallow.

It reads marshmallow 4's internals (``Schema._hooks``, a field's ``pre_load``); a schema whose
internals are not as it knows them (marshmallow 3 keys hooks differently) is loaded by
``schema.load`` alone.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA
from marshmallow.utils import missing

Loader = Callable[[Any], Any]
_Convert = Callable[[Any, dict], Any]


class _Slow(Exception):
    """The data is not what the fast path accepts; marshmallow decides."""


class _Unsupported(Exception):
    """The schema uses something the fast path does not implement."""


def fast_loader(schema: Schema) -> Loader:
    """A function returning ``schema.load(data)``, checking the valid common case itself."""
    try:
        check = _compile_schema(schema)
    except (_Unsupported, AttributeError):  # AttributeError: an internal it did not find
        return schema.load

    def load(data: Any) -> Any:
        try:
            return check(data)
        except (_Slow, ValidationError):
            return schema.load(data)

    return load


def _hooks(schema: Schema) -> dict[str, list[tuple[str, bool, dict]]]:
    """The schema's hooks by tag, in marshmallow 4's shape (else the schema is unsupported)."""
    hooks = schema._hooks
    if not all(isinstance(tag, str) for tag in hooks) or not all(
        isinstance(hook, tuple) and len(hook) == 3 for found in hooks.values() for hook in found
    ):
        raise _Unsupported
    return hooks


def _compile_schema(schema: Schema) -> Callable[[Any], dict]:
    hooks = _hooks(schema)
    if hooks[PRE_LOAD] or hooks[POST_LOAD] or hooks[VALIDATES] or schema.many or schema.partial:
        raise _Unsupported
    if schema.unknown not in (EXCLUDE, RAISE) or schema.dict_class is not dict:
        raise _Unsupported
    validators = []
    for name, pass_collection, kwargs in hooks[VALIDATES_SCHEMA]:
        if pass_collection:
            raise _Unsupported
        validators.append((getattr(schema, name), kwargs.get("pass_original", False)))
    steps = []
    for name, field in schema.load_fields.items():
        out = field.attribute or name
        if "." in out or getattr(field, "pre_load", None):
            raise _Unsupported  # a pre_load function may turn None into a value
        key = field.data_key if field.data_key is not None else name
        steps.append(
            (key, out, field.required, field.allow_none, field.load_default, _compile_field(field))
        )
    known = frozenset(step[0] for step in steps)
    raise_unknown = schema.unknown == RAISE
    unknown = schema.unknown

    def check(data: Any) -> dict:
        if type(data) is not dict:
            raise _Slow
        if raise_unknown and not known.issuperset(data):
            raise _Slow
        result = {}
        for key, out, required, allow_none, default, convert in steps:
            value = data.get(key, missing)
            if value is missing:
                if required:
                    raise _Slow
                if default is not missing:
                    result[out] = default() if callable(default) else default
            elif value is None:
                if not allow_none:
                    raise _Slow
                result[out] = None
            else:
                result[out] = convert(value, data)
        for validator, pass_original in validators:
            if pass_original:
                validator(result, data, partial=None, many=False, unknown=unknown)
            else:
                validator(result, partial=None, many=False, unknown=unknown)
        return result

    return check


def _compile_field(field: Any) -> _Convert:
    """A function converting one present, non-null value as ``field.deserialize`` would."""
    kind = type(field)
    if getattr(field, "pre_load", None) or getattr(field, "post_load", None):
        return _generic(field)
    if kind is fields.String:
        return _scalar(str, field.validators)
    if kind is fields.Integer and field.strict:
        return _scalar(int, field.validators)
    if kind in (fields.DateTime, fields.AwareDateTime) and field.format in ("iso", "iso8601"):
        convert = _iso_datetime(getattr(field, "default_timezone", False))
    elif kind is fields.Dict and field.key_field is None and field.value_field is None:
        convert = _plain_dict
    elif kind is fields.List:
        convert = _list(_compile_field(field.inner))
    elif kind is fields.Nested and field.unknown is None and not field.many:
        try:
            convert = _nested(_compile_schema(field.schema))
        except _Unsupported:
            return _generic(field)
    else:
        return _generic(field)
    checks = [_compile_validator(v) for v in field.validators]
    if not checks:
        return convert

    def validated(value: Any, data: dict) -> Any:
        result = convert(value, data)
        for check in checks:
            check(result)
        return result

    return validated


def _generic(field: fields.Field) -> _Convert:
    def convert(value: Any, data: dict) -> Any:
        return field.deserialize(value, None, data)

    return convert


def _scalar(kind: type, validators: list) -> _Convert:
    """A value of exactly type ``kind`` (str or int), its usual validators checked in one go."""
    low, high, choices, others = 0, sys.maxsize, None, []
    for validator in validators:
        allowed = _allowed(validator)
        if type(validator) is validate.Length and kind is str:
            if validator.equal is not None:
                low, high = max(low, validator.equal), min(high, validator.equal)
            else:
                low = max(low, validator.min or 0)
                high = min(high, validator.max if validator.max is not None else sys.maxsize)
        elif allowed is not None:
            choices = allowed if choices is None else choices & allowed
        else:
            others.append(_compile_validator(validator))

    def convert(value: Any, data: dict) -> Any:
        if type(value) is not kind or (choices is not None and value not in choices):
            raise _Slow
        if kind is str and not low <= len(value) <= high:  # type: ignore[arg-type]
            raise _Slow
        for check in others:
            check(value)
        return value

    return convert


def _allowed(validator: Callable[[Any], Any]) -> frozenset | None:
    """The values a ``OneOf`` or ``Equal`` validator accepts, when they can be a set."""
    try:
        if type(validator) is validate.OneOf:
            return frozenset(validator.choices)
        if type(validator) is validate.Equal:
            return frozenset([validator.comparable])
    except TypeError:
        pass
    return None


def _iso_datetime(default_timezone: Any) -> _Convert:
    """``False`` for a plain ``DateTime``; else an ``AwareDateTime``'s default time zone."""

    def convert(value: Any, data: dict) -> dt.datetime:
        if type(value) is not str:
            raise _Slow
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _Slow from None
        if default_timezone is not False and parsed.tzinfo is None:
            if default_timezone is None:
                raise _Slow
            parsed = parsed.replace(tzinfo=default_timezone)
        return parsed

    return convert


def _plain_dict(value: Any, data: dict) -> dict:
    if type(value) is not dict:
        raise _Slow
    return dict(value)


def _list(inner: _Convert) -> _Convert:
    def convert(value: Any, data: dict) -> list:
        if type(value) is not list:
            raise _Slow
        return [inner(item, data) for item in value]

    return convert


def _nested(check: Callable[[Any], dict]) -> _Convert:
    def convert(value: Any, data: dict) -> dict:
        return check(value)

    return convert


def _compile_validator(validator: Callable[[Any], Any]) -> Callable[[Any], None]:
    """A check raising ``_Slow`` where ``validator`` would refuse the value."""
    allowed = _allowed(validator)
    if type(validator) is validate.Length:
        low, high, equal = validator.min, validator.max, validator.equal

        def length(value: Any) -> None:
            size = len(value)
            if (
                (equal is not None and size != equal)
                or (low is not None and size < low)
                or (high is not None and size > high)
            ):
                raise _Slow

        return length
    if allowed is not None:

        def among(value: Any) -> None:
            try:
                if value not in allowed:
                    raise _Slow
            except TypeError:  # unhashable: marshmallow decides
                raise _Slow from None

        return among

    def other(value: Any) -> None:
        if validator(value) is False:
            raise _Slow

    return other

"""The fast schema loader gives exactly what marshmallow gives: the same data, the same errors."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from flask_journey.formats._fastload import fast_loader
from flask_journey.formats.journey import BatchSchema, EventSchema

VALID_EVENT = {
    "_tag": "step_view",
    "schemaVersion": 1,
    "id": "evt_1",
    "ts": "2024-01-15T10:30:00.000Z",
    "orgKey": "example-org",
    "journeyKey": "small-business-grant",
    "sessionId": "sess_1",
    "clientId": "client_1",
    "url": "https://grants.example.com/apply",
    "stepKey": "eligibility",
    "title": "Apply",
}

#: Values that exercise every type and bound check: wrong types, bools for ints, empty and
#: oversized strings, naive, offset and malformed timestamps, nested containers.
ODD_VALUES = [
    None,
    True,
    False,
    0,
    1,
    2,
    -1,
    1.0,
    1.5,
    "",
    "x",
    "1",
    "x" * 64,
    "x" * 65,
    "x" * 128,
    "x" * 129,
    "x" * 2049,
    "é" * 10,
    [],
    ["a"],
    {},
    {"a": 1},
    b"bytes",
    "2024-01-15T10:30:00",
    "2024-01-15T10:30:00+02:00",
    "2024-01-15",
    "2024-13-01T00:00:00Z",
    "15/01/2024",
    "step_view",
    "session_start",
    "keypress",
    "desktop",
    "fridge",
]


def outcome(load, data: Any) -> tuple[str, Any]:
    try:
        return "ok", load(data)
    except ValidationError as err:
        return "error", err.messages


def assert_same(schema: Schema, data: Any) -> None:
    assert outcome(fast_loader(schema), data) == outcome(schema.load, data), data


@pytest.mark.parametrize("key", sorted({*VALID_EVENT, "referrer", "fieldKey", "reason", "x"}))
def test_every_odd_value_of_every_event_property_gets_marshmallows_answer(key):
    schema = EventSchema()
    for value in ODD_VALUES:
        assert_same(schema, {**VALID_EVENT, key: value})
    assert_same(schema, {k: v for k, v in VALID_EVENT.items() if k != key})


def test_pairs_of_odd_values_get_marshmallows_answer():
    schema = EventSchema()
    keys = ("_tag", "schemaVersion", "ts", "stepKey")
    for (a, b), (x, y) in itertools.product(
        itertools.combinations(keys, 2), itertools.product(ODD_VALUES[:18], repeat=2)
    ):
        assert_same(schema, {**VALID_EVENT, a: x, b: y})


def test_a_valid_event_loads_to_the_same_data_with_an_aware_timestamp():
    loaded = fast_loader(EventSchema())(dict(VALID_EVENT, ts="2024-01-15T10:30:00"))

    assert loaded == EventSchema().load(dict(VALID_EVENT, ts="2024-01-15T10:30:00"))
    assert loaded["ts"] == dt.datetime(2024, 1, 15, 10, 30, tzinfo=dt.timezone.utc)


def test_batch_envelopes_get_marshmallows_answer():
    schema = BatchSchema()
    valid = {"schemaVersion": 1, "context": {"orgKey": "o", "journeyKey": "j"}, "events": [{}]}
    for key in ("schemaVersion", "context", "events", "extra"):
        for value in ODD_VALUES:
            assert_same(schema, {**valid, key: value})
    for key in ("orgKey", "journeyKey", "language", "deviceClass"):
        for value in ODD_VALUES:
            assert_same(schema, {**valid, "context": {**valid["context"], key: value}})
    for body in ([], "text", None, 7):
        assert_same(schema, body)


class Inner(Schema):
    class Meta:
        unknown = RAISE

    n = fields.Integer(strict=True, required=True, validate=validate.Range(min=0))
    tags = fields.List(fields.String(validate=validate.Length(max=3)), load_default=list)


class Outer(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(data_key="Name", attribute="label", validate=validate.OneOf(["a", "b"]))
    inner = fields.Nested(Inner)
    items = fields.List(fields.Dict(), validate=validate.Length(max=2))
    score = fields.Float(allow_none=True)
    mail = fields.Email()
    when = fields.DateTime(format="iso")

    @validates_schema(pass_original=True)
    def _names_need_mail(self, data: dict, original: dict, **kwargs: Any) -> None:
        if data.get("label") == "b" and "mail" not in original:
            raise ValidationError("is required for b", "mail")


def test_nested_lists_defaults_renamed_keys_and_schema_validators_match_marshmallow():
    schema = Outer()
    valid = {
        "Name": "a",
        "inner": {"n": 1, "tags": ["x"]},
        "items": [{"k": 1}],
        "score": 2.5,
        "mail": "a@example.com",
        "when": "2024-01-15T10:30:00+01:00",
    }
    assert_same(schema, valid)
    assert_same(schema, {**valid, "Name": "b"})
    assert_same(schema, {"Name": "b", "mail": "a@example.com"})
    for key in valid:
        for value in ODD_VALUES:
            assert_same(schema, {**valid, key: value})
    for value in ODD_VALUES:
        assert_same(schema, {**valid, "inner": {"n": value}})
        assert_same(schema, {**valid, "inner": {"n": 1, "tags": [value]}})
        assert_same(schema, {**valid, "inner": {"n": 1, "other": value}})
        assert_same(schema, {**valid, "items": [value]})


def test_the_loaded_dicts_are_copies_as_marshmallows_are():
    body = {"schemaVersion": 1, "context": {"orgKey": "o", "journeyKey": "j"}, "events": [{}]}

    loaded = fast_loader(BatchSchema())(body)

    assert loaded["events"][0] == body["events"][0]
    assert loaded["events"][0] is not body["events"][0]


def test_a_schema_whose_internals_are_not_marshmallow_4s_is_loaded_by_marshmallow_alone():
    """marshmallow 3 keys hooks by (tag, many): the fast path cannot read them, and steps aside."""
    schema = EventSchema()
    schema._hooks = {("pre_load", False): ["normalise"]}

    assert fast_loader(schema) == schema.load

"""A journey's bounded vocabulary: the step keys, fields, event names, error types and drop-off
reasons its reports show on their own, every other value counted under :data:`OTHER`.

Pure: a :class:`Vocabulary` admits values as events are read in order (by id), up to the
:class:`Limits` of each kind, then folds each event's values to what it admitted. The refresh
keeps a journey's admitted values in ``journey_vocabulary`` and folds the events it summarises;
the reference applies the same rule to all of a journey's events at once. Events are stored as
sent: raising a limit and rebuilding the summaries brings folded values back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..config import DEFAULTS, Settings
from .query import FIELD_TYPES

#: What a value beyond its kind's limit is reported as.
OTHER = "(other)"
#: The kinds of values, as ``journey_vocabulary.kind`` stores them:
#: ``step`` (a step key), ``field`` (a field with its step), ``name`` (an event's type with its
#: name), ``custom`` (a custom event's name with its category and label), ``error`` (a
#: validation error's type) and ``reason`` (a drop-off reason).
KINDS = ("step", "field", "name", "custom", "error", "reason")
#: The event types whose step key is a journey step (a view, a drop-off, a field's step).
STEP_TYPES = ("step_view", "dropoff_signal", *FIELD_TYPES)


@dataclass(frozen=True)
class Limits:
    """How many distinct values of each kind a journey's reports show on their own."""

    steps: int
    fields: int
    event_names: int
    error_types: int
    reasons: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits an app's ``JOURNEY_MAX_*`` settings give."""
        return cls(
            settings.max_steps,
            settings.max_fields,
            settings.max_event_names,
            settings.max_error_types,
            settings.max_reasons,
        )

    @classmethod
    def default(cls) -> Limits:
        """The limits of an app that sets none of ``JOURNEY_MAX_*``."""
        return cls(
            DEFAULTS["JOURNEY_MAX_STEPS"],
            DEFAULTS["JOURNEY_MAX_FIELDS"],
            DEFAULTS["JOURNEY_MAX_EVENT_NAMES"],
            DEFAULTS["JOURNEY_MAX_ERROR_TYPES"],
            DEFAULTS["JOURNEY_MAX_REASONS"],
        )

    def of_kind(self, kind: str) -> int:
        return {
            "step": self.steps,
            "field": self.fields,
            "name": self.event_names,
            "custom": self.event_names,
            "error": self.error_types,
            "reason": self.reasons,
        }[kind]


#: A value: a string, or for the kinds made of several parts (``field``, ``name``,
#: ``custom``) a tuple of them.
Value = str | tuple[str | None, ...]


def encode(value: Value) -> str:
    """A value as ``journey_vocabulary.value`` stores it: a tuple as a JSON array."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def decode(kind: str, stored: str) -> Value:
    """A value of ``kind`` as :func:`encode` stored it."""
    return tuple(json.loads(stored)) if kind in ("field", "name", "custom") else stored


class Folded(NamedTuple):
    """One event's values as its journey's reports count them."""

    step_key: str | None
    field_key: str | None
    error_type: str | None
    #: The drop-off reason of a ``dropoff_signal`` (``unknown`` when it gave none), else None.
    reason: str | None
    name: str | None
    category: str | None
    label: str | None


class Vocabulary:
    """The values of one journey admitted so far, and the rule that admits and folds them.

    The configured steps are admitted first, whatever the limit; then each kind admits the
    values it has not seen, in the order :meth:`admit` reads them, while it holds fewer than its
    limit. ``added`` lists what was admitted since the vocabulary was made, in order.
    """

    def __init__(
        self,
        limits: Limits,
        configured: Iterable[str] = (),
        known: Iterable[tuple[str, Value]] = (),
    ) -> None:
        self.limits = limits
        self.known: dict[str, set[Value]] = {kind: set() for kind in KINDS}
        for kind, value in known:
            self.known[kind].add(value)
        self.added: list[tuple[str, Value]] = []
        for step in configured:
            self._add("step", step)

    def _add(self, kind: str, value: Value) -> None:
        if value not in self.known[kind]:
            self.known[kind].add(value)
            self.added.append((kind, value))

    def _take(self, kind: str, value: Value) -> None:
        if value not in self.known[kind] and len(self.known[kind]) < self.limits.of_kind(kind):
            self._add(kind, value)

    def admit(
        self,
        type: str,
        step_key: str | None,
        field_key: str | None,
        error_type: str | None,
        properties: dict[str, Any] | None,
        name: str | None,
        category: str | None,
        label: str | None,
    ) -> None:
        """Read one event's values, admitting those there is still room for."""
        if type in STEP_TYPES and step_key:
            self._take("step", step_key)
        if type in FIELD_TYPES and field_key:
            self._take("field", (self._step(step_key), field_key))
        if type == "validation_error":
            self._take("error", error_type or "unknown")
        if type == "dropoff_signal":
            self._take("reason", _reason(properties))
        if name is not None:
            self._take("name", (type, name))
            if type == "custom":
                self._take("custom", (self._name(type, name), category, label))

    def _step(self, step_key: str | None) -> str | None:
        return step_key if not step_key or step_key in self.known["step"] else OTHER

    def _name(self, type: str, name: str) -> str:
        return name if (type, name) in self.known["name"] else OTHER

    def fold(
        self,
        type: str,
        step_key: str | None,
        field_key: str | None,
        error_type: str | None,
        properties: dict[str, Any] | None,
        name: str | None,
        category: str | None,
        label: str | None,
    ) -> Folded:
        """One event's values as the reports count them: each admitted one as it is, the others
        as :data:`OTHER` (a field beyond the limit keeps its step; a custom event's category
        and label beyond it become :data:`OTHER`, its name stays as the names fold it)."""
        step = self._step(step_key) if type in STEP_TYPES else step_key
        field = field_key
        if type in FIELD_TYPES and field_key and (step, field_key) not in self.known["field"]:
            field = OTHER
        if type == "validation_error":
            error_type = self._value("error", error_type or "unknown")
        reason = self._value("reason", _reason(properties)) if type == "dropoff_signal" else None
        if name is not None:
            name = self._name(type, name)
            if type == "custom" and (name, category, label) not in self.known["custom"]:
                category = label = OTHER
        return Folded(step, field, error_type, reason, name, category, label)

    def _value(self, kind: str, value: str) -> str:
        return value if value in self.known[kind] else OTHER


def _reason(properties: dict[str, Any] | None) -> str:
    return str((properties or {}).get("reason") or "unknown")

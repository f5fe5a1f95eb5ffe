"""The grant application's forms and their server-side validation.

Each step is a tuple of :class:`Field` declarations. The templates render the same declarations
as HTML constraint attributes (``required``, ``pattern``, ``type=email``, ``min``/``max``), so the
browser checks first and the server checks again, with a few rules only the server knows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: The most a business may turn over in a year and still qualify (server-side rule only).
MAX_TURNOVER = 10_000_000


@dataclass(frozen=True)
class Field:
    """One form field: how it renders and how the server checks it."""

    name: str
    label: str
    kind: str = "text"  # an <input> type, or "select", "textarea", "checkbox"
    required: bool = True
    pattern: str | None = None  # HTML pattern: the whole value must match
    title: str | None = None  # what the pattern asks for, shown by the browser and the server
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 200
    choices: tuple[tuple[str, str], ...] = ()
    hint: str | None = None
    #: Extra attributes for the control (``data-journey-ignore``, ``autocomplete``...).
    attrs: Mapping[str, str] = field(default_factory=dict)
    #: A server-only rule: returns an error message or None.
    check: Callable[[str], str | None] | None = None

    def html_attrs(self) -> dict[str, Any]:
        """The control's attributes, constraint attributes included (rendered by ``xmlattr``)."""
        attrs: dict[str, Any] = {"id": self.name, "name": self.name, **self.attrs}
        if self.kind not in ("select", "textarea", "checkbox"):
            attrs["type"] = self.kind
        elif self.kind == "checkbox":
            attrs.update(type="checkbox", value="yes")
        if self.required:
            attrs["required"] = ""
        if self.pattern:
            attrs.update(pattern=self.pattern, title=self.title)
        if self.minimum is not None:
            attrs["min"] = self.minimum
        if self.maximum is not None:
            attrs["max"] = self.maximum
        if self.kind not in ("select", "checkbox", "number"):
            attrs["maxlength"] = self.max_length
        return attrs

    def validate(self, raw: str) -> str | None:
        """The error message for a submitted value, or None if it is acceptable."""
        value = raw.strip()
        if not value:
            return "This field is required." if self.required else None
        if len(value) > self.max_length:
            return f"Use at most {self.max_length} characters."
        if self.choices and value not in dict(self.choices):
            return "Choose one of the options."
        if self.kind == "email" and not EMAIL.match(value):
            return "Enter an email address like name@example.com."
        if self.pattern and not re.fullmatch(self.pattern, value):
            return self.title or "Check the format."
        if self.kind == "number":
            if not re.fullmatch(r"[0-9]+", value):
                return "Enter a whole number."
            number = int(value)
            if self.minimum is not None and number < self.minimum:
                return f"Enter {self.minimum} or more."
            if self.maximum is not None and number > self.maximum:
                return f"Enter {self.maximum} or less."
        return self.check(value) if self.check else None


def _turnover_rule(value: str) -> str | None:
    if int(value) > MAX_TURNOVER:
        return f"Businesses turning over more than £{MAX_TURNOVER:,} a year are not eligible."
    return None


ELIGIBILITY = (
    Field(
        "business_type",
        "Type of business",
        kind="select",
        choices=(
            ("sole-trader", "Sole trader"),
            ("partnership", "Partnership"),
            ("limited-company", "Limited company"),
            ("social-enterprise", "Social enterprise"),
        ),
    ),
    Field("employees", "Number of employees", kind="number", minimum=1, maximum=249),
    Field(
        "turnover",
        "Annual turnover (£)",
        kind="number",
        minimum=0,
        hint="Your turnover in the last full financial year.",
        check=_turnover_rule,
    ),
    Field("uk_based", "My business is registered and trading in the UK", kind="checkbox"),
)

BUSINESS = (
    Field(
        "business_name",
        "Business name",
        attrs={
            "data-journey-field": "business-name",
            "minlength": "2",
            "autocomplete": "organization",
        },
        max_length=100,
    ),
    Field("email", "Contact email", kind="email", attrs={"autocomplete": "email"}),
    Field(
        "phone",
        "Contact phone",
        kind="tel",
        required=False,
        pattern=r"[0-9 +\(\)\-]{7,20}",
        title="Use 7 to 20 digits, spaces, brackets, + or -.",
        attrs={"autocomplete": "tel"},
    ),
    Field(
        "registration_number",
        "Company registration number",
        pattern=r"[0-9]{8}",
        title="Use the 8 digits of your registration number.",
        attrs={"inputmode": "numeric"},
    ),
    Field(
        "bank_account",
        "Bank account number for the grant payment",
        pattern=r"[0-9]{8}",
        title="Use the 8 digits of your account number.",
        hint="Payment details: the analytics script records focus and blur only.",
        attrs={"inputmode": "numeric", "autocomplete": "off"},
    ),
    Field(
        "notes",
        "Anything else we should know?",
        kind="textarea",
        required=False,
        max_length=1000,
        hint="This field carries data-journey-ignore: nothing but focus and blur is recorded.",
        attrs={"data-journey-ignore": ""},
    ),
)

DECLARATION = (
    Field("confirm", "The information I have given is true and complete", kind="checkbox"),
    Field("signature", "Your full name, as a signature", attrs={"autocomplete": "name"}),
    Field(
        "password",
        "Choose a password to follow your application",
        kind="password",
        attrs={"minlength": "8", "autocomplete": "new-password"},
        hint="At least 8 characters.",
        check=lambda value: None if len(value) >= 8 else "Use at least 8 characters.",
    ),
)


def validate(fields: tuple[Field, ...], form: Mapping[str, str]) -> tuple[dict, dict]:
    """The submitted values of ``fields`` (stripped) and an error message per invalid field."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for spec in fields:
        raw = form.get(spec.name, "")
        values[spec.name] = raw.strip()
        message = spec.validate(raw)
        if message:
            errors[spec.name] = message
    return values, errors

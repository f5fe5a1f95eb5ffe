"""A journey whose answers are known: sessions written event by event, so that a test knows
which step loses the most, which field is abandoned most, and which error is seen most.

Steps ``start``, ``details``, ``done`` (configured in that order), all sessions two days old:

- 12 sessions view ``start``, touch ``name`` then (9 of them) ``email``, and leave with the
  drop-off reason ``back``: 3 abandon ``name``, 9 abandon ``email``; 5 of the 9 see a
  ``typeMismatch`` on ``email`` first;
- 4 sessions reach ``details``, get a ``patternMismatch`` on ``phone`` and leave there;
- 14 sessions go through to ``done``, 11 of them after a ``patternMismatch`` on ``phone``;
- 1 session views ``start`` and leaves with the reason ``"a\\u202e"`` (a right-to-left override).

So: 31 sessions reach ``start`` and 13 drop off there (41.9%), the most; ``email`` has the most
abandons (9); ``phone`` has errors in the most sessions (15), all "doesn't match the pattern".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from flask_journey import api
from flask_journey.events import CanonicalEvent
from flask_journey.models import utcnow
from flask_journey.store import store
from flask_journey.tenants import tenant_of

STEPS = ("start", "details", "done")
HOSTILE_REASON = "a\u202e"
BASE = "https://grants.example.com/apply"


class _Session:
    def __init__(self, number: int, start: dt.datetime) -> None:
        self.id = f"known-{number:03d}"
        self.clock = start
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, step: str, **values: Any) -> _Session:
        self.clock += dt.timedelta(seconds=7)
        self.events.append(
            {
                "session_id": self.id,
                "client_id": f"client-{self.id}",
                "event_id": f"{self.id}-{len(self.events):03d}",
                "type": kind,
                "occurred_at": self.clock,
                "url": f"{BASE}/{step}",
                "step_key": step,
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 "
                "Firefox/125.0",
                "language": "en-GB",
                **values,
            }
        )
        return self

    def field(self, step: str, name: str, error: str | None = None) -> _Session:
        self.add("field_focus", step, field_key=name)
        self.add("field_change", step, field_key=name)
        if error:
            self.add("validation_error", step, field_key=name, error_type=error)
        return self.add("field_blur", step, field_key=name)


def sessions(now: dt.datetime) -> list[_Session]:
    """The known sessions (see the module's docstring)."""
    start = now - dt.timedelta(days=2)
    made: list[_Session] = []

    def new() -> _Session:
        session = _Session(len(made), start + dt.timedelta(minutes=len(made)))
        made.append(session)
        return session.add("session_start", "start").add("step_view", "start")

    for n in range(12):
        session = new().field("start", "name")
        if n >= 3:
            session.field("start", "email", "typeMismatch" if n < 8 else None)
        session.add("dropoff_signal", "start", properties={"reason": "back"})
    for _ in range(4):
        session = new().field("start", "name").field("start", "email")
        session.add("submit_attempt", "start").add("step_view", "details")
        session.field("details", "phone", "patternMismatch")
    for n in range(14):
        session = new().field("start", "name").field("start", "email")
        session.add("submit_attempt", "start").add("step_view", "details")
        session.field("details", "phone", "patternMismatch" if n < 11 else None)
        session.add("submit_attempt", "details").add("submit_success", "details")
        session.add("step_view", "done")
    new().add("dropoff_signal", "start", properties={"reason": HOSTILE_REASON})
    return made


def fill(app: Flask, org: str, journey: str) -> None:
    """Create ``org``/``journey`` with the known steps unless they exist, and store the known
    sessions through the pipeline."""
    with app.app_context():
        try:
            found_org = api.get_organization(org)
        except api.TenantError:
            found_org = api.create_organization(org)
        try:
            found = api.get_journey(found_org, journey)
        except api.TenantError:
            found = api.create_journey(
                found_org, journey, origins=["https://grants.example.com"], steps=STEPS
            )
        events = [event for session in sessions(utcnow()) for event in session.events]
        store(
            app.extensions["journey"].database,
            tenant_of(found_org, found),
            "demo",
            [CanonicalEvent(**e) for e in events],
        )
        api.refresh()

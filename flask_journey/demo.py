"""Simulated visitors for a journey, stored through the real pipeline: ``flask journey demo-data``
and :func:`flask_journey.api.demo_data`.

The visitors are made up (seeded, so a run is reproducible): they arrive from a few sources on
several devices, in several languages and countries, go through the journey's steps in order,
focus, change and leave its fields, hit the validation errors each field can have
(:class:`DemoField`), come back to fields, and drop off at each step with a falling
probability. A saved application is resumed in a later session that passes the steps already
answered on its way to the one it left. Every session views the steps in order, from the first,
and only a successful submission leads to the last step, so no step is reached more often than
the steps before it allow and the sessions reaching the last step are the completions. Nothing
here is a real person's data.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from peewee import Database

from .events import CanonicalEvent, Tenant
from .models import Event, Journey, utcnow
from .store import store

#: (weight, user agent) of the simulated visitors' browsers.
USER_AGENTS = (
    (
        40,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
    ),
    (
        25,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    ),
    (
        15,
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
    ),
    (
        12,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.4 Safari/605.1.15",
    ),
    (8, "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"),
)
LANGUAGES = ((50, "en-GB"), (20, "en-US"), (12, "cy-GB"), (10, "fr-FR"), (8, "de-DE"))
#: (weight, (referrer, utm_source)) of the visitors' arrivals.
SOURCES: tuple[tuple[int, tuple[str | None, str | None]], ...] = (
    (35, (None, None)),
    (30, ("https://www.google.com/", None)),
    (15, (None, "newsletter")),
    (12, ("https://www.gov.uk/business-support", None)),
    (8, ("https://www.linkedin.com/", None)),
)
#: The reasons the embed script gives for a drop-off signal.
DROPOFF_REASONS = ("leave", "hidden", "idle")


@dataclass(frozen=True)
class DemoField:
    """A field of the simulated form: its key and the validation errors it can have (the
    browser's ``ValidityState`` keys: ``valueMissing`` for a required field, ``typeMismatch``
    for an email or number, ``patternMismatch`` for one with a pattern...). A field without
    errors never fails."""

    key: str
    errors: tuple[str, ...] = ("valueMissing",)


#: Fields made up for each step when neither the caller nor the journey's events name any: a
#: required text, a required email and an optional phone number with a pattern.
GENERIC_FIELDS = (
    ("1", ("valueMissing", "tooShort")),
    ("2", ("valueMissing", "typeMismatch")),
    ("3", ("patternMismatch",)),
)


T = TypeVar("T")


def _pick(rng: random.Random, weighted: Sequence[tuple[int, T]]) -> T:
    return rng.choices([v for _, v in weighted], weights=[w for w, _ in weighted])[0]


def known_fields(journey: Journey) -> dict[str, list[str]]:
    """The fields the journey's stored events name, by step, in order of first appearance."""
    rows = (
        Event.select(Event.step_key, Event.field_key)
        .where(
            Event.journey == journey, Event.field_key.is_null(False), Event.step_key.is_null(False)
        )
        .group_by(Event.step_key, Event.field_key)
        .order_by(Event.step_key, Event.field_key)
        .tuples()
    )
    fields: dict[str, list[str]] = {}
    for step, field in rows:
        fields.setdefault(step, []).append(field)
    return fields


def _fields_of(
    steps: Sequence[str], fields: Mapping[str, Sequence[str | DemoField]]
) -> dict[str, list[DemoField]]:
    """Each step's fields as :class:`DemoField`; made-up ones (:data:`GENERIC_FIELDS`) for
    every step but the last when ``fields`` names none at all."""
    if not any(fields.values()):
        return {
            step: [DemoField(f"{step}-{suffix}", errors) for suffix, errors in GENERIC_FIELDS]
            for step in steps[:-1]
        }
    return {
        step: [f if isinstance(f, DemoField) else DemoField(f) for f in names]
        for step, names in fields.items()
    }


def _visit(
    rng: random.Random,
    number: int,
    start: dt.datetime,
    home: str,
    steps: Sequence[str],
    pages: Mapping[str, str],
    fields: Mapping[str, Sequence[DemoField]],
    application: str,
    first: int = 0,
) -> list[CanonicalEvent]:
    """One simulated session's canonical events, of the application ``application``; a
    resumed application's session starts at the step of index ``first``."""
    session = f"demo-{number:06d}-{rng.getrandbits(32):08x}"
    referrer, utm = _pick(rng, SOURCES)
    common: dict[str, Any] = {
        "session_id": session,
        "client_id": f"demo-client-{rng.getrandbits(40):010x}",
        "user_agent": _pick(rng, USER_AGENTS),
        "language": _pick(rng, LANGUAGES),
    }
    # The country the language's region names: no draw of its own, so a seed's sessions stay.
    common["country"] = str(common["language"]).rpartition("-")[2]
    events: list[CanonicalEvent] = []
    clock = start

    def add(kind: str, seconds: float, **values: Any) -> None:
        nonlocal clock
        clock += dt.timedelta(seconds=seconds)
        events.append(
            CanonicalEvent(
                **common,
                event_id=f"{session}-{len(events):03d}",
                type=kind,
                occurred_at=clock,
                **values,
            )
        )

    def leave(url: str, step: str, seconds: float) -> list[CanonicalEvent]:
        add(
            "dropoff_signal",
            seconds,
            url=url,
            step_key=step,
            properties={"reason": rng.choice(DROPOFF_REASONS)},
        )
        return events

    landing = f"{home}?utm_source={utm}" if utm else home
    add(
        "session_start",
        0,
        url=landing,
        referrer=referrer,
        properties={"applicationKey": application},
    )
    add("page_view", 0.2, url=landing, referrer=referrer, name="Home")
    # Each visitor has a patience; each step's difficulty draws on it.
    patience = rng.betavariate(5, 2)
    for index, step in enumerate(steps):
        url = pages[step]
        if index < first:
            # A resumed application passes the steps its answers are saved for on the way back
            # to the one it left: every session views the steps in order. (No draw: a seed's
            # other sessions stay as they were.)
            add("page_view", 2, url=url, name=step)
            add("step_view", 0.1, url=url, step_key=step)
            add("submit_attempt", 3, url=url, step_key=step)
            continue
        add("page_view", rng.uniform(2, 12), url=url, name=step)
        add("step_view", 0.1, url=url, step_key=step)
        if index == len(steps) - 1 and index > 0:
            # The last step is the page a successful submission leads to.
            add("session_end", rng.uniform(5, 60), url=url)
            return events
        draw = rng.random()
        bounce = draw < 0.18 if index == 0 else draw > patience + 0.35 and index > first
        if bounce:
            return leave(url, step, rng.uniform(3, 40))
        touched: list[DemoField] = []
        for position, spec in enumerate(fields.get(step, ())):
            name = spec.key
            add("field_focus", rng.uniform(0.5, 4), url=url, step_key=step, field_key=name)
            add("field_change", rng.uniform(0.5, 6), url=url, step_key=step, field_key=name)
            add("field_blur", rng.uniform(0.5, 8), url=url, step_key=step, field_key=name)
            touched.append(spec)
            # Later fields of a step are harder: some visitors give up on them.
            if rng.random() > patience + 0.55 - 0.05 * position:
                return leave(url, step, rng.uniform(5, 60))
        if len(touched) > 1 and rng.random() < 0.2:
            # Back to an earlier field, to check or change it: a return.
            name = rng.choice(touched[:-1]).key
            add("field_focus", rng.uniform(1, 4), url=url, step_key=step, field_key=name)
            add("field_blur", rng.uniform(1, 6), url=url, step_key=step, field_key=name)
        add("submit_attempt", rng.uniform(0.5, 3), url=url, step_key=step)
        # Some fields fail validation (a third of them often), each in one of the ways it can;
        # the visitor returns to them and corrects them.
        failing = [
            f
            for f in touched
            if f.errors
            and rng.random() < (0.3 if zlib.crc32(f"{step}/{f.key}".encode()) % 3 == 0 else 0.05)
        ]
        for spec in failing:
            # Each field fails mostly one way, sometimes another.
            kind = zlib.crc32(spec.key.encode()) + (rng.random() < 0.25)
            add(
                "validation_error",
                0.1,
                url=url,
                step_key=step,
                field_key=spec.key,
                error_type=spec.errors[kind % len(spec.errors)],
            )
        for spec in failing:
            name = spec.key
            add("field_focus", rng.uniform(1, 5), url=url, step_key=step, field_key=name)
            add("field_change", rng.uniform(1, 8), url=url, step_key=step, field_key=name)
            add("field_blur", rng.uniform(0.5, 3), url=url, step_key=step, field_key=name)
            if rng.random() > patience + 0.6:
                return leave(url, step, rng.uniform(5, 60))
        if failing:
            add("submit_attempt", rng.uniform(0.5, 3), url=url, step_key=step)
        if index >= len(steps) - 2:
            # The form's last step with fields: its submission succeeds.
            add("submit_success", rng.uniform(0.5, 2), url=url, step_key=step)
            if index == len(steps) - 1:
                add("session_end", rng.uniform(5, 60), url=url)
                return events
    return events


def simulate(
    db: Database,
    tenant: Tenant,
    *,
    sessions: int = 500,
    days: int = 60,
    steps: Sequence[str] | None = None,
    fields: Mapping[str, Sequence[str | DemoField]] | None = None,
    pages: Mapping[str, str] | None = None,
    base_url: str = "https://demo.invalid",
    seed: int = 12,
    now: dt.datetime | None = None,
) -> int:
    """Store ``sessions`` simulated sessions of ``tenant`` into ``db`` (the database the models
    use here), spread over the last ``days`` days; return how many events were stored.

    ``steps`` defaults to the journey's configured steps; ``fields`` maps a step to its fields,
    keys or :class:`DemoField` (default: those its stored events name, else made-up ones); a
    step's page is ``pages[step]`` (a path on ``base_url``'s host), else ``base_url/<step>``;
    the landing page is the root of that host. A second run with the same ``seed`` stores
    nothing new.
    """
    journey = Journey.get_by_id(tenant.journey.id)
    steps = list(steps or journey.configured_steps()) or ["start", "details", "done"]
    known = fields if fields is not None else known_fields(journey)
    parts = urlsplit(base_url)
    home = f"{parts.scheme}://{parts.netloc}/"
    urls = {step: f"{base_url}/{step}" for step in steps}
    urls.update({step: home + path.lstrip("/") for step, path in (pages or {}).items()})
    specs = _fields_of(steps, known)
    rng = random.Random(seed)
    # Applications are saved and resumed on a generator of their own.
    visits = random.Random(f"{seed}-applications")
    saved: list[tuple[str, int, dt.datetime]] = []
    end = now or utcnow()
    stored = 0
    batch: list[CanonicalEvent] = []
    for number in range(sessions):
        if saved and visits.random() < 0.3:
            application, first, left_at = saved.pop(0)
            start = min(left_at + dt.timedelta(days=visits.uniform(0.2, 4)), end)
            batch.extend(_visit(rng, number, start, home, steps, urls, specs, application, first))
        else:
            batch.extend(
                _new_visit(rng, visits, number, end, days, home, steps, urls, specs, saved)
            )
        if len(batch) >= 400:
            stored += store(db, tenant, "demo", batch)
            batch = []
    if batch:
        stored += store(db, tenant, "demo", batch)
    return stored


def _new_visit(
    rng: random.Random,
    visits: random.Random,
    number: int,
    end: dt.datetime,
    days: int,
    home: str,
    steps: Sequence[str],
    urls: Mapping[str, str],
    specs: Mapping[str, Sequence[DemoField]],
    saved: list[tuple[str, int, dt.datetime]],
) -> list[CanonicalEvent]:
    """The first session of a new application; some that drop off are ``saved`` for later."""
    # More visitors on recent days and on weekdays: a trend worth drawing.
    age = min(days * rng.random() ** 1.3, days - 1e-6)
    start = end - dt.timedelta(days=age)
    if start.weekday() >= 5 and rng.random() < 0.4:
        start -= dt.timedelta(days=2)
        if start < end - dt.timedelta(days=days):
            start = end - dt.timedelta(days=rng.uniform(0, min(days, 1)))
    start = start.replace(hour=rng.choices(range(24), weights=_HOURS)[0])
    if start > end:
        start = end - dt.timedelta(hours=1)
    application = f"ak_{visits.getrandbits(128):032x}"
    events = _visit(rng, number, start, home, steps, urls, specs, application)
    last = events[-1]
    if last.type == "dropoff_signal" and visits.random() < 0.5:
        # Saved: the visitor comes back to the step they left, in a later session.
        saved.append((application, steps.index(str(last.step_key)), start))
    return events


#: Relative visitors per hour of the day.
_HOURS = (1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 8, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2)

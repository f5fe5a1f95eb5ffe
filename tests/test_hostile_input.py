"""Every field of every endpoint against hostile values: never a 5xx, never a half-stored request.

The five formats and the management API, each from a request it accepts; then, one field at a
time (body fields, path segments, headers), each value of :mod:`tests.hostile` in its place.
Every answer is a 4xx in the format's own error shape with nothing stored, or a 2xx with exactly
what it acknowledged stored; values that no JSON body may carry are refused wherever they are.
One site (database, organization, journeys, key) serves the whole module, on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask

from flask_journey import Journey
from flask_journey.admin import JourneyUpdateSchema, NewJourneySchema, NewKeySchema
from flask_journey.formats import collect, events_api, journey, project, typed
from flask_journey.models import Event
from flask_journey.models import Journey as JourneyRow

from .helpers import JOURNEY, ORG, ORIGIN
from .hostile import HEADER_VALUES, HOSTILE, REFUSED_ANYWHERE, dumps, replaced

#: The journey the management API's PUT changes, so that the others keep their origins.
TARGET = "admin-target"

_numbers = itertools.count(1)


@dataclass
class Site:
    app: Flask
    public_key: str
    account_id: int
    tracker_id: int
    api_key: str
    backend: str = "sqlite"

    def events(self) -> int:
        database = self.app.extensions["journey"].database
        table = Event._meta.table_name
        try:
            return database.execute_sql(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            database.close()

    def journeys(self) -> list[tuple[str, list[str]]]:
        with self.app.app_context():
            self.app.extensions["journey"].activate()
            rows = JourneyRow.select().order_by(JourneyRow.slug)
            return [(row.slug, list(row.allowed_origins or [])) for row in rows]


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="module", params=BACKENDS)
def site(request, tmp_path_factory) -> Site:
    """The module's site, on the backend its parameter names."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'journey.sqlite3'}"
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"journey_hostile_{os.getpid()}_{next(_numbers)}"
        server.admin(f"CREATE DATABASE {name}")
        url = server.url(name)
    app = Flask("hostile")
    app.config.update(
        TESTING=True,
        SECRET_KEY="hostile-secret",
        JOURNEY_DATABASE_URL=url,
        JOURNEY_RATELIMIT_ENABLED=False,
        JOURNEY_SQLITE_SYNCHRONOUS="OFF",
    )
    Journey().init_app(app)
    runner = app.test_cli_runner()

    def cli(*args: str) -> str:
        result = runner.invoke(args=["journey", *args])
        assert result.exit_code == 0, result.output
        return result.output

    cli("init-db")
    cli("create-org", ORG)
    cli("create-journey", ORG, JOURNEY, "--allowed-origin", ORIGIN)
    cli("create-journey", ORG, TARGET, "--allowed-origin", ORIGIN)
    shown = json.loads(cli("show", ORG, JOURNEY))
    key = cli("create-key", ORG).split()[-1]
    return Site(app, shown["publicKey"], shown["accountId"], shown["trackerId"], key, request.param)


# What each endpoint accepts, and how it words a refusal.


def journey_refusal(body: Any) -> bool:
    return isinstance(body, dict) and list(body) == ["error"] and isinstance(body["error"], str)


def typed_refusal(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and set(body) == {"success", "processed", "errors"}
        and body["success"] is False
        and body["processed"] == 0
        and len(body["errors"]) >= 1
        and all(
            set(e) == {"index", "message"}
            and isinstance(e["index"], int)
            and isinstance(e["message"], str)
            for e in body["errors"]
        )
    )


def events_api_refusal(body: Any) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return (
        list(body) == ["error"]
        and isinstance(error, dict)
        and set(error) == {"code", "message", "field"}
        and isinstance(error["code"], str)
        and isinstance(error["message"], str)
        and (error["field"] is None or isinstance(error["field"], str))
    )


def project_refusal(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and set(body) == {"success", "error"}
        and body["success"] is False
        and isinstance(body["error"], str)
    )


@dataclass
class Endpoint:
    """One request an endpoint accepts, and the parts of it the sweep replaces."""

    name: str
    method: str
    #: The path, with ``{...}`` for each path segment the sweep replaces.
    path: str
    #: ``body(site, n)``: a request body accepted as the n-th request (ids made unique by n).
    body: Callable[[Site, int], Any]
    refusal: Callable[[Any], bool]
    #: ``acknowledged(request_body, answer)``: the events a 2xx answer says were stored
    #: (``None``: the management API, which stores no events).
    acknowledged: Callable[[Any, Any], int] | None
    headers: tuple[str, ...] = ("Origin",)
    segments: tuple[str, ...] = ()
    status: int = 200
    idempotency_key: bool = True
    #: Schemas whose every declared field must be in ``body``, by where they sit in it.
    schemas: tuple[tuple[tuple, Any], ...] = ()
    #: When set, the body paths swept are only those under these: the others are swept on
    #: another endpoint sharing them (the event types of one format).
    only: tuple[tuple, ...] | None = None


def journey_body(site: Site, n: int) -> dict:
    return {
        "schemaVersion": 1,
        "context": {
            "orgKey": ORG,
            "journeyKey": JOURNEY,
            "language": "en-US",
            "deviceClass": "desktop",
            "instanceId": "chat-1",
            "applicationKey": "ak_" + "0" * 32,
        },
        "events": [
            {
                "_tag": "step_view",
                "schemaVersion": 1,
                "id": f"evt_{n}",
                "ts": "2024-01-15T10:30:00.000Z",
                "orgKey": ORG,
                "journeyKey": JOURNEY,
                "sessionId": "sess_1",
                "clientId": "client_1",
                "url": f"{ORIGIN}/apply",
                "referrer": "https://google.com",
                "embedVersion": "1.0.0",
                "source": "embed",
                "title": "Apply",
                "stepKey": "eligibility",
                "fieldKey": "business-name",
                "errorType": "required",
                "reason": "idle",
                "instanceId": "chat-2",
                "applicationKey": "ak_" + "1" * 32,
            }
        ],
    }


TYPED_EVENTS: dict[str, dict] = {
    "pageview": {"title": "Pricing"},
    "custom": {"eventName": "clicked", "properties": {"plan": "pro", "__userId": "usr_1"}},
    "form": {"formId": "contact", "formFields": {"company": "Acme"}},
    "identify": {"email": "jane@example.com", "userId": "usr_1", "traits": {"plan": "pro"}},
    "engagement": {"activeTimeMs": 45000, "totalTimeMs": 60000},
    "calendar": {
        "provider": "cal.com",
        "eventType": "Demo",
        "startTime": "2024-03-15T10:00:00Z",
        "endTime": "2024-03-15T10:30:00Z",
        "duration": 30,
        "isRecurring": False,
        "inviteeEmail": "jane@example.com",
        "inviteeName": "Jane",
    },
    "stage": {"stage": "activated", "properties": {"flow": "onboarding"}},
    "billing": {
        "status": "paid",
        "customerId": "cus_1",
        "stripeCustomerId": "cus_s1",
        "domain": "acme.example",
        "properties": {"plan": "pro"},
    },
}


def typed_body(kind: str) -> Callable[[Site, int], dict]:
    def body(site: Site, n: int) -> dict:
        return {
            "visitorId": f"visitor-{n}",
            "source": "client",
            "sessionId": f"sess-{n}",
            "instanceId": "chat-1",
            "userIdentity": {"email": "jane@example.com", "userId": "usr_1"},
            "user": {"email": "jane@example.com", "userId": "usr_1"},
            "events": [
                {
                    "type": kind,
                    "url": f"{ORIGIN}/pricing",
                    "path": "/pricing",
                    "referrer": "https://google.com",
                    "sessionId": "sess_1",
                    "instanceId": "chat-2",
                    "timestamp": 1699999999999,
                    "utm": {
                        "source": "google",
                        "medium": "cpc",
                        "campaign": "spring",
                        "term": "grants",
                        "content": "hero",
                    },
                    **TYPED_EVENTS[kind],
                }
            ],
        }

    return body


def collect_body(site: Site, n: int) -> dict:
    return {
        "action": "view",
        "object": "form",
        "vendor": "Vendor A",
        "product": "Product 1",
        "instance_id": f"inst_{n}",
        "extra": {"plan": "pro"},
    }


def events_api_body(kind: str) -> Callable[[Site, int], dict]:
    def body(site: Site, n: int) -> dict:
        event: dict[str, Any] = {
            "site_id": site.public_key,
            "url": f"{ORIGIN}/pricing",
            "referrer": "https://google.com/search",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
            "ip_address": "203.0.113.42",
        }
        if kind == "custom":
            event.update(
                event_name="signup",
                props={"plan": "pro", "trial_days": 14, "instance_id": "chat-1"},
            )
        return event

    return body


def project_body(site: Site, n: int) -> dict:
    return {
        "projectKey": site.public_key,
        "event_name": "ButtonClick",
        "event_data": {"category": "CTA", "label": "Hero", "value": 1, "custom_field": "x"},
        "url": f"{ORIGIN}/page",
        "page_title": "Home",
        "page_path": "/",
        "referrer": "https://referrer.com/",
        "userAgent": "Mozilla/5.0",
        "sessionId": "sess_1",
        "userId": "usr_1",
        "timestamp": "2025-08-02T14:19:12.000Z",
    }


def one(body: Any, answer: Any) -> int:
    return 1


def batch_size(body: Any, answer: Any) -> int:
    return len({event["id"] for event in body["events"]})


ENDPOINTS = [
    Endpoint(
        "journey",
        "POST",
        "/api/ingest",
        journey_body,
        journey_refusal,
        batch_size,
        status=204,
        idempotency_key=False,
        schemas=(
            ((), journey.BatchSchema),
            (("context",), journey.ContextSchema),
            (("events", 0), journey.EventSchema),
        ),
    ),
    *(
        Endpoint(
            f"typed-{kind}",
            "POST",
            "/api/i/v1/{public_key}/events",
            typed_body(kind),
            typed_refusal,
            lambda body, answer: answer["processed"],
            segments=("public_key",),
            schemas=(
                ((), typed.BatchSchema),
                (("user",), typed.UserSchema),
                (("userIdentity",), typed.UserSchema),
                (("events", 0), type(typed.SCHEMAS[kind])),
                (("events", 0, "utm"), typed.UtmSchema),
            ),
            only=None
            if kind == "pageview"
            else (("events", 0, "type"), *(("events", 0, key) for key in TYPED_EVENTS[kind])),
        )
        for kind in TYPED_EVENTS
    ),
    Endpoint(
        "collect",
        "POST",
        "/collect/{aid}/{tid}/event",
        collect_body,
        journey_refusal,
        one,
        status=204,
        segments=("aid", "tid"),
        schemas=(((), collect.CollectSchema),),
    ),
    *(
        Endpoint(
            f"events_api-{kind}",
            "POST",
            f"/api/v1/events/{kind}",
            events_api_body(kind),
            events_api_refusal,
            one,
            status=201,
            headers=("Origin", "Authorization"),
            schemas=(((), events_api.SCHEMAS[kind].__class__),),
            only=None if kind == "pageview" else (("event_name",), ("props",)),
        )
        for kind in ("pageview", "custom")
    ),
    Endpoint(
        "project",
        "POST",
        "/api/events",
        project_body,
        project_refusal,
        one,
        schemas=(((), project.ProjectEventSchema),),
    ),
    Endpoint(
        "admin-create",
        "POST",
        "/api/journeys",
        lambda site, n: {
            "journeyKey": f"created-{n}",
            "allowedOrigins": [ORIGIN],
            "steps": ["eligibility", "review"],
        },
        journey_refusal,
        None,
        status=201,
        headers=("Authorization",),
        schemas=(((), NewJourneySchema),),
    ),
    Endpoint(
        "admin-update",
        "PUT",
        "/api/journeys/{journey_key}",
        lambda site, n: {
            "allowedOrigins": [ORIGIN, "https://other.example"],
            "steps": ["eligibility", "review"],
            "optionalSteps": ["review"],
            "labels": {"eligibility": "Eligibility"},
        },
        journey_refusal,
        None,
        headers=("Authorization",),
        segments=("journey_key",),
        schemas=(((), JourneyUpdateSchema),),
    ),
    Endpoint(
        "admin-keys",
        "POST",
        "/api/keys",
        lambda site, n: {"scopes": ["ingest", "read"]},
        journey_refusal,
        None,
        status=201,
        headers=("Authorization",),
        schemas=(((), NewKeySchema),),
    ),
    *(
        Endpoint(
            name,
            "GET",
            path,
            lambda site, n: None,
            journey_refusal,
            None,
            headers=("Authorization",),
            segments=segments,
            idempotency_key=False,
            only=(),
        )
        for name, path, segments in (
            ("admin-list", "/api/journeys", ()),
            ("admin-get", "/api/journeys/{journey_key}", ("journey_key",)),
            # The key is swept by admin-get; an empty one here is werkzeug's merge-slashes 308.
            ("admin-report", "/api/journeys/{journey_key}/report", ()),
        )
    ),
]
BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}


def body_paths(value: Any, path: tuple = ()) -> list[tuple]:
    """The path of every value in a body: objects' keys, and the first item of lists."""
    paths = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += body_paths(item, (*path, key))
    elif isinstance(value, list) and value:
        paths += body_paths(value[0], (*path, 0))
    return paths


def fields_of(endpoint: Endpoint) -> list[tuple[str, Any]]:
    sample = endpoint.body(Site(Flask("x"), "pk", 1, 1, "sk"), 0)
    paths = body_paths(sample)
    if endpoint.only is not None:
        paths = [p for p in paths if any(p[: len(prefix)] == prefix for prefix in endpoint.only)]
    return (
        [("body", path) for path in paths]
        + [("segment", name) for name in endpoint.segments]
        + [("header", name) for name in endpoint.headers]
        + ([("header", "Idempotency-Key")] if endpoint.idempotency_key else [])
    )


def label(where: Any) -> str:
    if isinstance(where, tuple):
        return ".".join(map(str, where)) or "body"
    return where


CASES = [
    pytest.param(endpoint.name, kind, where, id=f"{endpoint.name}:{kind}:{label(where)}")
    for endpoint in ENDPOINTS
    for kind, where in fields_of(endpoint)
]


@dataclass
class Request:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    unrouted: bool = False


def build(
    site: Site, endpoint: Endpoint, kind: str = "", where: Any = None, value: Any = None
) -> Request:
    """The endpoint's accepted request, with ``value`` in the place ``kind``/``where`` name."""
    n = next(_numbers)
    body = endpoint.body(site, n)
    segments = {
        "public_key": site.public_key,
        "aid": str(site.account_id),
        "tid": str(site.tracker_id),
        "journey_key": TARGET,
    }
    headers = {"Content-Type": "application/json"}
    if "Origin" in endpoint.headers:
        headers["Origin"] = ORIGIN
    if "Authorization" in endpoint.headers:
        headers["Authorization"] = f"Bearer {site.api_key}"
    if endpoint.idempotency_key:
        headers["Idempotency-Key"] = f"case-{n}"
    if kind == "body":
        body = value if where == () else replaced(body, where, value)
    elif kind == "segment":
        segments[where] = quote(value, safe="")
    elif kind == "header" and where == "Idempotency-Key":
        headers[where] = f"{value}#{n}" if value else value  # a key once used stores nothing
    elif kind == "header":
        headers[where] = value
    unrouted = kind == "segment" and (not value or "/" in value)
    return Request(endpoint.method, endpoint.path.format(**segments), body, headers, unrouted)


def send(site: Site, request: Request):
    client = site.app.test_client()
    data = None if request.method == "GET" else dumps(request.body)
    return client.open(request.path, method=request.method, data=data, headers=request.headers)


def snapshot(site: Site, endpoint: Endpoint) -> Any:
    """What a refused request must leave as it was: the events, or the journeys."""
    return site.events() if endpoint.acknowledged else site.journeys()


def verdict(site: Site, endpoint: Endpoint, request: Request, response, before: Any) -> str | None:
    """What is wrong with an answer to a hostile request, or None."""
    status = response.status_code
    if request.unrouted:
        # A segment that is empty or holds a "/" makes a path no route matches: the host
        # app's own 404 answers it.
        return None if status == 404 and snapshot(site, endpoint) == before else f"{status}"
    if status >= 500:
        return f"{status}: {response.data[:300]!r}"
    if 400 <= status < 500:
        if not response.is_json or not endpoint.refusal(response.get_json()):
            return f"{status} not in the format's error shape: {response.data[:300]!r}"
        if snapshot(site, endpoint) != before:
            return f"{status} but something was stored"
        return None
    if status >= 300:
        return f"unexpected {status}"
    if endpoint.acknowledged is not None:
        answer = response.get_json() if response.is_json else None
        acknowledged = endpoint.acknowledged(request.body, answer)
        stored = site.events() - before
        if stored != acknowledged:
            return f"{status} acknowledged {acknowledged}, stored {stored}"
    return None


@pytest.mark.parametrize("name", [endpoint.name for endpoint in ENDPOINTS])
def test_each_endpoint_accepts_the_request_the_sweep_starts_from(site, name):
    endpoint = BY_NAME[name]
    before = site.events()

    response = send(site, build(site, endpoint))

    assert response.status_code == endpoint.status, response.data
    if endpoint.acknowledged is not None:
        assert site.events() == before + 1


@pytest.mark.parametrize("name", [endpoint.name for endpoint in ENDPOINTS])
def test_the_sweep_covers_every_field_the_schemas_declare(name):
    endpoint = BY_NAME[name]
    swept = {path for path in body_paths(endpoint.body(Site(Flask("x"), "pk", 1, 1, "sk"), 0))}
    for prefix, schema in endpoint.schemas:
        for declared in schema().declared_fields.values():
            key = declared.data_key or declared.name
            assert (*prefix, key) in swept, f"{name}: {(*prefix, key)} is not swept"


@pytest.mark.parametrize("name, kind, where", CASES)
def test_hostile_values_get_a_4xx_in_the_formats_shape_and_store_nothing(site, name, kind, where):
    endpoint = BY_NAME[name]
    if kind != "body":
        values = HEADER_VALUES
    elif site.backend == "sqlite":
        values = {**REFUSED_ANYWHERE, **HOSTILE}
    else:  # what no JSON body may carry is refused before storage, alike on both
        values = HOSTILE
    problems = []
    for label, value in values.items():
        request = build(site, endpoint, kind, where, value)
        before = snapshot(site, endpoint)
        response = send(site, request)
        problem = verdict(site, endpoint, request, response, before)
        if problem is None and label in REFUSED_ANYWHERE and response.status_code < 400:
            problem = f"{response.status_code}: accepted"
        if problem:
            problems.append(f"{label}: {problem}")
    assert not problems, "\n".join(problems)


def test_what_the_sweep_stored_is_exported_whole(site):
    result = site.app.test_cli_runner().invoke(args=["journey", "export"])

    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == site.events() > 0

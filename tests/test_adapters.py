"""Each wire format's adapter on its own: no app, no request, no database.

An :class:`Incoming` built by hand (cases from each seed's own examples) goes through the
adapter's steps (``envelope``, ``locate`` with a lookup of tenants built by hand, ``parse``) to
canonical events, and its outcomes come back in the format's own reply shape and status.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from typing import Any

import pytest
from marshmallow import ValidationError

from flask_journey import formats
from flask_journey.events import CanonicalEvent
from flask_journey.formats import FORMATS, WireFormat
from flask_journey.formats._base import Incoming, Parsed, Reply, event_id
from flask_journey.formats.collect import CollectFormat
from flask_journey.formats.events_api import EventsApiFormat
from flask_journey.formats.journey import JourneyFormat, TrustedJourneyFormat
from flask_journey.formats.project import ProjectFormat
from flask_journey.formats.typed import INACTIVE, TypedFormat
from flask_journey.geo import Geo
from flask_journey.models import Journey, Organization
from flask_journey.outcomes import (
    InvalidRequest,
    RateLimited,
    Refusal,
    TenantNotFound,
    Unauthenticated,
)
from flask_journey.privacy import IdentityPolicy
from flask_journey.tenants import Tenant, tenant_of

ORG = Organization(id=7, slug="example-org", rate_limit=None, monthly_quota=None)
OTHER_ORG = Organization(id=8, slug="other-org", rate_limit=None, monthly_quota=None)
JOURNEY = Journey(
    id=11,
    organization=ORG,
    slug="small-business-grant",
    public_key="pk_grant",
    allowed_origins=["https://grants.example.com"],
)
OTHER_JOURNEY = Journey(id=12, organization=OTHER_ORG, slug="other", public_key="pk_other")
TENANT = tenant_of(ORG, JOURNEY)
OTHER = tenant_of(OTHER_ORG, OTHER_JOURNEY)
SECRET = "Bearer sk_lookup_secret"
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"


class Lookup:
    """The two tenants above, found as the app's lookups would find them."""

    def by_slugs(self, org_slug: str, journey_slug: str) -> Tenant:
        for tenant in (TENANT, OTHER):
            if (tenant.org.slug, tenant.journey.slug) == (org_slug, journey_slug):
                return tenant
        raise TenantNotFound("journey")

    def by_public_key(self, public_key: str) -> Tenant:
        for tenant in (TENANT, OTHER):
            if tenant.journey.public_key == public_key:
                return tenant
        raise TenantNotFound("journey")

    def by_ids(self, account_id: int, tracker_id: int) -> Tenant:
        for tenant in (TENANT, OTHER):
            if (tenant.org.id, tenant.journey.id) == (account_id, tracker_id):
                return tenant
        raise TenantNotFound("journey")

    def authenticate(self, authorization: str | None) -> Organization:
        if authorization != SECRET:
            raise Unauthenticated("Invalid API key")
        return ORG


def adapter(cls: type[WireFormat], identity: str = "keep") -> WireFormat:
    return cls(Lookup(), max_batch_events=500, identity=IdentityPolicy(identity, b"secret"))


def parse(wire_format: WireFormat, incoming: Incoming) -> tuple[Tenant, Parsed]:
    """The adapter's steps from request to canonical events, as the ingest flow runs them."""
    try:
        envelope = wire_format.envelope(incoming)
        tenant = wire_format.locate(envelope)
        return tenant, wire_format.parse(envelope, tenant, incoming)
    except ValidationError as err:
        raise wire_format.invalid(err) from None


def refusal(wire_format: WireFormat, incoming: Incoming) -> Refusal:
    with pytest.raises(Refusal) as caught:
        parse(wire_format, incoming)
    return caught.value


def now_between(when: dt.datetime, before: dt.datetime) -> bool:
    return before <= when <= dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def test_no_adapter_module_reads_flask():
    for module in sorted(pathlib.Path(formats.__file__).parent.glob("*.py")):
        source = module.read_text()
        assert "from flask " not in source and "import flask" not in source, module.name


def test_every_format_is_tested_here():
    tested = {JourneyFormat, TypedFormat, CollectFormat, EventsApiFormat, ProjectFormat}
    assert set(FORMATS.values()) == tested


# Seed 000, journey events.


def seed_batch() -> dict[str, Any]:
    """The seed's own ``curl`` example."""
    base = {
        "schemaVersion": 1,
        "orgKey": "example-org",
        "journeyKey": "small-business-grant",
        "sessionId": "sess_xyz789",
        "clientId": "client_def456",
        "embedVersion": "1.0.0",
    }
    return {
        "schemaVersion": 1,
        "context": {
            "orgKey": "example-org",
            "journeyKey": "small-business-grant",
            "language": "en-US",
            "deviceClass": "desktop",
        },
        "events": [
            {
                **base,
                "_tag": "session_start",
                "id": "evt_abc123",
                "ts": "2024-01-15T10:30:00.000Z",
                "url": "https://grants.example.com/apply",
                "referrer": "https://google.com",
            },
            {
                **base,
                "_tag": "step_view",
                "id": "evt_abc124",
                "ts": "2024-01-15T10:30:01.000Z",
                "url": "https://grants.example.com/apply/eligibility",
                "stepKey": "eligibility",
            },
            {
                **base,
                "_tag": "field_focus",
                "id": "evt_abc125",
                "ts": "2024-01-15T10:30:05.000Z",
                "url": "https://grants.example.com/apply/eligibility",
                "fieldKey": "business-name",
            },
        ],
    }


def journey_event(**values: Any) -> CanonicalEvent:
    event: dict[str, Any] = {
        "type": "page_view",
        "session_id": "sess_xyz789",
        "client_id": "client_def456",
        "instance_id": None,
        "referrer": None,
        "title": None,
        "step_key": None,
        "field_key": None,
        "error_type": None,
        "device_class": "desktop",
        "language": "en-US",
        "country": None,
        "source": None,
        "schema_version": 1,
        "embed_version": "1.0.0",
        "properties": None,
        "user_agent": UA,
    }
    event.update(values)
    return CanonicalEvent(**event)


def test_journey_maps_the_seed_example_to_canonical_events():
    incoming = Incoming(seed_batch(), origin="https://grants.example.com", user_agent=UA)
    tenant, parsed = parse(adapter(JourneyFormat), incoming)
    assert tenant is TENANT
    assert parsed.events == [
        journey_event(
            event_id="evt_abc123",
            type="session_start",
            occurred_at=dt.datetime(2024, 1, 15, 10, 30),
            url="https://grants.example.com/apply",
            referrer="https://google.com",
        ),
        journey_event(
            event_id="evt_abc124",
            type="step_view",
            occurred_at=dt.datetime(2024, 1, 15, 10, 30, 1),
            url="https://grants.example.com/apply/eligibility",
            step_key="eligibility",
        ),
        journey_event(
            event_id="evt_abc125",
            type="field_focus",
            occurred_at=dt.datetime(2024, 1, 15, 10, 30, 5),
            url="https://grants.example.com/apply/eligibility",
            field_key="business-name",
        ),
    ]
    assert parsed.rejected == []
    assert adapter(JourneyFormat).accepted(parsed) == Reply(204)


def test_journey_keeps_one_of_each_event_id_and_the_dropoff_reason():
    batch = seed_batch()
    first = batch["events"][0]
    dropoff = {**first, "_tag": "dropoff_signal", "id": "evt_drop", "reason": "idle"}
    batch["events"] = [first, dict(first), dropoff]
    _, parsed = parse(adapter(JourneyFormat), Incoming(batch))
    assert [e.event_id for e in parsed.events] == ["evt_abc123", "evt_drop"]
    assert parsed.events[1].properties == {"reason": "idle"}
    assert parsed.events[0].user_agent is None


def test_journey_keeps_the_instance_id_of_the_batch_or_of_the_event():
    batch = seed_batch()
    batch["context"]["instanceId"] = "chat-42"
    batch["events"][1]["instanceId"] = "chat-43"
    _, parsed = parse(adapter(JourneyFormat), Incoming(batch))
    assert [e.instance_id for e in parsed.events] == ["chat-42", "chat-43", "chat-42"]


def test_journey_origin_is_the_origin_header():
    wire_format = adapter(JourneyFormat)
    incoming = Incoming(seed_batch(), origin="https://grants.example.com")
    assert wire_format.origins(wire_format.envelope(incoming), incoming) == (
        "https://grants.example.com",
    )


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        (
            lambda b: b["events"][1].update(ts="yesterday"),
            400,
            "Invalid request: ts must be a valid ISO 8601 timestamp",
        ),
        (
            lambda b: b["events"][0].update(orgKey="other-org"),
            400,
            "Invalid request: orgKey must match context.orgKey",
        ),
        (
            lambda b: b["events"][1].pop("stepKey"),
            400,
            "Invalid request: stepKey is required for step_view",
        ),
        (lambda b: b.update(schemaVersion=2), 400, "Invalid request: schemaVersion must be 1"),
        (lambda b: b["context"].update(journeyKey="nope"), 404, "Journey not found"),
    ],
)
def test_journey_refusals_in_its_error_shape(change, status, error):
    wire_format = adapter(JourneyFormat)
    batch = seed_batch()
    change(batch)
    outcome = refusal(wire_format, Incoming(batch))
    assert wire_format.refused(outcome) == Reply(status, {"error": error})


def test_journey_refuses_a_batch_over_its_limit_and_a_body_that_is_no_object():
    wire_format = JourneyFormat(Lookup(), max_batch_events=2, identity=IdentityPolicy("drop"))
    too_many = refusal(wire_format, Incoming(seed_batch()))
    assert wire_format.refused(too_many) == Reply(
        400, {"error": "Invalid request: events must contain at most 2 events"}
    )
    not_an_object = refusal(wire_format, Incoming([seed_batch()]))
    assert wire_format.refused(not_an_object).body == {
        "error": "Invalid request: body must be a JSON object"
    }


def test_journey_from_python_sets_invalid_events_aside():
    batch = seed_batch()
    batch["events"][1]["ts"] = "yesterday"
    batch["events"][2]["journeyKey"] = "other"
    _, parsed = parse(adapter(TrustedJourneyFormat), Incoming(batch))
    assert [e.event_id for e in parsed.events] == ["evt_abc123"]
    assert parsed.rejected == [
        (1, "ts must be a valid ISO 8601 timestamp"),
        (2, "journeyKey must match context.journeyKey"),
    ]


def test_a_refusal_with_retry_after_keeps_its_status_in_every_format():
    limited = RateLimited("Rate limit exceeded", 30)
    for cls in FORMATS.values():
        reply = adapter(cls).refused(limited)
        assert reply.status == 429
        assert reply.with_header("Retry-After", "30").headers == (("Retry-After", "30"),)


# Seed 001, typed events.


def pageview(**values: Any) -> dict[str, Any]:
    """The seed's pageview example."""
    event = {
        "type": "pageview",
        "url": "https://example.com/pricing?plan=pro",
        "path": "/pricing",
        "title": "Pricing - Example",
        "referrer": "https://google.com/search?q=example",
        "utm": {"source": "google", "medium": "cpc", "campaign": "spring_2024"},
        "timestamp": 1699999999999,
    }
    event.update(values)
    return event


def typed_request(*events: dict[str, Any], **values: Any) -> Incoming:
    body = {
        "visitorId": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        "source": "client",
        "events": list(events),
    }
    return Incoming(body, {"public_key": "pk_grant"}, user_agent=UA, **values)


def test_typed_maps_the_seed_pageview_to_a_canonical_event():
    wire_format = adapter(TypedFormat)
    tenant, parsed = parse(wire_format, typed_request(pageview()))
    (event,) = parsed.events
    assert tenant is TENANT
    assert event == CanonicalEvent(
        event_id=event.event_id,
        type="pageview",
        name=None,
        occurred_at=dt.datetime(2023, 11, 14, 22, 13, 19, 999000),
        session_id=None,
        client_id="a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        user_id=None,
        instance_id=None,
        url="https://example.com/pricing?plan=pro",
        path="/pricing",
        referrer="https://google.com/search?q=example",
        title="Pricing - Example",
        source="client",
        properties={"utm": {"source": "google", "medium": "cpc", "campaign": "spring_2024"}},
        user_agent=UA,
        country=None,
    )
    # The client said when: a retry of the same request gets the same id.
    _, again = parse(wire_format, typed_request(pageview()))
    assert again.events[0].event_id == event.event_id
    assert wire_format.accepted(parsed) == Reply(200, {"success": True, "processed": 1})


def test_typed_ids_follow_the_idempotency_key():
    wire_format = adapter(TypedFormat)
    no_time = pageview(timestamp=None)
    _, first = parse(wire_format, typed_request(no_time, no_time, idempotency_key="k1"))
    _, retry = parse(wire_format, typed_request(no_time, no_time, idempotency_key="k1"))
    ids = [e.event_id for e in first.events]
    assert ids == [e.event_id for e in retry.events]
    assert ids[0] != ids[1]
    assert ids[1] == event_id(TENANT, {}, "k1", client_time=False, index=1)


def test_typed_server_example_takes_identity_from_the_events():
    body = {
        "source": "server",
        "events": [
            {
                "type": "identify",
                "url": "server://jane@acme.com",
                "path": "/",
                "email": "jane@acme.com",
                "userId": "usr_123",
                "traits": {"name": "Jane Doe", "plan": "pro"},
            },
            {
                "type": "custom",
                "url": "server://jane@acme.com",
                "path": "/",
                "eventName": "subscription_created",
                "properties": {"__email": "jane@acme.com", "plan": "pro", "amount": 99},
            },
        ],
    }
    incoming = Incoming(body, {"public_key": "pk_grant"}, user_agent=UA)
    _, parsed = parse(adapter(TypedFormat, identity="keep"), incoming)
    identify, custom = parsed.events
    assert identify.user_id == "usr_123"
    assert identify.user_agent is None  # a server's user agent is no visitor's
    assert custom.name == "subscription_created"
    assert custom.user_id == "jane@acme.com"
    assert custom.properties == {"plan": "pro", "amount": 99}


def test_typed_form_keeps_field_names_never_values():
    form = {
        "type": "form",
        "url": "https://example.com/contact",
        "path": "/contact",
        "formId": "contact-form",
        "formFields": {"company": "Acme Inc", "message": "I'd like to learn more...", "ssn": "1"},
        "timestamp": 1699999999999,
    }
    _, parsed = parse(adapter(TypedFormat), typed_request(form))
    (event,) = parsed.events
    assert event.name == "contact-form"
    assert event.properties == {"fields": ["company", "message"]}


def test_typed_partial_success_is_207_and_an_unknown_key_its_error_shape():
    wire_format = adapter(TypedFormat)
    bad = {"type": "nope", "url": "https://example.com/", "path": "/"}
    _, parsed = parse(wire_format, typed_request(pageview(), pageview(), bad))
    assert len(parsed.events) == 2
    assert parsed.rejected == [(2, "Invalid event type")]
    assert wire_format.accepted(parsed) == Reply(
        207,
        {
            "success": False,
            "processed": 2,
            "errors": [{"index": 2, "message": "Invalid event type"}],
        },
    )
    _, none_valid = parse(wire_format, typed_request(bad))
    assert wire_format.accepted(none_valid).status == 400

    unknown = refusal(wire_format, Incoming(typed_request().body, {"public_key": "pk_nope"}))
    assert wire_format.refused(unknown) == Reply(
        404, {"success": False, "processed": 0, "errors": [{"index": -1, "message": INACTIVE}]}
    )
    no_visitor = refusal(wire_format, Incoming({"events": []}, {"public_key": "pk_grant"}))
    assert wire_format.refused(no_visitor).body["errors"] == [
        {"index": -1, "message": "visitorId is required for client events"}
    ]


# Seed 002, the event tracker.

COLLECTED = {
    "action": "view",
    "object": "form",
    "vendor": "Vendor A",
    "product": "Product 1",
    "instance_id": "abc123",
}


def test_collect_maps_a_server_event_with_its_extra_fields():
    wire_format = adapter(CollectFormat)
    before = utcnow()
    body = {**COLLECTED, "page": "/apply"}
    tenant, parsed = parse(wire_format, Incoming(body, {"aid": "7", "tid": "11"}, user_agent=UA))
    (event,) = parsed.events
    assert tenant is TENANT
    assert now_between(event.occurred_at, before)
    assert event == CanonicalEvent(
        occurred_at=event.occurred_at,
        type="collect",
        name="view",
        instance_id="abc123",
        source="server",
        properties={
            "object": "form",
            "vendor": "Vendor A",
            "product": "Product 1",
            "page": "/apply",
        },
        event_id=event.event_id,
        user_agent=None,
        country=None,
    )
    assert wire_format.accepted(parsed) == Reply(204)


def test_collect_from_a_browser_keeps_its_user_agent_and_origin():
    wire_format = adapter(CollectFormat)
    incoming = Incoming(
        COLLECTED, {"aid": "7", "tid": "11"}, origin="https://grants.example.com", user_agent=UA
    )
    _, parsed = parse(wire_format, incoming)
    assert parsed.events[0].source == "browser"
    assert parsed.events[0].user_agent == UA
    assert wire_format.origins(wire_format.envelope(incoming), incoming) == (
        "https://grants.example.com",
    )


@pytest.mark.parametrize(
    ("body", "view_args", "status", "error"),
    [
        (COLLECTED, {"aid": "abc", "tid": "11"}, 404, "Organization not found"),
        (COLLECTED, {"aid": "7", "tid": "12"}, 404, "Journey not found"),
        ({**COLLECTED, "action": None}, {"aid": "7", "tid": "11"}, 400, "action is required"),
    ],
)
def test_collect_refusals_in_its_error_shape(body, view_args, status, error):
    wire_format = adapter(CollectFormat)
    outcome = refusal(wire_format, Incoming(body, view_args))
    assert wire_format.refused(outcome) == Reply(status, {"error": error})


# Seed 003, the Events API.


def events_api_request(kind: str, body: dict[str, Any], **values: Any) -> Incoming:
    values.setdefault("authorization", SECRET)
    return Incoming(body, {"kind": kind}, **values)


def test_events_api_maps_the_seed_pageview_and_forgets_the_address():
    wire_format = adapter(EventsApiFormat)
    body = {
        "site_id": "pk_grant",
        "url": "https://example.com/pricing",
        "referrer": "https://google.com/search",
        "user_agent": UA,
        "ip_address": "203.0.113.42",
    }
    before = utcnow()
    tenant, parsed = parse(wire_format, events_api_request("pageview", body, user_agent="curl"))
    (event,) = parsed.events
    assert tenant is TENANT
    assert now_between(event.occurred_at, before)
    assert event == CanonicalEvent(
        occurred_at=event.occurred_at,
        type="pageview",
        name=None,
        url="https://example.com/pricing",
        referrer="https://google.com/search",
        properties=None,
        event_id=event.event_id,
        user_agent=UA,
        country=None,  # a documentation address has no country
    )
    assert "203.0.113.42" not in repr(parsed)
    assert wire_format.accepted(parsed) == Reply(201, {"success": True, "event_id": event.event_id})


def test_events_api_maps_the_seed_custom_event():
    body = {
        "site_id": "pk_grant",
        "event_name": "signup",
        "url": "https://example.com/signup/complete",
        "props": {"plan": "pro", "source": "landing-page", "trial_days": 14},
    }
    _, parsed = parse(adapter(EventsApiFormat), events_api_request("custom", body))
    (event,) = parsed.events
    assert event.type == "custom"
    assert event.name == "signup"
    assert event.properties == {"plan": "pro", "source": "landing-page", "trial_days": 14}


def custom(**values: Any) -> dict[str, Any]:
    return {"site_id": "pk_grant", "event_name": "signup", "url": "https://example.com/", **values}


@pytest.mark.parametrize(
    ("incoming", "status", "error"),
    [
        (
            events_api_request("custom", custom(), authorization="Bearer sk_x_y"),
            401,
            {"code": "unauthorized", "message": "Invalid API key", "field": None},
        ),
        (
            events_api_request("custom", custom(site_id="pk_other")),
            404,
            {
                "code": "invalid_site_id",
                "message": "Site ID not found or access denied",
                "field": "site_id",
            },
        ),
        (
            events_api_request("custom", custom(event_name=None)),
            400,
            {
                "code": "invalid_request",
                "message": "Missing required field: event_name",
                "field": "event_name",
            },
        ),
        (
            events_api_request("custom", custom(props={f"k{i}": i for i in range(11)})),
            400,
            {"code": "invalid_props", "field": "props"},
        ),
    ],
)
def test_events_api_refusals_in_its_error_shape(incoming, status, error):
    wire_format = adapter(EventsApiFormat)
    reply = wire_format.refused(refusal(wire_format, incoming))
    assert reply.status == status
    assert error.items() <= reply.body["error"].items()


# Seed 004, project-key custom events.


def project_event(**values: Any) -> dict[str, Any]:
    """The seed's example payload."""
    event = {
        "projectKey": "pk_grant",
        "event_name": "ButtonClick",
        "event_data": {
            "category": "CTA",
            "label": "Homepage Hero",
            "value": 1,
            "custom_field": "custom value",
        },
        "url": "https://yourdomain.com/page",
        "page_title": "Home",
        "page_path": "/",
        "referrer": "https://referrer.com/",
        "userAgent": UA,
        "sessionId": "uuid-session-id",
        "timestamp": "2025-08-02T14:19:12.000Z",
    }
    event.update(values)
    return event


def test_project_maps_the_seed_example_to_a_canonical_event():
    wire_format = adapter(ProjectFormat)
    incoming = Incoming(project_event(), origin="https://yourdomain.com", user_agent="other")
    tenant, parsed = parse(wire_format, incoming)
    (event,) = parsed.events
    assert tenant is TENANT
    assert event == CanonicalEvent(
        event_id=event.event_id,
        type="custom",
        name="ButtonClick",
        occurred_at=dt.datetime(2025, 8, 2, 14, 19, 12),
        session_id="uuid-session-id",
        user_id=None,
        url="https://yourdomain.com/page",
        path="/",
        referrer="https://referrer.com/",
        title="Home",
        category="CTA",
        label="Homepage Hero",
        value=1.0,
        properties={"custom_field": "custom value"},
        user_agent=UA,
        country=None,
    )
    # Both the Origin header and the event's page must be allowed origins.
    assert wire_format.origins(wire_format.envelope(incoming), incoming) == (
        "https://yourdomain.com",
        "https://yourdomain.com",
    )
    assert wire_format.accepted(parsed) == Reply(
        200, {"success": True, "eventId": event.event_id, "sessionId": "uuid-session-id"}
    )


def test_project_generates_the_same_session_for_a_retry():
    wire_format = adapter(ProjectFormat)
    body = project_event(sessionId=None, timestamp=None, userAgent=None)
    _, first = parse(wire_format, Incoming(body, idempotency_key="k1", user_agent=UA))
    _, retry = parse(wire_format, Incoming(body, idempotency_key="k1", user_agent=UA))
    assert first.events[0].session_id == retry.events[0].session_id
    assert first.events[0].event_id == retry.events[0].event_id
    assert first.events[0].user_agent == UA


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (project_event(projectKey="pk_nope"), 404, "Invalid project key"),
        (project_event(url="ftp://x"), 400, "url must be an absolute http(s) URL"),
        (project_event(event_name=None), 400, "event_name is required"),
    ],
)
def test_project_refusals_in_its_error_shape(body, status, error):
    wire_format = adapter(ProjectFormat)
    outcome = refusal(wire_format, Incoming(body))
    assert wire_format.refused(outcome) == Reply(status, {"success": False, "error": error})


def test_an_invalid_request_outcome_names_its_field():
    outcome = refusal(adapter(ProjectFormat), Incoming(project_event(url=None)))
    assert isinstance(outcome, InvalidRequest)
    assert outcome.field == "url"


# The visitor's country, by format.


def located(cls: type[WireFormat], incoming: Incoming) -> str | None:
    """The country the adapter gives the request's first event, with a stub lookup."""
    countries = {"1.0.16.1": "JP", "8.8.8.8": "US"}
    wire_format = cls(
        Lookup(),
        max_batch_events=500,
        identity=IdentityPolicy("keep", b"secret"),
        geo=Geo(countries.get),
    )
    return parse(wire_format, incoming)[1].events[0].country


BROWSER = {"origin": "https://grants.example.com", "client": "1.0.16.1"}
SERVER = {"client": "8.8.8.8"}


@pytest.mark.parametrize(
    "cls, body, view_args, client, country",
    [
        (JourneyFormat, seed_batch(), {}, BROWSER, "JP"),
        (JourneyFormat, seed_batch(), {}, SERVER, None),
        (
            TypedFormat,
            {"visitorId": "v", "events": [pageview()]},
            {"public_key": "pk_grant"},
            BROWSER,
            "JP",
        ),
        (
            TypedFormat,
            {
                "source": "server",
                "events": [pageview(type="custom", eventName="lead", properties={"__userId": "u"})],
            },
            {"public_key": "pk_grant"},
            BROWSER,
            None,
        ),
        (CollectFormat, COLLECTED, {"aid": "7", "tid": "11"}, BROWSER, "JP"),
        (CollectFormat, COLLECTED, {"aid": "7", "tid": "11"}, SERVER, None),
        (ProjectFormat, project_event(), {}, BROWSER, "JP"),
        (ProjectFormat, project_event(), {}, SERVER, None),
    ],
)
def test_a_browsers_address_gives_the_country_a_servers_does_not(
    cls, body, view_args, client, country
):
    assert located(cls, Incoming(body, view_args, **client)) == country


def test_the_events_api_looks_up_the_ip_address_it_is_sent_not_the_servers():
    body = {"site_id": "pk_grant", "url": "https://example.com/", "ip_address": "1.0.16.1"}

    assert located(EventsApiFormat, events_api_request("pageview", body, client="8.8.8.8")) == "JP"
    del body["ip_address"]
    assert located(EventsApiFormat, events_api_request("pageview", body, client="8.8.8.8")) is None

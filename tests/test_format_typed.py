"""POST /api/i/v1/{publicKey}/events (seed 001): typed events, partial success, identity."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest

from flask_journey.models import Event

from .helpers import JOURNEY, ORG, ORIGIN

SECRET = "test-secret-key"

# The seed's "cURL - Browser Events" body, as the document prints it.
CURL_BROWSER = """{
"visitorId": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
"source": "client",
"events": [
{
"type": "pageview",
"url": "https://example.com/pricing",
"path": "/pricing",
"title": "Pricing",
"timestamp": 1699999999999
}
]
}"""

# The seed's "cURL - Server Events" body.
CURL_SERVER = """{
"source": "server",
"events": [
{
"type": "identify",
"url": "server://jane@acme.com",
"path": "/",
"email": "jane@acme.com",
"userId": "usr_123",
"traits": {
"name": "Jane Doe",
"plan": "pro"
}
},
{
"type": "custom",
"url": "server://jane@acme.com",
"path": "/",
"eventName": "subscription_created",
"properties": {
"__email": "jane@acme.com",
"plan": "pro",
"amount": 99
}
}
]
}"""

# The seed's "Server-Side Events" example.
SERVER_SIDE = {
    "source": "server",
    "events": [
        {
            "type": "custom",
            "url": "server://user@example.com",
            "path": "/",
            "eventName": "payment_received",
            "properties": {
                "__email": "user@example.com",
                "__userId": "usr_123",
                "amount": 99,
                "currency": "USD",
            },
        }
    ],
}

# The seed's example of each event type.
EVENT_TYPES = [
    {
        "type": "pageview",
        "url": "https://example.com/pricing?plan=pro",
        "path": "/pricing",
        "title": "Pricing - Example",
        "referrer": "https://google.com/search?q=example",
        "utm": {"source": "google", "medium": "cpc", "campaign": "spring_2024"},
        "timestamp": 1699999999999,
    },
    {
        "type": "custom",
        "url": "https://example.com/pricing",
        "path": "/pricing",
        "eventName": "button_clicked",
        "properties": {"buttonId": "cta-hero", "page": "/pricing", "variant": "A"},
        "timestamp": 1699999999999,
    },
    {
        "type": "form",
        "url": "https://example.com/contact",
        "path": "/contact",
        "formId": "contact-form",
        "formFields": {
            "email": "jane@example.com",
            "name": "Jane Doe",
            "company": "Acme Inc",
            "message": "I'd like to learn more...",
        },
        "timestamp": 1699999999999,
    },
    {
        "type": "identify",
        "url": "https://example.com/signup",
        "path": "/signup",
        "email": "jane@example.com",
        "userId": "usr_12345",
        "traits": {
            "name": "Jane Doe",
            "company": "Acme Inc",
            "plan": "enterprise",
            "role": "admin",
        },
        "timestamp": 1699999999999,
    },
    {
        "type": "engagement",
        "url": "https://example.com/features",
        "path": "/features",
        "activeTimeMs": 45000,
        "totalTimeMs": 60000,
        "sessionId": "b2c3d4e5-f6a7-8901-bcde-f12345678901",
        "timestamp": 1699999999999,
    },
    {
        "type": "calendar",
        "url": "https://example.com/demo",
        "path": "/demo",
        "provider": "cal.com",
        "eventType": "30 Minute Demo",
        "startTime": "2024-03-15T10:00:00Z",
        "endTime": "2024-03-15T10:30:00Z",
        "duration": 30,
        "isRecurring": False,
        "timestamp": 1699999999999,
    },
    {
        "type": "stage",
        "url": "https://example.com/onboarding",
        "path": "/onboarding",
        "stage": "activated",
        "properties": {"flow": "onboarding", "step": "completed"},
        "timestamp": 1699999999999,
    },
]

VISITOR = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
SEED_TIME = "2023-11-14T22:13:19.999Z"
BAD_TIME = "timestamp must be a Unix timestamp in milliseconds"


@pytest.fixture
def config():
    return {"SECRET_KEY": SECRET}


def email_hash(email: str, secret: str = SECRET) -> str:
    return "eh_" + hmac.new(secret.encode(), email.encode(), hashlib.sha256).hexdigest()


def path(journey) -> str:
    return f"/api/i/v1/{journey['publicKey']}/events"


def pageview(n: int = 1, **fields) -> dict:
    return {
        "type": "pageview",
        "url": f"https://example.com/page/{n}",
        "path": f"/page/{n}",
        "timestamp": 1699999999000 + n,
        **fields,
    }


def client_batch(*events) -> dict:
    return {"visitorId": VISITOR, "source": "client", "events": list(events)}


def inactive(status_message: str = "Invalid or inactive tracking configuration") -> dict:
    return {"success": False, "processed": 0, "errors": [{"index": -1, "message": status_message}]}


class TestSeedExamples:
    def test_curl_browser_example_is_processed_and_exported(self, client, journey, exported):
        response = client.post(
            path(journey), data=CURL_BROWSER, headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 200
        assert response.get_json() == {"success": True, "processed": 1}
        [stored] = exported()
        assert stored["wire_format"] == "typed"
        assert stored["type"] == "pageview"
        assert stored["client_id"] == VISITOR
        assert stored["source"] == "client"
        assert stored["url"] == "https://example.com/pricing"
        assert stored["path"] == "/pricing"
        assert stored["title"] == "Pricing"
        assert stored["occurred_at"] == SEED_TIME

    def test_curl_server_example_stores_identity_without_the_email(
        self, client, journey, exported, cli
    ):
        response = client.post(
            path(journey), data=CURL_SERVER, headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 200
        assert response.get_json() == {"success": True, "processed": 2}
        identify, custom = exported()
        assert identify["type"] == "identify"
        assert identify["user_id"] == "usr_123"
        assert identify["properties"] == {
            "traits": {"plan": "pro"},
            "email": email_hash("jane@acme.com"),
        }
        assert custom["type"] == "custom"
        assert custom["name"] == "subscription_created"
        assert custom["user_id"] == email_hash("jane@acme.com")
        assert custom["properties"] == {"plan": "pro", "amount": 99}
        assert identify["url"] == custom["url"] == "server://acme.com"
        assert "jane@acme.com" not in cli("export")

    def test_javascript_example_is_processed(self, client, journey, exported):
        response = client.post(
            path(journey),
            headers={"Content-Type": "application/json"},
            data=json.dumps(
                {
                    "visitorId": "visitor-123",
                    "source": "client",
                    "events": [
                        {
                            "type": "pageview",
                            "url": "https://example.com/pricing",
                            "path": "/pricing",
                            "title": "Pricing - Example",
                            "timestamp": int(time.time() * 1000),
                        }
                    ],
                }
            ),
        )

        assert response.get_json() == {"success": True, "processed": 1}
        assert exported()[0]["client_id"] == "visitor-123"

    def test_python_example_is_processed_and_drops_the_name_trait(self, client, journey, exported):
        response = client.post(
            path(journey),
            json={
                "source": "server",
                "events": [
                    {
                        "type": "identify",
                        "url": "server://jane@example.com",
                        "path": "/",
                        "email": "jane@example.com",
                        "traits": {"name": "Jane Doe"},
                        "timestamp": int(time.time() * 1000),
                    }
                ],
            },
        )

        assert response.status_code == 200
        assert response.get_json() == {"success": True, "processed": 1}
        [stored] = exported()
        assert stored["user_id"] == email_hash("jane@example.com")
        assert stored["properties"] is None

    def test_server_side_example_takes_identity_from_properties(self, client, journey, exported):
        response = client.post(path(journey), json=SERVER_SIDE)

        assert response.get_json() == {"success": True, "processed": 1}
        [stored] = exported()
        assert stored["user_id"] == "usr_123"
        assert stored["properties"] == {
            "amount": 99,
            "currency": "USD",
            "email": email_hash("user@example.com"),
        }

    def test_every_documented_event_type_is_stored(self, client, journey, exported):
        response = client.post(path(journey), json=client_batch(*EVENT_TYPES))

        assert response.get_json() == {"success": True, "processed": 7}
        stored = {e["type"]: e for e in exported()}
        assert set(stored) == {e["type"] for e in EVENT_TYPES}
        assert all(e["occurred_at"] == SEED_TIME for e in stored.values())
        assert stored["pageview"]["title"] == "Pricing - Example"
        assert stored["pageview"]["url"] == "https://example.com/pricing?plan="
        assert stored["pageview"]["properties"] == {
            "utm": {"source": "google", "medium": "cpc", "campaign": "spring_2024"}
        }
        assert stored["custom"]["name"] == "button_clicked"
        assert stored["custom"]["properties"] == {
            "buttonId": "cta-hero",
            "page": "/pricing",
            "variant": "A",
        }
        assert stored["form"]["name"] == "contact-form"
        assert sorted(stored["form"]["properties"]["fields"]) == [
            "company",
            "email",
            "message",
            "name",
        ]
        assert stored["identify"]["user_id"] == "usr_12345"
        assert stored["identify"]["properties"]["traits"] == {
            "company": "Acme Inc",
            "plan": "enterprise",
            "role": "admin",
        }
        assert stored["engagement"]["session_id"] == "b2c3d4e5-f6a7-8901-bcde-f12345678901"
        assert stored["engagement"]["properties"] == {"activeTimeMs": 45000, "totalTimeMs": 60000}
        assert stored["calendar"]["properties"] == {
            "provider": "cal.com",
            "eventType": "30 Minute Demo",
            "startTime": "2024-03-15T10:00:00+00:00",
            "endTime": "2024-03-15T10:30:00+00:00",
            "duration": 30,
            "isRecurring": False,
        }
        assert stored["stage"]["name"] == "activated"
        assert stored["stage"]["properties"] == {"flow": "onboarding", "step": "completed"}

    def test_form_field_values_are_never_stored(self, client, journey, cli):
        client.post(path(journey), json=client_batch(EVENT_TYPES[2]))

        output = cli("export")
        for value in ("jane@example.com", "Jane Doe", "Acme Inc", "learn more"):
            assert value not in output

    def test_batching_example_sends_up_to_100_events(self, client, journey, exported):
        response = client.post(path(journey), json=client_batch(*[pageview(n) for n in range(100)]))

        assert response.get_json() == {"success": True, "processed": 100}
        assert len(exported()) == 100


class TestLimitsAndErrors:
    def test_more_than_100_events_is_refused_whole(self, client, journey, exported):
        response = client.post(path(journey), json=client_batch(*[pageview(n) for n in range(101)]))

        assert response.status_code == 400
        assert response.get_json() == inactive("Too many events: at most 100 per request")
        assert exported() == []

    @pytest.mark.parametrize("key", ["pk_your_key", "pk_000000000000000000000000", "x" * 500])
    def test_unknown_public_key_gets_the_documented_error(self, client, journey, exported, key):
        response = client.post(f"/api/i/v1/{key}/events", json=client_batch(pageview()))

        assert response.status_code == 404
        assert response.get_json() == inactive()
        assert exported() == []

    def test_partial_success_is_207_and_stores_the_valid_events(self, client, journey, exported):
        batch = client_batch(pageview(1), pageview(2), {**pageview(3), "type": "purchase"})

        response = client.post(path(journey), json=batch)

        assert response.status_code == 207
        assert response.get_json() == {
            "success": False,
            "processed": 2,
            "errors": [{"index": 2, "message": "Invalid event type"}],
        }
        assert [e["path"] for e in exported()] == ["/page/1", "/page/2"]

    @pytest.mark.parametrize(
        "event, message",
        [
            ({"url": "https://example.com/", "path": "/"}, "Invalid event type"),
            ("pageview", "Event must be an object"),
            ({"type": "pageview", "path": "/"}, "url is required"),
            ({"type": "pageview", "url": "https://example.com/"}, "path is required"),
            ({**pageview(), "timestamp": "2024-01-01"}, BAD_TIME),
            ({**pageview(), "timestamp": -1}, BAD_TIME),
            ({**pageview(), "timestamp": 1e30}, BAD_TIME),
            ({**pageview(), "timestamp": True}, BAD_TIME),
            ({**pageview(), "type": "custom"}, "eventName is required"),
            (
                {**pageview(), "type": "custom", "eventName": "x", "properties": {"a": [1]}},
                "properties values must be strings, numbers, booleans or null",
            ),
            ({**pageview(), "type": "identify"}, "email or userId is required"),
            (
                {**pageview(), "type": "identify", "email": "not-an-email"},
                "email must be an email address",
            ),
            (
                {**pageview(), "type": "stage", "stage": "discovered"},
                "stage must be one of: activated, engaged, inactive, paid, churned",
            ),
            ({**pageview(), "type": "stage"}, "stage is required"),
            (
                {**pageview(), "type": "calendar", "provider": "outlook"},
                "provider must be one of: cal.com, calendly, unknown",
            ),
            (
                {**pageview(), "type": "calendar", "startTime": "tomorrow"},
                "startTime must be an ISO 8601 timestamp",
            ),
            # Documented as a boolean: "no" is not read as false, nor 1 as true.
            *(
                (
                    {**pageview(), "type": "calendar", "isRecurring": value},
                    "isRecurring must be a boolean",
                )
                for value in ("no", "false", "yes", 0, 1)
            ),
            (
                {**pageview(), "type": "engagement", "activeTimeMs": -5},
                "activeTimeMs must not be negative",
            ),
        ],
    )
    def test_an_invalid_event_is_reported_by_index(self, client, journey, exported, event, message):
        response = client.post(path(journey), json=client_batch(pageview(), event))

        assert response.status_code == 207
        assert response.get_json()["errors"] == [{"index": 1, "message": message}]
        assert len(exported()) == 1

    def test_a_batch_with_no_valid_event_is_400(self, client, journey, exported):
        response = client.post(path(journey), json=client_batch({"type": "nope"}))

        assert response.status_code == 400
        assert response.get_json() == {
            "success": False,
            "processed": 0,
            "errors": [{"index": 0, "message": "Invalid event type"}],
        }
        assert exported() == []

    def test_timestamp_defaults_to_server_time(self, client, journey, exported):
        before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        event = pageview()
        del event["timestamp"]

        client.post(path(journey), json=client_batch(event))

        stored = dt.datetime.fromisoformat(exported()[0]["occurred_at"].rstrip("Z"))
        assert before - dt.timedelta(seconds=1) <= stored
        assert stored <= dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)

    def test_server_events_without_identity_fail_whole(self, client, journey, exported):
        response = client.post(
            path(journey),
            json={
                "source": "server",
                "events": [{**pageview(), "type": "custom", "eventName": "x"}],
            },
        )

        assert response.status_code == 400
        assert response.get_json() == inactive(
            "Server events require an identity: an identify event, or __email or __userId in "
            "an event's properties"
        )
        assert exported() == []

    def test_server_events_take_the_batch_identity(self, client, journey, exported):
        identify = {**pageview(1), "type": "identify", "userId": "usr_9"}
        custom = {**pageview(2), "type": "custom", "eventName": "paid"}

        client.post(path(journey), json={"source": "server", "events": [identify, custom]})

        assert [e["user_id"] for e in exported()] == ["usr_9", "usr_9"]

    def test_client_events_need_a_visitor_id(self, client, journey, exported):
        response = client.post(path(journey), json={"source": "client", "events": [pageview()]})

        assert response.status_code == 400
        assert response.get_json() == inactive("visitorId is required for client events")

    def test_source_must_be_documented(self, client, journey):
        response = client.post(path(journey), json={**client_batch(pageview()), "source": "mobile"})

        assert response.status_code == 400
        assert response.get_json() == inactive("source must be one of: client, server, integration")

    def test_the_user_object_identifies_every_event(self, client, journey, exported):
        batch = {**client_batch(pageview()), "user": {"email": "Jane@Example.com"}}

        client.post(path(journey), json=batch)

        assert exported()[0]["user_id"] == email_hash("jane@example.com")

    @pytest.mark.parametrize(
        "field", ["password", "credit_card", "ssn", "cardNumber", "cvv", "user_password"]
    )
    def test_sensitive_form_fields_are_stripped(self, client, journey, exported, cli, field):
        form = {**EVENT_TYPES[2], "formFields": {"plan": "pro", field: "hunter2-secret"}}

        client.post(path(journey), json=client_batch(form))

        assert exported()[0]["properties"] == {"fields": ["plan"]}
        assert "hunter2" not in cli("export")

    def test_sensitive_custom_properties_are_stripped(self, client, journey, exported):
        props = {"plan": "pro", "password": "x", "email": "j@x.io"}
        custom = {**EVENT_TYPES[1], "properties": props}

        client.post(path(journey), json=client_batch(custom))

        assert exported()[0]["properties"] == {"plan": "pro"}

    def test_body_over_the_limit_is_413(self, make_app, journey):
        app = make_app(SECRET_KEY=SECRET, JOURNEY_MAX_BODY_BYTES=1024)
        body = client_batch(pageview(title="x" * 2000))

        response = app.test_client().post(path(journey), json=body)

        assert response.status_code == 413
        assert response.get_json()["errors"][0]["index"] == -1

    @pytest.mark.parametrize(
        "body",
        [
            "[]",
            "null",
            "not json",
            '{"visitorId": "v", "events": "x"}',
            '{"visitorId": "v"}',
            '{"visitorId": 5, "events": []}',
            '{"visitorId": "v", "user": [], "events": []}',
            '{"visitorId": "v", "events": [{"type": "custom", "url": "u", "path": "/", '
            '"eventName": "x", "properties": {"a": NaN}}]}',
            '{"visitorId": "v", "events": [{"type": "pageview", "url": "u", "path": "/", '
            '"timestamp": 1e400}]}',
            '{"visitorId": "v", "events": [{"type": "identify", "url": "u", "path": "/", '
            '"userId": "u", "traits": ' + "[" * 500 + "]" * 500 + "}]}",
            '{"visitorId": "v", "events": [{"type": "identify", "url": "u", "path": "/", '
            '"userId": "u", "traits": {"a": {"b": Infinity}}}]}',
            '{"visitorId": "v", "events": [{"type": {"x": 1}}]}',
        ],
    )
    def test_hostile_bodies_are_refused_without_a_server_error(
        self, client, journey, body, exported
    ):
        response = client.post(path(journey), data=body, content_type="application/json")

        assert 400 <= response.status_code < 500
        assert response.get_json()["success"] is False
        assert exported() == []


class TestIdentity:
    @pytest.mark.parametrize(
        "config, expected",
        [
            ({"SECRET_KEY": SECRET}, email_hash("jane@acme.com")),
            (
                {"JOURNEY_IDENTITY_SECRET": "other", "SECRET_KEY": SECRET},
                email_hash("jane@acme.com", "other"),
            ),
            ({"JOURNEY_IDENTITY": "keep"}, "jane@acme.com"),
            ({"JOURNEY_IDENTITY": "drop"}, None),
        ],
    )
    def test_identity_mode_decides_what_is_kept_of_an_email(
        self, client, journey, exported, expected
    ):
        identify = {**pageview(), "type": "identify", "email": "Jane@Acme.com"}

        client.post(path(journey), json=client_batch(identify))

        assert exported()[0]["user_id"] == expected

    @pytest.mark.parametrize("config", [{}])
    def test_without_a_secret_emails_are_hashed_with_the_installations_own(
        self, client, journey, exported
    ):
        # Issue 13: a fresh install hashes emails instead of refusing them with a 503.
        response = client.post(path(journey), data=CURL_SERVER, content_type="application/json")

        assert response.status_code == 200
        identify, custom = exported()
        assert identify["user_id"] == "usr_123"
        assert identify["properties"]["email"].startswith("eh_")
        assert identify["properties"]["email"] != email_hash("jane@acme.com")
        assert custom["user_id"] == identify["properties"]["email"]

    @pytest.mark.parametrize("config", [{}])
    def test_events_without_an_email_need_no_secret(self, client, journey, exported):
        response = client.post(path(journey), data=CURL_BROWSER, content_type="application/json")

        assert response.status_code == 200

    def test_an_unknown_identity_mode_stops_the_app(self, make_app):
        with pytest.raises(ValueError, match="JOURNEY_IDENTITY must be one of hash, drop, keep"):
            make_app(JOURNEY_IDENTITY="encrypt")

    def test_a_user_id_that_is_an_email_is_treated_as_one(self, client, journey, exported):
        identify = {**pageview(), "type": "identify", "userId": "jane@acme.com"}

        client.post(path(journey), json=client_batch(identify))

        assert exported()[0]["user_id"] == email_hash("jane@acme.com")


class TestSharedBehaviour:
    def test_a_retried_batch_is_stored_once(self, client, journey, exported):
        batch = client_batch(*EVENT_TYPES)

        first = client.post(path(journey), json=batch)
        second = client.post(path(journey), json=batch)

        assert first.get_json() == second.get_json() == {"success": True, "processed": 7}
        assert len(exported()) == 7

    def test_a_retry_with_the_same_idempotency_key_is_stored_once(self, client, journey, exported):
        event = pageview()
        del event["timestamp"]
        headers = {"Idempotency-Key": "batch-42"}

        client.post(path(journey), json=client_batch(event, event), headers=headers)
        client.post(path(journey), json=client_batch(event, event), headers=headers)

        assert len(exported()) == 2

    def test_events_without_timestamp_or_key_are_all_stored(self, client, journey, exported):
        event = pageview()
        del event["timestamp"]

        client.post(path(journey), json=client_batch(event))
        client.post(path(journey), json=client_batch(event))

        assert len(exported()) == 2

    def test_an_unlisted_origin_is_403_and_nothing_is_stored(self, client, journey, exported):
        response = client.post(
            path(journey), json=client_batch(pageview()), headers={"Origin": "https://evil.example"}
        )

        assert response.status_code == 403
        assert response.get_json() == inactive(
            "Origin https://evil.example is not allowed for this journey"
        )
        assert exported() == []

    def test_a_listed_origin_gets_cors_headers(self, client, journey):
        response = client.post(
            path(journey), json=client_batch(pageview()), headers={"Origin": ORIGIN}
        )

        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN

    def test_the_rate_limit_answers_429_with_retry_after(self, client, cli, journey, exported):
        cli("set-org", ORG, "--rate-limit", "1 per hour")
        headers = {"Origin": ORIGIN}

        first = client.post(path(journey), json=client_batch(pageview(1)), headers=headers)
        response = client.post(path(journey), json=client_batch(pageview(2)), headers=headers)

        assert first.status_code == 200
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
        assert response.get_json() == inactive("Rate limit exceeded for organization")
        assert len(exported()) == 1

    def test_past_the_quota_nothing_is_stored(self, client, cli, journey, exported):
        cli("set-org", ORG, "--quota", "1")

        response = client.post(path(journey), json=client_batch(pageview(1), pageview(2)))

        assert response.status_code == 429
        assert response.get_json() == inactive("Monthly event quota exceeded for organization")
        assert exported() == []
        assert json.loads(cli("usage", ORG))["months"] == {}

    def test_usage_is_metered(self, client, cli, journey):
        client.post(path(journey), json=client_batch(pageview(1), pageview(2)))

        [month] = json.loads(cli("usage", ORG))["months"].values()
        assert month == {"events": 2, "requests": 1}

    def test_the_format_can_be_switched_off(self, make_app, journey):
        app = make_app(JOURNEY_FORMATS=["journey"])

        response = app.test_client().post(path(journey), json=client_batch(pageview()))

        assert response.status_code == 404

    def test_events_land_in_the_one_events_table(self, client, journey):
        client.post(path(journey), data=CURL_BROWSER, content_type="application/json")

        assert Event.select().where(Event.wire_format == "typed").count() == 1
        assert Event.get().journey.slug == JOURNEY

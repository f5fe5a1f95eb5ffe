"""POST /api/v1/events/pageview and /custom (seed 003): Bearer keys, 201, coded errors."""

from __future__ import annotations

import json

import pytest

from .helpers import ORG, ORIGIN

PAGEVIEW = "/api/v1/events/pageview"
CUSTOM = "/api/v1/events/custom"
MAC_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"

# The seed's cURL pageview body, as printed ("site_abc123" is the journey's public key).
CURL_PAGEVIEW = """{
"site_id": "site_abc123",
"url": "https://example.com/pricing",
"referrer": "https://google.com/search",
"user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36",
"ip_address": "203.0.113.42"
}"""

# The seed's cURL custom-event body.
CURL_CUSTOM = """{
"site_id": "site_abc123",
"event_name": "signup",
"url": "https://example.com/signup/complete",
"props": {
"plan": "pro",
"source": "landing-page",
"trial_days": 14
}
}"""


@pytest.fixture
def site(journey) -> str:
    return journey["publicKey"]


@pytest.fixture
def auth(api_key) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}


def error(code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


def created(response) -> str:
    assert response.status_code == 201
    body = response.get_json()
    assert body["success"] is True
    assert body["event_id"].startswith("evt_")
    return body["event_id"]


class TestSeedExamples:
    def test_curl_pageview_is_created_and_exported(self, client, auth, site, exported, cli):
        body = CURL_PAGEVIEW.replace("site_abc123", site)

        event_id = created(client.post(PAGEVIEW, data=body, headers=auth))

        [stored] = exported()
        assert stored["event_id"] == event_id
        assert stored["wire_format"] == "events_api"
        assert stored["type"] == "pageview"
        assert stored["url"] == "https://example.com/pricing"
        assert stored["path"] == "/pricing"
        assert stored["referrer"] == "https://google.com/search"
        assert (stored["device_class"], stored["os"]) == ("desktop", "Mac OS X")
        output = cli("export")
        assert "203.0.113.42" not in output
        assert "AppleWebKit" not in output

    def test_javascript_pageview_example_is_created(self, client, auth, site, exported):
        body = {
            "site_id": site,
            "url": "https://example.com/pricing",
            "referrer": "https://google.com/search",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "ip_address": "::ffff:127.0.0.1",
        }

        created(client.post(PAGEVIEW, data=json.dumps(body), headers=auth))

        [stored] = exported()
        assert (stored["device_class"], stored["browser"], stored["os"]) == (
            "desktop",
            "Chrome",
            "Windows",
        )

    def test_python_pageview_example_without_user_agent_is_created(self, client, auth, site):
        body = {
            "site_id": site,
            "url": "https://example.com/pricing",
            "referrer": "https://google.com/search",
            "user_agent": None,
            "ip_address": "127.0.0.1",
        }

        created(client.post(PAGEVIEW, json=body, headers=auth))

    def test_curl_custom_event_is_created_and_exported(self, client, auth, site, exported):
        event_id = created(
            client.post(CUSTOM, data=CURL_CUSTOM.replace("site_abc123", site), headers=auth)
        )

        [stored] = exported()
        assert stored["event_id"] == event_id
        assert stored["type"] == "custom"
        assert stored["name"] == "signup"
        assert stored["url"] == "https://example.com/signup/complete"
        assert stored["properties"] == {"plan": "pro", "source": "landing-page", "trial_days": 14}

    @pytest.mark.parametrize(
        "event_name, url, props",
        [
            # JavaScript trackSignup example.
            (
                "signup",
                "https://example.com/signup/complete",
                {"plan": "pro", "source": "api", "timestamp": "2024-05-01T12:00:00.000Z"},
            ),
            # Python track_event example.
            (
                "purchase",
                "https://example.com/checkout/success",
                {"amount": 99.99, "currency": "USD", "product": "Pro Plan Annual"},
            ),
            # Server-side tracking example.
            (
                "payment_successful",
                "https://example.com/checkout/success",
                {"plan": "enterprise", "amount": 999, "currency": "USD"},
            ),
            # Mobile app example.
            (
                "feature_used",
                "app://example/feature_used",
                {"feature": "export_data", "format": "csv"},
            ),
            # Backend process example.
            (
                "report_generated",
                "https://example.com/reports/daily",
                {"report_type": "daily", "records_processed": 15000, "duration_seconds": 42},
            ),
        ],
    )
    def test_custom_event_examples_are_created(
        self, client, auth, site, exported, event_name, url, props
    ):
        body = {"site_id": site, "event_name": event_name, "url": url, "props": props}

        created(client.post(CUSTOM, json=body, headers=auth))

        [stored] = exported()
        assert (stored["name"], stored["properties"]) == (event_name, props)

    def test_python_example_with_no_props_is_created(self, client, auth, site, exported):
        body = {"site_id": site, "event_name": "x", "url": "https://example.com/", "props": {}}

        created(client.post(CUSTOM, json=body, headers=auth))

        assert exported()[0]["properties"] is None


class TestErrors:
    def test_missing_event_name_is_the_documented_error(self, client, auth, site, exported):
        body = {"site_id": site, "url": "https://example.com/"}

        response = client.post(CUSTOM, json=body, headers=auth)

        assert response.status_code == 400
        assert response.get_json() == error(
            "invalid_request", "Missing required field: event_name", "event_name"
        )
        assert exported() == []

    @pytest.mark.parametrize(
        "path, body, message, field",
        [
            (PAGEVIEW, {"url": "https://e.x/"}, "Missing required field: site_id", "site_id"),
            (PAGEVIEW, {"site_id": "SITE"}, "Missing required field: url", "url"),
            (PAGEVIEW, {"site_id": "SITE", "url": 5}, "Invalid field url: must be a string", "url"),
            (
                PAGEVIEW,
                {"site_id": "SITE", "url": "u" * 2049},
                "Invalid field url: must be 1 to 2048 characters",
                "url",
            ),
            (
                CUSTOM,
                {"site_id": "SITE", "url": "u", "event_name": ""},
                "Invalid field event_name: must be 1 to 256 characters",
                "event_name",
            ),
            (PAGEVIEW, [], "body must be a JSON object", "body"),
        ],
    )
    def test_invalid_requests_name_the_field(
        self, client, auth, site, exported, path, body, message, field
    ):
        if isinstance(body, dict):
            body = {k: site if v == "SITE" else v for k, v in body.items()}

        response = client.post(path, json=body, headers=auth)

        assert response.status_code == 400
        assert response.get_json() == error("invalid_request", message, field)
        assert exported() == []

    @pytest.mark.parametrize(
        "props, message",
        [
            ({f"k{n}": n for n in range(11)}, "must have at most 10 keys"),
            ({"k" * 51: 1}, "keys must be 1 to 50 characters"),
            ({"": 1}, "keys must be 1 to 50 characters"),
            ({"nested": {"a": 1}}, "values must be strings, numbers or booleans"),
            ({"list": [1]}, "values must be strings, numbers or booleans"),
            ({"nothing": None}, "values must be strings, numbers or booleans"),
            ([1, 2], "must be an object"),
        ],
    )
    def test_props_beyond_the_limits_are_invalid_props(
        self, client, auth, site, exported, props, message
    ):
        body = {"site_id": site, "event_name": "x", "url": "https://e.x/", "props": props}

        response = client.post(CUSTOM, json=body, headers=auth)

        assert response.status_code == 400
        assert response.get_json() == error(
            "invalid_props", f"Invalid field props: {message}", "props"
        )
        assert exported() == []

    def test_ten_props_with_fifty_character_keys_are_accepted(self, client, auth, site):
        props = {f"{n}".rjust(50, "k"): n for n in range(10)}
        body = {"site_id": site, "event_name": "x", "url": "https://e.x/", "props": props}

        created(client.post(CUSTOM, json=body, headers=auth))

    @pytest.mark.parametrize(
        "authorization, message",
        [
            (None, "Missing or malformed API key"),
            ("Bearer YOUR_API_KEY", "Missing or malformed API key"),
            ("Basic dXNlcjpwYXNz", "Missing or malformed API key"),
            ("Bearer sk_000000000000_nope", "Invalid API key"),
        ],
    )
    def test_a_missing_or_invalid_key_is_unauthorized(
        self, client, site, exported, authorization, message
    ):
        headers = {"Authorization": authorization} if authorization else {}

        response = client.post(PAGEVIEW, json={"site_id": site, "url": "u"}, headers=headers)

        assert response.status_code == 401
        assert response.get_json() == error("unauthorized", message)
        assert exported() == []

    def test_a_revoked_key_is_unauthorized(self, client, cli, auth, api_key, site):
        cli("revoke-key", ORG, api_key.split("_")[1])

        response = client.post(PAGEVIEW, json={"site_id": site, "url": "u"}, headers=auth)

        assert response.status_code == 401

    def test_an_unknown_site_id_is_invalid_site_id(self, client, auth, exported):
        response = client.post(PAGEVIEW, json={"site_id": "site_abc123", "url": "u"}, headers=auth)

        assert response.status_code == 404
        assert response.get_json() == error(
            "invalid_site_id", "Site ID not found or access denied", "site_id"
        )
        assert exported() == []

    def test_a_site_of_another_organization_is_invalid_site_id(self, client, cli, site, exported):
        cli("create-org", "other-org")
        other_key = cli("create-key", "other-org").split()[-1]

        response = client.post(
            PAGEVIEW,
            json={"site_id": site, "url": "u"},
            headers={"Authorization": f"Bearer {other_key}"},
        )

        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "invalid_site_id"
        assert exported() == []

    @pytest.mark.parametrize(
        "body",
        [
            "{",
            "null",
            '{"site_id": "SITE", "event_name": "x", "url": "u", "props": {"a": NaN}}',
            '{"site_id": "SITE", "event_name": "x", "url": "u", "props": {"a": -Infinity}}',
            '{"site_id": {"$ne": 1}, "url": "u"}',
            '{"site_id": "SITE", "event_name": "x", "url": "u", "props": '
            + "[" * 300
            + "]" * 300
            + "}",
        ],
    )
    def test_hostile_bodies_are_refused_without_a_server_error(
        self, client, auth, site, exported, body
    ):
        response = client.post(CUSTOM, data=body.replace("SITE", site), headers=auth)

        assert response.status_code == 400
        assert response.get_json()["error"]["code"] in ("invalid_request", "invalid_props")
        assert exported() == []

    def test_body_over_the_limit_is_413(self, make_app, auth, site):
        app = make_app(JOURNEY_MAX_BODY_BYTES=256)
        body = {"site_id": site, "event_name": "x", "url": "https://e.x/" + "a" * 300}

        response = app.test_client().post(CUSTOM, json=body, headers=auth)

        assert response.status_code == 413
        assert response.get_json()["error"]["code"] == "invalid_request"


class TestSharedBehaviour:
    def test_the_rate_limit_answers_429_with_retry_after(self, client, cli, auth, site, exported):
        cli("set-org", ORG, "--rate-limit", "2 per hour")
        body = {"site_id": site, "url": "https://example.com/"}

        statuses = [client.post(PAGEVIEW, json=body, headers=auth).status_code for _ in range(2)]
        response = client.post(PAGEVIEW, json=body, headers=auth)

        assert statuses == [201, 201]
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
        assert response.get_json() == error(
            "rate_limit_exceeded", "Rate limit exceeded for organization"
        )
        assert len(exported()) == 2

    def test_authenticated_servers_are_not_held_to_the_unknown_origin_limit(
        self, make_app, auth, site, exported
    ):
        app = make_app(JOURNEY_RATELIMIT_UNKNOWN_ORIGIN="1 per hour")
        client = app.test_client()
        body = {"site_id": site, "url": "https://example.com/"}

        statuses = [client.post(PAGEVIEW, json=body, headers=auth).status_code for _ in range(3)]

        assert statuses == [201, 201, 201]

    def test_past_the_quota_is_rate_limit_exceeded_and_nothing_is_stored(
        self, client, cli, auth, site, exported
    ):
        cli("set-org", ORG, "--quota", "0")

        response = client.post(PAGEVIEW, json={"site_id": site, "url": "u"}, headers=auth)

        assert response.status_code == 429
        assert "Retry-After" in response.headers
        assert response.get_json() == error(
            "rate_limit_exceeded", "Monthly event quota exceeded for organization"
        )
        assert exported() == []

    def test_a_retry_with_the_same_idempotency_key_is_stored_once(
        self, client, auth, site, exported
    ):
        headers = {**auth, "Idempotency-Key": "signup-user_123"}
        body = {"site_id": site, "event_name": "signup", "url": "https://example.com/"}

        first = created(client.post(CUSTOM, json=body, headers=headers))
        second = created(client.post(CUSTOM, json=body, headers=headers))

        assert first == second
        assert len(exported()) == 1

    def test_each_request_without_a_key_is_a_new_event(self, client, auth, site, exported):
        body = {"site_id": site, "event_name": "signup", "url": "https://example.com/"}

        first = created(client.post(CUSTOM, json=body, headers=auth))
        second = created(client.post(CUSTOM, json=body, headers=auth))

        assert first != second
        assert len(exported()) == 2

    def test_a_browser_from_an_unlisted_origin_is_refused(self, client, auth, site, exported):
        response = client.post(
            PAGEVIEW,
            json={"site_id": site, "url": "u"},
            headers={**auth, "Origin": "https://evil.example"},
        )

        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "invalid_site_id"
        assert exported() == []

    def test_a_cors_preflight_allows_the_authorization_header(self, client, journey):
        response = client.options(
            CUSTOM,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            },
        )

        assert response.status_code == 200
        assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()

    def test_other_event_kinds_do_not_exist(self, client, auth, site):
        response = client.post(
            "/api/v1/events/purchase", json={"site_id": site, "url": "u"}, headers=auth
        )

        assert response.status_code == 404

    def test_personal_props_are_not_kept(self, client, auth, site, exported):
        props = {
            "plan": "pro",
            "plan_name": "Pro",
            "email": "jane@example.com",
            "name": "Jane",
            "full_name": "Jane Doe",
            "phoneNumber": "555",
            "client_ip": "203.0.113.1",
        }
        body = {"site_id": site, "event_name": "x", "url": "https://e.x/", "props": props}

        created(client.post(CUSTOM, json=body, headers=auth))

        assert exported()[0]["properties"] == {"plan": "pro", "plan_name": "Pro"}

    def test_the_format_can_be_switched_off(self, make_app, auth, site):
        app = make_app(JOURNEY_FORMATS=["journey"])

        response = app.test_client().post(
            PAGEVIEW, json={"site_id": site, "url": "u"}, headers=auth
        )

        assert response.status_code == 404

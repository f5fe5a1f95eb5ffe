"""POST /api/events (seed 004): project key, allowed origins, category/label/value, quotas."""

from __future__ import annotations

import json

import pytest

from .helpers import JOURNEY, ORG

PATH = "/api/events"
SITE = "https://yourdomain.com"

# The seed's example payload, as printed ("your-project-key" is the journey's public key).
SEED_PAYLOAD = """{
  "projectKey": "your-project-key",
  "event_name": "ButtonClick",
  "event_data": {
    "category": "CTA",
    "label": "Homepage Hero",
    "value": 1,
    "custom_field": "custom value"
  },
  "url": "https://yourdomain.com/page",
  "page_title": "Home",
  "page_path": "/",
  "referrer": "https://referrer.com/",
  "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)...",
  "sessionId": "uuid-session-id",
  "timestamp": "2025-08-02T14:19:12.000Z"
}"""


@pytest.fixture
def project(cli, journey) -> str:
    """The journey's public key, with the seed's domain among its allowed origins."""
    cli("set-origins", ORG, JOURNEY, SITE)
    return journey["publicKey"]


def payload(project: str, **changes) -> dict:
    body = json.loads(SEED_PAYLOAD.replace("your-project-key", project))
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def refused(message: str) -> dict:
    return {"success": False, "error": message}


class TestSeedExample:
    def test_seed_payload_is_stored_with_its_analytics_fields(self, client, project, exported):
        response = client.post(
            PATH,
            data=SEED_PAYLOAD.replace("your-project-key", project),
            headers={"Content-Type": "application/json", "Origin": SITE},
        )

        assert response.status_code == 200
        body = response.get_json()
        assert body["success"] is True
        assert body["sessionId"] == "uuid-session-id"
        assert response.headers["Access-Control-Allow-Origin"] == SITE
        [stored] = exported()
        assert stored["event_id"] == body["eventId"]
        assert stored["wire_format"] == "project"
        assert stored["type"] == "custom"
        assert stored["name"] == "ButtonClick"
        assert (stored["category"], stored["label"], stored["value"]) == (
            "CTA",
            "Homepage Hero",
            1.0,
        )
        assert stored["properties"] == {"custom_field": "custom value"}
        assert stored["url"] == "https://yourdomain.com/page"
        assert stored["path"] == "/"
        assert stored["title"] == "Home"
        assert stored["referrer"] == "https://referrer.com/"
        assert stored["session_id"] == "uuid-session-id"
        assert stored["occurred_at"] == "2025-08-02T14:19:12.000Z"
        assert stored["device_class"] == "desktop"
        assert stored["os"] == "Mac OS X"

    def test_a_session_id_is_generated_when_absent(self, client, project, exported):
        response = client.post(PATH, json=payload(project, sessionId=None))

        session = response.get_json()["sessionId"]
        assert session
        assert exported()[0]["session_id"] == session

    def test_a_retry_gets_the_same_event_and_session(self, client, project, exported):
        body = payload(project, sessionId=None)

        first = client.post(PATH, json=body).get_json()
        second = client.post(PATH, json=body).get_json()

        assert first == second
        assert len(exported()) == 1

    def test_events_without_timestamp_are_stored_each_time(self, client, project, exported):
        body = payload(project, timestamp=None)

        client.post(PATH, json=body)
        client.post(PATH, json=body)

        assert len(exported()) == 2

    def test_the_user_id_is_stored_and_an_email_is_hashed(self, make_app, project, exported):
        client = make_app(JOURNEY_IDENTITY_SECRET="k").test_client()

        client.post(PATH, json=payload(project, userId="usr_1", timestamp=None))
        client.post(PATH, json=payload(project, userId="jane@example.com", timestamp=None))

        plain, hashed = (e["user_id"] for e in exported())
        assert plain == "usr_1"
        assert hashed.startswith("eh_") and "jane" not in hashed

    def test_the_ip_address_is_never_stored(self, client, project, cli):
        client.post(
            PATH,
            json=payload(project, ip="203.0.113.9"),
            environ_base={"REMOTE_ADDR": "203.0.113.7"},
            headers={"X-Forwarded-For": "203.0.113.8"},
        )

        output = cli("export")
        assert "203.0.113" not in output

    @pytest.mark.parametrize(
        "event_data, columns, rest",
        [
            ({"category": "CTA", "value": "2.5"}, ("CTA", None, 2.5), None),
            ({"value": 1234567.89}, (None, None, 1234567.89), None),
            ({"category": 7, "label": "L"}, ("7", "L", None), None),
            (
                {"value": "lots", "category": ["x"]},
                (None, None, None),
                {"value": "lots", "category": ["x"]},
            ),
            ({"value": True}, (None, None, None), {"value": True}),
            ({"label": "x" * 300}, (None, None, None), {"label": "x" * 300}),
            ({}, (None, None, None), None),
        ],
    )
    def test_category_label_value_are_extracted_when_usable(
        self, client, project, exported, event_data, columns, rest
    ):
        client.post(PATH, json=payload(project, event_data=event_data))

        [stored] = exported()
        assert (stored["category"], stored["label"], stored["value"]) == columns
        assert stored["properties"] == rest

    def test_personal_and_sensitive_event_data_is_not_kept(self, client, project, exported):
        data = {"plan": "pro", "email": "j@x.io", "card": {"cvv": "123", "brand": "visa"}}

        client.post(PATH, json=payload(project, event_data=data))

        assert exported()[0]["properties"] == {"plan": "pro", "card": {"brand": "visa"}}


class TestOriginsAndErrors:
    def test_an_event_url_outside_the_allowed_origins_is_403(self, client, project, exported):
        response = client.post(PATH, json=payload(project, url="https://evil.example/page"))

        assert response.status_code == 403
        assert response.get_json() == refused(
            "Origin https://evil.example is not allowed for this journey"
        )
        assert exported() == []

    def test_an_origin_header_outside_the_allowed_origins_is_403(self, client, project, exported):
        response = client.post(
            PATH, json=payload(project), headers={"Origin": "https://evil.example"}
        )

        assert response.status_code == 403
        assert exported() == []

    def test_a_journey_without_allowed_origins_accepts_every_url(self, client, cli, journey):
        cli("set-origins", ORG, JOURNEY)

        response = client.post(PATH, json=payload(journey["publicKey"], url="https://any.example/"))

        assert response.status_code == 200

    @pytest.mark.parametrize("key", ["your-project-key", "pk_0000", ""])
    def test_an_unknown_project_key_is_refused(self, client, project, exported, key):
        response = client.post(PATH, json=payload(project, projectKey=key or None))

        expected = (
            (404, refused("Invalid project key"))
            if key
            else (400, refused("projectKey is required"))
        )
        assert (response.status_code, response.get_json()) == expected
        assert exported() == []

    @pytest.mark.parametrize(
        "changes, message",
        [
            ({"event_name": None}, "event_name is required"),
            ({"url": None}, "url is required"),
            ({"url": "/page"}, "url must be an absolute http(s) URL"),
            ({"url": "javascript:alert(1)"}, "url must be an absolute http(s) URL"),
            ({"timestamp": "yesterday"}, "timestamp must be an ISO 8601 timestamp"),
            ({"event_data": "CTA"}, "event_data must be an object"),
            ({"sessionId": 42}, "sessionId must be a string"),
        ],
    )
    def test_invalid_events_are_400_and_not_stored(
        self, client, project, exported, changes, message
    ):
        response = client.post(PATH, json=payload(project, **changes))

        assert response.status_code == 400
        assert response.get_json() == refused(message)
        assert exported() == []

    @pytest.mark.parametrize(
        "body",
        [
            "[1]",
            "{",
            '{"projectKey": "KEY", "event_name": "x", "url": "https://yourdomain.com/", '
            '"event_data": {"value": NaN}}',
            '{"projectKey": "KEY", "event_name": "x", "url": "https://yourdomain.com/", '
            '"event_data": {"value": 1e999}}',
            '{"projectKey": "KEY", "event_name": "x", "url": "https://yourdomain.com/", '
            '"event_data": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}",
            '{"projectKey": ["KEY"], "event_name": "x", "url": "https://yourdomain.com/"}',
            '{"projectKey": "KEY", "event_name": "x", "url": "https://[::1/"}',
        ],
    )
    def test_hostile_bodies_are_refused_without_a_server_error(
        self, client, project, exported, body
    ):
        response = client.post(
            PATH, data=body.replace("KEY", project), content_type="application/json"
        )

        assert response.status_code == 400
        assert response.get_json()["success"] is False
        assert exported() == []

    def test_body_over_the_limit_is_413(self, make_app, project):
        app = make_app(JOURNEY_MAX_BODY_BYTES=512)

        response = app.test_client().post(PATH, json=payload(project, page_title="x" * 600))

        assert response.status_code == 413
        assert response.get_json()["success"] is False


class TestUsageAndLimits:
    def test_usage_is_metered_per_organization(self, client, cli, project):
        client.post(PATH, json=payload(project, timestamp=None))
        client.post(PATH, json=payload(project, timestamp=None))

        usage = json.loads(cli("usage", ORG))
        [month] = usage["months"].values()
        assert month == {"events": 2, "requests": 2}

    def test_past_the_monthly_quota_requests_are_refused(self, client, cli, project, exported):
        cli("set-org", ORG, "--quota", "1")

        first = client.post(PATH, json=payload(project, timestamp=None))
        second = client.post(PATH, json=payload(project, timestamp=None))

        assert first.status_code == 200
        assert second.status_code == 429
        assert int(second.headers["Retry-After"]) > 0
        assert second.get_json() == refused("Monthly event quota exceeded for organization")
        assert len(exported()) == 1

    def test_a_quota_set_at_creation_applies(self, client, cli, exported):
        cli("create-org", "metered", "--quota", "0")
        key = json.loads(cli("create-journey", "metered", "site"))["publicKey"]

        response = client.post(PATH, json=payload(key))

        assert response.status_code == 429
        assert exported() == []

    def test_the_rate_limit_answers_429_with_retry_after(self, client, cli, project, exported):
        cli("set-org", ORG, "--rate-limit", "1 per hour")

        client.post(PATH, json=payload(project, timestamp=None))
        response = client.post(PATH, json=payload(project, timestamp=None))

        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
        assert response.get_json() == refused("Rate limit exceeded for organization")
        assert len(exported()) == 1

    def test_a_cors_preflight_is_answered(self, client, project):
        response = client.options(
            PATH,
            headers={
                "Origin": SITE,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Content-Type",
            },
        )

        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == SITE

    def test_the_format_can_be_switched_off(self, make_app, project):
        app = make_app(JOURNEY_FORMATS=["journey", "typed", "collect", "events_api"])

        assert app.test_client().post(PATH, json=payload(project)).status_code == 404

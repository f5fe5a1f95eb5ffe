"""Allowed origins, CORS and rate limits on /api/ingest."""

from __future__ import annotations

import pytest

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, from_origin, post


class TestAllowedOrigins:
    def test_listed_origin_is_accepted_with_cors_headers(self, client, journey):
        response = post(client, batch(event()), headers=from_origin(ORIGIN))

        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN

    @pytest.mark.parametrize(
        ("origin", "body", "status"),
        [
            (ORIGIN, batch(event()), 204),
            (ORIGIN, {"schemaVersion": 1}, 400),
            ("https://evil.example", batch(event()), 403),
        ],
    )
    def test_every_answer_to_an_origin_is_readable_by_its_page(
        self, client, journey, origin, body, status
    ):
        response = post(client, body, headers=from_origin(origin))

        assert response.status_code == status
        assert response.headers.getlist("Access-Control-Allow-Origin") == [origin]
        assert response.headers.getlist("Vary") == ["Origin"]

    def test_unlisted_origin_is_403_json_and_nothing_is_stored(self, client, journey, exported):
        response = post(client, batch(event()), headers=from_origin("https://evil.example"))

        assert response.status_code == 403
        assert response.get_json() == {
            "error": "Origin https://evil.example is not allowed for this journey"
        }
        assert exported() == []

    def test_origin_matching_ignores_case_and_default_ports(self, client, cli, journey):
        cli("set-origins", ORG, JOURNEY, "https://Grants.Example.com")

        response = post(client, batch(event()), headers=from_origin("https://grants.example.com"))

        assert response.status_code == 204

    def test_null_origin_is_rejected_when_origins_are_listed(self, client, journey):
        response = post(client, batch(event()), headers=from_origin("null"))

        assert response.status_code == 403

    def test_journey_without_allowed_origins_accepts_any_origin(self, client, cli, exported):
        cli("create-org", ORG)
        cli("create-journey", ORG, JOURNEY)

        response = post(client, batch(event()), headers=from_origin("https://anywhere.example"))

        assert response.status_code == 204
        assert len(exported()) == 1

    def test_updated_origins_apply_to_the_next_request(self, client, cli, journey):
        cli("set-origins", ORG, JOURNEY, "https://new.example.com")

        assert post(client, batch(event()), headers=from_origin(ORIGIN)).status_code == 403
        response = post(client, batch(event()), headers=from_origin("https://new.example.com"))
        assert response.status_code == 204

    def test_preflight_is_answered_for_the_ingest_endpoint(self, client, journey):
        response = client.options(
            "/api/ingest",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )

        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert response.headers["Access-Control-Allow-Headers"].lower() == "content-type"
        assert response.headers["Access-Control-Max-Age"] == "86400"


@pytest.fixture
def config():
    return {
        "JOURNEY_RATELIMIT_DEFAULT": "3 per hour",
        "JOURNEY_RATELIMIT_UNKNOWN_ORIGIN": "2 per hour",
    }


class TestRateLimits:
    def test_default_limit_per_pair_then_429_with_retry_after(self, client, journey, exported):
        statuses = [
            post(client, batch(event("page_view", n)), headers=from_origin(ORIGIN)).status_code
            for n in range(3)
        ]
        response = post(client, batch(event("page_view", 9)), headers=from_origin(ORIGIN))

        assert statuses == [204, 204, 204]
        assert response.status_code == 429
        assert response.get_json() == {"error": "Rate limit exceeded for organization"}
        assert 0 < int(response.headers["Retry-After"]) <= 3600
        assert len(exported()) == 3

    def test_limits_are_counted_per_journey(self, client, cli, journey):
        cli("create-journey", ORG, "renewal", "--allowed-origin", ORIGIN)
        for n in range(3):
            post(client, batch(event("page_view", n)), headers=from_origin(ORIGIN))

        other = batch(event(journeyKey="renewal"), journeyKey="renewal")

        assert post(client, other, headers=from_origin(ORIGIN)).status_code == 204

    def test_unknown_origins_get_the_stricter_limit(self, client, cli):
        cli("create-org", ORG)
        cli("create-journey", ORG, JOURNEY)
        anywhere = from_origin("https://anywhere.example")

        statuses = [post(client, batch(event()), headers=anywhere).status_code for _ in range(3)]

        assert statuses == [204, 204, 429]
        other_origin = from_origin("https://elsewhere.example")
        assert post(client, batch(event()), headers=other_origin).status_code == 204

    def test_requests_without_origin_count_as_unknown_origin(self, client, journey):
        statuses = [
            post(client, batch(event()), headers=from_origin(None)).status_code for _ in range(3)
        ]

        assert statuses == [204, 204, 429]

    def test_organization_override_from_the_database(self, client, cli, journey):
        cli("set-org", ORG, "--rate-limit", "1 per hour")

        first = post(client, batch(event()), headers=from_origin(ORIGIN))
        second = post(client, batch(event()), headers=from_origin(ORIGIN))

        assert (first.status_code, second.status_code) == (204, 429)

    def test_rate_limit_can_be_switched_off(self, make_app, journey):
        client = make_app(JOURNEY_RATELIMIT_ENABLED=False).test_client()

        statuses = {
            post(client, batch(event()), headers=from_origin(ORIGIN)).status_code for _ in range(5)
        }

        assert statuses == {204}

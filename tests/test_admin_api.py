"""The management API: journeys of the organization whose secret key is presented."""

from __future__ import annotations

import json

from .helpers import JOURNEY, ORG, ORIGIN

NEW_ORIGINS = ["https://grants.example.com", "https://staging.grants.example.com"]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def test_seed_put_example_sets_allowed_origins_and_returns_the_journey(client, api_key, cli):
    response = client.put(
        "/api/journeys/small-business-grant",
        headers=bearer(api_key),
        data=json.dumps({"allowedOrigins": NEW_ORIGINS}),
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["journeyKey"] == JOURNEY and body["orgKey"] == ORG
    assert body["allowedOrigins"] == NEW_ORIGINS
    assert json.loads(cli("show", ORG, JOURNEY))["allowedOrigins"] == NEW_ORIGINS


def test_get_returns_the_journey_with_its_identifiers(client, api_key, journey):
    response = client.get(f"/api/journeys/{JOURNEY}", headers=bearer(api_key))

    assert response.status_code == 200
    assert response.get_json() == journey


def test_list_and_create_journeys(client, api_key):
    created = client.post(
        "/api/journeys",
        headers=bearer(api_key),
        data=json.dumps({"journeyKey": "renewal", "allowedOrigins": [ORIGIN]}),
    )
    listed = client.get("/api/journeys", headers=bearer(api_key))

    assert created.status_code == 201
    assert created.get_json()["publicKey"].startswith("pk_")
    assert [j["journeyKey"] for j in listed.get_json()["journeys"]] == ["renewal", JOURNEY]


def test_missing_key_is_401(client, journey):
    response = client.put(f"/api/journeys/{JOURNEY}", json={"allowedOrigins": []})

    assert response.status_code == 401
    assert response.get_json() == {"error": "Missing or malformed API key"}


def test_wrong_key_is_401(client, api_key):
    wrong = api_key[:-4] + "AAAA"

    response = client.get(f"/api/journeys/{JOURNEY}", headers=bearer(wrong))

    assert response.status_code == 401
    assert response.get_json() == {"error": "Invalid API key"}


def test_revoked_key_is_401(client, cli, api_key):
    cli("revoke-key", ORG, api_key.split("_")[1])

    response = client.get(f"/api/journeys/{JOURNEY}", headers=bearer(api_key))

    assert response.status_code == 401


def test_journey_of_another_organization_is_404(client, cli, api_key):
    cli("create-org", "other-org")
    cli("create-journey", "other-org", "their-journey")

    response = client.put(
        "/api/journeys/their-journey", headers=bearer(api_key), json={"allowedOrigins": []}
    )

    assert response.status_code == 404
    assert response.get_json() == {"error": "Journey not found"}


def test_invalid_origin_is_400_and_changes_nothing(client, api_key, journey, cli):
    response = client.put(
        f"/api/journeys/{JOURNEY}",
        headers=bearer(api_key),
        data=json.dumps({"allowedOrigins": ["javascript:alert(1)"]}),
    )

    assert response.status_code == 400
    assert response.get_json()["error"].startswith("Invalid request: invalid origin")
    assert json.loads(cli("show", ORG, JOURNEY))["allowedOrigins"] == [ORIGIN]


def test_wrong_types_are_400(client, api_key):
    for body in ({"allowedOrigins": "https://a.example"}, {"allowedOrigins": [1]}, {}, []):
        response = client.put(
            f"/api/journeys/{JOURNEY}", headers=bearer(api_key), data=json.dumps(body)
        )
        assert response.status_code == 400, body
        assert response.get_json()["error"].startswith("Invalid request: ")


def test_the_secret_is_not_stored(app, api_key):
    from flask_journey.models import ApiKey

    with app.app_context():
        app.extensions["journey"].activate()
        stored = ApiKey.get()
    assert api_key not in (stored.secret_hash, stored.lookup)
    assert len(stored.secret_hash) == 64

"""Secret keys with scopes: each endpoint that takes a key checks its scope and refuses a key
without it with 403 in its own error shape; keys made before scopes may do everything."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from flask_journey import api
from flask_journey.models import ApiKey

from .helpers import JOURNEY, ORG

#: Every key-authenticated endpoint: a request that succeeds with the right scope, the scope
#: it needs and the status of that success.
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any] | None, str, int]] = {
    "events api": (
        "POST",
        "/api/v1/events/pageview",
        {"site_id": "{public_key}", "url": "https://example.com/pricing"},
        "ingest",
        201,
    ),
    "report api": ("GET", f"/api/journeys/{JOURNEY}/report", None, "read", 200),
    "list journeys": ("GET", "/api/journeys", None, "admin", 200),
    "create journey": ("POST", "/api/journeys", {"journeyKey": "made-{n}"}, "admin", 201),
    "get journey": ("GET", f"/api/journeys/{JOURNEY}", None, "admin", 200),
    "put journey": ("PUT", f"/api/journeys/{JOURNEY}", {"steps": ["a", "b"]}, "admin", 200),
    "create key": ("POST", "/api/keys", {"scopes": ["read"]}, "admin", 201),
}
#: The keys tried: their scopes (None: made before scopes existed).
KEYS: dict[str, tuple[str, ...] | None] = {
    "ingest": ("ingest",),
    "read": ("read",),
    "admin": ("admin",),
    "ingest+read": ("ingest", "read"),
    "before scopes": None,
}


def _found(pattern: str, text: str, flags: int = 0) -> str:
    match = re.search(pattern, text, flags)
    assert match is not None, f"{pattern!r} is not on the page"
    return match.group(1)


@pytest.fixture
def keys(app, journey) -> dict[str, str]:
    made = {}
    with app.app_context():
        for name, scopes in KEYS.items():
            made[name] = api.create_key(ORG, scopes or api.SCOPES)
            if scopes is None:
                lookup = made[name].split("_")[1]
                ApiKey.update(scopes=None).where(ApiKey.lookup == lookup).execute()
    return made


def _call(client, endpoint: str, key: str, public_key: str, n: int):
    method, path, body, _, _ = ENDPOINTS[endpoint]
    text = json.dumps(body).replace("{public_key}", public_key).replace("{n}", str(n))
    return client.open(
        path,
        method=method,
        data=text if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


def _sign_in(client, key: str):
    page = client.get("/journey/sign-in").get_data(as_text=True)
    token = _found(r'name="csrf_token" value="([^"]+)"', page)
    return client.post("/journey/sign-in", data={"csrf_token": token, "key": key})


def test_each_endpoint_answers_each_key_by_its_scopes(app, client, journey, keys):
    for n, (endpoint, key_name) in enumerate((e, k) for e in ENDPOINTS for k in KEYS):
        _, _, _, scope, success = ENDPOINTS[endpoint]
        scopes = KEYS[key_name]
        allowed = scopes is None or scope in scopes
        response = _call(client, endpoint, keys[key_name], journey["publicKey"], n)
        assert response.status_code == (success if allowed else 403), (endpoint, key_name)
        if allowed:
            continue
        body = response.get_json()
        if endpoint == "events api":
            assert body == {
                "error": {
                    "code": "insufficient_scope",
                    "message": "This API key does not have the 'ingest' scope",
                    "field": None,
                }
            }
        else:
            assert body == {"error": f"This API key does not have the {scope!r} scope"}


@pytest.mark.parametrize("key_name", list(KEYS))
def test_the_dashboard_signs_in_keys_with_the_read_scope_only(app, journey, keys, key_name):
    client = app.test_client()
    response = _sign_in(client, keys[key_name])
    scopes = KEYS[key_name]
    if scopes is None or "read" in scopes:
        assert response.status_code == 303
        assert client.get(f"/journey/{ORG}/{JOURNEY}/").status_code == 200
    else:
        assert response.status_code == 403
        page = response.get_data(as_text=True)
        assert "That key cannot read reports" in page and 'name="key"' in page
        assert client.get(f"/journey/{ORG}/{JOURNEY}/").status_code == 403


def test_a_scope_refusal_is_logged_with_its_reason(client, journey, keys, caplog):
    _call(client, "events api", keys["read"], journey["publicKey"], 0)
    assert "format=events_api reason=scope" in caplog.text
    assert keys["read"] not in caplog.text


def test_the_management_api_creates_a_key_with_scopes_and_shows_it_once(client, keys):
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    made = client.post("/api/keys", json={"scopes": ["ingest", "ingest"]}, headers=admin)
    assert made.status_code == 201
    body = made.get_json()
    assert body["key"].startswith(f"sk_{body['lookup']}_") and body["scopes"] == ["ingest"]
    ingest = {"Authorization": f"Bearer {body['key']}"}
    assert client.get("/api/journeys", headers=ingest).status_code == 403
    for bad in ({"scopes": []}, {"scopes": ["everything"]}, {"scopes": "read"}, {}):
        refused = client.post("/api/keys", json=bad, headers=admin)
        assert refused.status_code == 400, bad
        assert refused.get_json()["error"].startswith("Invalid request: scopes")


def test_keys_are_made_with_scopes_and_listed_with_them(app, cli, journey):
    narrow = cli("create-key", ORG, "--scope", "ingest").split()[-1]
    both = cli("create-key", ORG, "--scope", "read", "--scope", "ingest").split()[-1]
    full = cli("create-key", ORG).split()[-1]
    with app.app_context():
        old = api.create_key(ORG)
        ApiKey.update(scopes=None).where(ApiKey.lookup == old.split("_")[1]).execute()
        assert [k.scope_list() for k in api.list_keys(ORG)] == [
            ("ingest",),
            ("ingest", "read"),
            ("ingest", "read", "admin"),
            None,
        ]
        with pytest.raises(api.TenantError, match="choose one or more of ingest, read, admin"):
            api.create_key(ORG, scopes=("owner",))
        with pytest.raises(api.TenantError, match="choose one or more"):
            api.create_key(ORG, scopes=())
    listed = cli("keys", ORG).splitlines()
    assert [line.split("  scopes: ")[1] for line in listed] == [
        "ingest  active",
        "ingest, read  active",
        "ingest, read, admin  active",
        "all (created before scopes)  active",
    ]
    assert all(secret not in "\n".join(listed) for secret in (narrow, both, full, old))
    refused = app.test_cli_runner().invoke(args=["journey", "create-key", ORG, "--scope", "x"])
    assert refused.exit_code == 2 and "'x' is not one of" in refused.output


def test_the_openapi_description_names_each_operations_scope_and_its_403(client):
    description = client.get("/api/openapi.json").get_json()
    paths = description["paths"]
    for _, path, _, scope, _ in ENDPOINTS.values():
        described = path.replace(JOURNEY, "{journeyKey}")
        for method, operation in paths[described].items():
            if "security" not in operation:
                continue
            assert f"with the {scope} scope" in operation["description"], (method, path)
            assert f"without the {scope} scope" in operation["responses"]["403"]["description"]
    codes = description["components"]["schemas"]["EventsApiErrorDetail"]["properties"]["code"]
    assert "insufficient_scope" in codes["enum"]

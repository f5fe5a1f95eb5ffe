"""POST /collect/{aid}/{tid}/event (seed 002): one event, an empty response, the instance id."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from flask_journey.models import Event

from .helpers import ORG, ORIGIN

# The seed's body parameters, with the examples of its table.
SEED_EVENT = {
    "action": "view",
    "object": "form",
    "vendor": "Vendor A",
    "product": "Product 1",
    "instance_id": "abc123",
}
DOCS = Path(__file__).resolve().parent.parent / "docs"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
REQUIRED = ("action", "object", "vendor", "product", "instance_id")


def path(journey, aid=None, tid=None) -> str:
    aid = journey["accountId"] if aid is None else aid
    tid = journey["trackerId"] if tid is None else tid
    return f"/collect/{aid}/{tid}/event"


class TestSeedExample:
    def test_seed_event_gets_an_empty_response_and_is_exported(self, client, journey, exported):
        response = client.post(path(journey), json=SEED_EVENT)

        assert response.status_code == 204
        assert response.data == b""
        [stored] = exported()
        assert stored["wire_format"] == "collect"
        assert stored["type"] == "collect"
        assert stored["name"] == "view"
        assert stored["instance_id"] == "abc123"
        assert stored["source"] == "server"
        assert stored["properties"] == {
            "object": "form",
            "vendor": "Vendor A",
            "product": "Product 1",
        }
        assert stored["event_id"].startswith("evt_")

    def test_event_from_a_browser_is_marked_as_such(self, client, journey, exported):
        headers = {
            "Origin": ORIGIN,
            "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
            "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        }

        response = client.post(path(journey), json=SEED_EVENT, headers=headers)

        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        [stored] = exported()
        assert stored["source"] == "browser"
        assert stored["device_class"] == "mobile"
        assert stored["os"] == "iOS"

    def test_other_fields_of_the_event_are_kept_as_properties(self, client, journey, exported):
        event = {**SEED_EVENT, "channel": "chat", "lead": {"score": 7, "tags": ["new"]}}

        client.post(path(journey), json=event)

        assert exported()[0]["properties"] == {
            "object": "form",
            "vendor": "Vendor A",
            "product": "Product 1",
            "channel": "chat",
            "lead": {"score": 7, "tags": ["new"]},
        }

    def test_personal_and_sensitive_fields_are_not_kept(self, client, journey, exported, cli):
        event = {
            **SEED_EVENT,
            "email": "jane@example.com",
            "phone": "+1 555 0100",
            "lead": {"name": "Jane Doe", "password": "hunter2", "score": 7},
        }

        client.post(path(journey), json=event)

        assert exported()[0]["properties"]["lead"] == {"score": 7}
        output = cli("export")
        for value in ("jane@example.com", "555 0100", "Jane Doe", "hunter2"):
            assert value not in output

    def test_server_events_join_web_events_by_instance_id(self, client, journey):
        client.post(
            path(journey), json={**SEED_EVENT, "action": "start"}, headers={"Origin": ORIGIN}
        )
        client.post(path(journey), json={**SEED_EVENT, "action": "lead", "object": "chat"})
        client.post(
            path(journey), json={**SEED_EVENT, "instance_id": "other"}, headers={"Origin": ORIGIN}
        )

        web = Event.alias()
        joined = (
            Event.select(Event.name, web.name.alias("web_name"))
            .join(web, on=(web.journey == Event.journey) & (web.instance_id == Event.instance_id))
            .where(Event.source == "server", web.source == "browser")
            .dicts()
        )
        assert list(joined) == [{"name": "lead", "web_name": "start"}]


class TestErrors:
    @pytest.mark.parametrize("missing", REQUIRED)
    def test_an_event_missing_a_required_field_is_not_tracked(
        self, client, journey, exported, missing
    ):
        event = {k: v for k, v in SEED_EVENT.items() if k != missing}

        response = client.post(path(journey), json=event)

        assert response.status_code == 400
        assert response.get_json() == {"error": f"{missing} is required"}
        assert exported() == []

    @pytest.mark.parametrize(
        "field, value, message",
        [
            ("action", "", "action must be 1 to 128 characters"),
            ("action", 5, "action must be a string"),
            ("instance_id", None, "instance_id is required"),
            ("instance_id", "x" * 129, "instance_id must be 1 to 128 characters"),
        ],
    )
    def test_an_invalid_required_field_is_not_tracked(
        self, client, journey, exported, field, value, message
    ):
        response = client.post(path(journey), json={**SEED_EVENT, field: value})

        assert response.status_code == 400
        assert response.get_json() == {"error": message}
        assert exported() == []

    @pytest.mark.parametrize(
        "aid, tid, message",
        [
            (999, None, "Organization not found"),
            (None, 999, "Journey not found"),
            ("abc", None, "Organization not found"),
            (None, "3f2b-uuid", "Journey not found"),
            ("9" * 40, None, "Organization not found"),
            (0, None, "Organization not found"),
            ("00000000-0000-0000-0000-000000000000", None, "Organization not found"),
            (str(uuid.UUID(int=10**18)), None, "Organization not found"),
            (None, str(uuid.UUID(int=999)), "Journey not found"),
            (None, "{00000000-0000-0000-0000-000000000001}", "Journey not found"),
        ],
    )
    def test_unknown_ids_are_not_tracked(self, client, journey, exported, aid, tid, message):
        response = client.post(path(journey, aid, tid), json=SEED_EVENT)

        assert response.status_code == 404
        assert response.get_json() == {"error": message}
        assert exported() == []

    def test_ids_written_as_uuids_name_the_same_journey(self, client, journey, exported):
        # Seed 002: aid and tid are a "number/uuid"; the UUID of an id is the one whose
        # integer it is.
        aid, tid = (str(uuid.UUID(int=journey[key])) for key in ("accountId", "trackerId"))

        response = client.post(path(journey, aid.upper(), tid), json=SEED_EVENT)

        assert response.status_code == 204
        assert [e["instance_id"] for e in exported()] == ["abc123"]

    def test_a_journey_of_another_organization_is_not_found(self, client, cli, journey, exported):
        cli("create-org", "other-org")
        other = json.loads(cli("create-journey", "other-org", "other"))

        response = client.post(path(journey, tid=other["trackerId"]), json=SEED_EVENT)

        assert response.status_code == 404
        assert exported() == []

    @pytest.mark.parametrize(
        "body",
        [
            "[]",
            '"event"',
            "{",
            '{"action": "view", "object": "form", "vendor": "v", "product": "p", '
            '"instance_id": "i", "x": NaN}',
            '{"action": "view", "object": "form", "vendor": "v", "product": "p", '
            '"instance_id": "i", "x": ' + '{"a":' * 50 + "1" + "}" * 50 + "}",
            '{"action": "view", "object": "form", "vendor": "v", "product": "p", '
            '"instance_id": "i", "' + "k" * 200 + '": 1}',
            '{"action": ["view"], "object": {}, "vendor": 1, "product": true, "instance_id": 2}',
        ],
    )
    def test_hostile_bodies_are_refused_without_a_server_error(
        self, client, journey, exported, body
    ):
        response = client.post(path(journey), data=body, content_type="application/json")

        assert response.status_code == 400
        assert "error" in response.get_json()
        assert exported() == []


class TestSharedBehaviour:
    def test_a_retry_with_the_same_idempotency_key_is_stored_once(self, client, journey, exported):
        headers = {"Idempotency-Key": "lead-7"}

        first = client.post(path(journey), json=SEED_EVENT, headers=headers)
        second = client.post(path(journey), json=SEED_EVENT, headers=headers)

        assert first.status_code == second.status_code == 204
        assert len(exported()) == 1

    def test_events_without_a_key_get_their_own_ids(self, client, journey, exported):
        client.post(path(journey), json=SEED_EVENT)
        client.post(path(journey), json=SEED_EVENT)

        first, second = exported()
        assert first["event_id"] != second["event_id"]

    def test_an_unlisted_origin_is_403_and_nothing_is_stored(self, client, journey, exported):
        response = client.post(
            path(journey), json=SEED_EVENT, headers={"Origin": "https://evil.example"}
        )

        assert response.status_code == 403
        assert response.get_json() == {
            "error": "Origin https://evil.example is not allowed for this journey"
        }
        assert exported() == []

    def test_the_rate_limit_answers_429_with_retry_after(self, client, cli, journey, exported):
        cli("set-org", ORG, "--rate-limit", "1 per hour")

        first = client.post(path(journey), json=SEED_EVENT, headers={"Origin": ORIGIN})
        second = client.post(path(journey), json=SEED_EVENT, headers={"Origin": ORIGIN})

        assert first.status_code == 204
        assert second.status_code == 429
        assert int(second.headers["Retry-After"]) > 0
        assert second.get_json() == {"error": "Rate limit exceeded for organization"}
        assert len(exported()) == 1

    def test_past_the_quota_nothing_is_stored(self, client, cli, journey, exported):
        cli("set-org", ORG, "--quota", "0")

        response = client.post(path(journey), json=SEED_EVENT)

        assert response.status_code == 429
        assert response.get_json() == {"error": "Monthly event quota exceeded for organization"}
        assert exported() == []

    def test_body_over_the_limit_is_413(self, make_app, journey):
        app = make_app(JOURNEY_MAX_BODY_BYTES=256)

        response = app.test_client().post(path(journey), json={**SEED_EVENT, "x": "y" * 300})

        assert response.status_code == 413
        assert "error" in response.get_json()

    def test_the_format_can_be_switched_off(self, make_app, journey):
        app = make_app(JOURNEY_FORMATS=["journey", "typed"])

        assert app.test_client().post(path(journey), json=SEED_EVENT).status_code == 404

    def test_a_cors_preflight_is_answered(self, client, journey):
        response = client.options(
            path(journey),
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Content-Type, Idempotency-Key",
            },
        )

        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert "idempotency-key" in allowed


class TestTheDocumentedJoin:
    def test_the_join_query_of_the_docs_returns_every_column_it_selects(self, app, client, journey):
        # docs/formats/collect.md: "Joining server events to web sessions", as written there.
        text = (DOCS / "formats" / "collect.md").read_text(encoding="utf-8")
        sql = re.search(r"```sql\n(.*?)```", text, re.DOTALL)
        assert sql is not None
        headers = {"Origin": ORIGIN, "User-Agent": IPHONE}
        assert client.post(path(journey), json=SEED_EVENT, headers=headers).status_code == 204
        lead = {**SEED_EVENT, "action": "lead"}
        assert client.post(path(journey), json=lead).status_code == 204

        cursor = app.extensions["journey"].database.execute_sql(sql.group(1))
        rows = cursor.fetchall()

        columns = [d[0] for d in cursor.description]
        assert len(rows) == 1
        assert dict(zip(columns, rows[0], strict=True)) == {
            "server_action": "lead",
            "occurred_at": rows[0][1],
            "web_action": "view",
            "web_at": rows[0][3],
            "device_class": "mobile",
            "browser": "Mobile Safari",
        }
        assert all(value is not None for value in rows[0])

"""The example app served for real (werkzeug on a loopback port) accepts events from its origin."""

from __future__ import annotations

import http.client
import json

from .live import JOURNEY, ORG, serve_demo


def test_the_served_demo_accepts_events_from_its_own_origin(tmp_path):
    with serve_demo(tmp_path) as live:
        batch = {
            "schemaVersion": 1,
            "context": {"orgKey": ORG, "journeyKey": JOURNEY},
            "events": [
                {
                    "_tag": "page_view",
                    "schemaVersion": 1,
                    "id": "e1",
                    "ts": "2024-01-15T10:30:00.000Z",
                    "orgKey": ORG,
                    "journeyKey": JOURNEY,
                    "sessionId": "s1",
                    "clientId": "c1",
                    "url": live.url("/"),
                }
            ],
        }
        connection = http.client.HTTPConnection("127.0.0.1", int(live.origin.rsplit(":", 1)[1]))
        connection.request(
            "POST",
            "/api/ingest",
            json.dumps(batch),
            {"Content-Type": "text/plain", "Origin": live.origin},
        )
        assert connection.getresponse().status == 204
        connection.close()
        assert [e["event_id"] for e in live.events()] == ["e1"]
        assert len(live.bodies) == 1

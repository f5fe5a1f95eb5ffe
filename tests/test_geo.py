"""The visitor's country: looked up from an address at ingest, stored as an ISO code only, a
segment of the reports; the address itself is found nowhere afterwards."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

import pytest
from flask import Flask
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_journey import Journey, api
from flask_journey.geo import MmdbLookup, country, registry_lookup
from flask_journey.migrations import TABLES

from .helpers import JOURNEY, ORG, ORIGIN, SEED_HEADERS, batch, event

#: Public addresses and the countries the registries give them.
GOOGLE_DNS, IN_JAPAN = "8.8.8.8", "1.0.16.1"
PAGEVIEW = "/api/v1/events/pageview"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _seed_000(client, n: int, address: str, headers: dict[str, str] = SEED_HEADERS) -> None:
    """One session's page view, sent by a browser at ``address`` (or, without Origin, a server)."""
    body = batch(event("page_view", n, sessionId=f"sess_{n}", ts=_now()))
    response = client.post(
        "/api/ingest", json=body, headers=headers, environ_base={"REMOTE_ADDR": address}
    )
    assert response.status_code == 204, response.get_data(as_text=True)


def _events_api(client, api_key: str, site: str, address: str | None) -> None:
    body: dict[str, Any] = {"site_id": site, "url": "https://grants.example.com/apply"}
    if address is not None:
        body["ip_address"] = address
    response = client.post(PAGEVIEW, json=body, headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 201, response.get_data(as_text=True)


def _database_text(app) -> str:
    """Every row of every flask-journey table, as text."""
    database = app.extensions["journey"].database
    rows = []
    for model in TABLES:
        cursor = database.execute_sql(f"SELECT * FROM {model._meta.table_name}")
        rows.extend(cursor.fetchall())
    return repr(rows)


def _mmdb(path, database_type: str, networks: dict[str, str]) -> str:
    """A country MMDB file, in the shape DB-IP's and MaxMind's country databases have."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type)
    for network, code in networks.items():
        writer.insert_network(IPSet([network]), {"country": {"iso_code": code}})
    writer.to_db_file(str(path))
    return str(path)


# -- the lookup ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, expected",
    [
        (GOOGLE_DNS, "US"),
        (IN_JAPAN, "JP"),
        ("2001:4860:4860::8888", "US"),
        ("::ffff:1.0.16.1", "JP"),  # an IPv4 client of a dual-stack socket
        (" 8.8.8.8 ", "US"),
        ("127.0.0.1", None),
        ("10.1.2.3", None),
        ("192.168.0.1", None),
        ("203.0.113.42", None),  # documentation range (the seed's example)
        ("::1", None),
        ("8.8.8", None),
        ("not an address", None),
        ("", None),
        (None, None),
    ],
)
def test_the_built_in_lookup_gives_public_addresses_their_country(address, expected):
    assert country(address, registry_lookup) == expected


def test_no_lookup_or_an_odd_answer_gives_no_country():
    assert country(GOOGLE_DNS, None) is None
    assert country(GOOGLE_DNS, lambda address: "us") == "US"
    assert country(GOOGLE_DNS, lambda address: "USA") is None
    assert country(GOOGLE_DNS, lambda address: 42) is None


def test_a_lookup_that_fails_costs_the_country_not_the_event():
    def broken(address: str) -> str:
        raise RuntimeError("the MMDB file is damaged")

    assert country(GOOGLE_DNS, broken) is None


@pytest.mark.parametrize(
    "database_type, text, url",
    [
        ("DBIP-Country-Lite", "IP geolocation by DB-IP", "https://db-ip.com"),
        (
            "GeoLite2-Country",
            "This product includes GeoLite2 data created by MaxMind",
            "https://www.maxmind.com",
        ),
        ("GeoIP2-Country", None, None),  # a commercial database: no attribution asked
    ],
)
def test_an_mmdb_file_is_read_with_the_attribution_its_licence_asks(
    tmp_path, database_type, text, url
):
    path = _mmdb(tmp_path / "country.mmdb", database_type, {"8.8.8.0/24": "DE"})

    lookup = MmdbLookup(path)

    assert country(GOOGLE_DNS, lookup) == "DE"
    assert country(IN_JAPAN, lookup) is None
    if text is None:
        assert lookup.attribution is None
    else:
        assert lookup.attribution is not None
        assert lookup.attribution.text.startswith(text)
        assert lookup.attribution.url == url


def test_a_database_that_cannot_be_read_stops_the_app_naming_the_setting(tmp_path):
    app = Flask("site", instance_path=str(tmp_path))
    app.config["JOURNEY_GEOIP_DATABASE"] = str(tmp_path / "missing.mmdb")

    with pytest.raises(ValueError, match="^JOURNEY_GEOIP_DATABASE cannot read"):
        Journey(app)


# -- over HTTP, into storage and the reports -------------------------------------------------


def test_countries_are_stored_from_the_events_api_ip_address_and_a_browsers_address(
    app, client, journey, api_key, exported
):
    _events_api(client, api_key, journey["publicKey"], GOOGLE_DNS)
    _seed_000(client, 1, IN_JAPAN)
    # A server's own request: its address is the server's, not a visitor's.
    _seed_000(client, 2, GOOGLE_DNS, headers={"Content-Type": "application/json"})
    _events_api(client, api_key, journey["publicKey"], None)

    assert [(e["wire_format"], e["country"]) for e in exported()] == [
        ("events_api", "US"),
        ("journey", "JP"),
        ("journey", None),
        ("events_api", None),
    ]


def _each_format(client, journey, environ: dict[str, str]) -> None:
    """A browser's seed-001, 002 and 004 events, and a server's seed-001 event."""
    typed = {
        "visitorId": "visitor-1",
        "source": "client",
        "events": [{"type": "pageview", "url": f"{ORIGIN}/apply", "path": "/apply"}],
    }
    server = {
        "source": "server",
        "events": [
            {
                "type": "custom",
                "eventName": "lead",
                "url": f"{ORIGIN}/apply",
                "path": "/apply",
                "properties": {"__userId": "usr_1"},
            }
        ],
    }
    collect = {
        "action": "view",
        "object": "form",
        "vendor": "v",
        "product": "p",
        "instance_id": "i",
    }
    project = {"projectKey": journey["publicKey"], "event_name": "Click", "url": f"{ORIGIN}/"}
    typed_path = f"/api/i/v1/{journey['publicKey']}/events"
    collect_path = f"/collect/{journey['accountId']}/{journey['trackerId']}/event"
    for path, body, headers in (
        (typed_path, typed, SEED_HEADERS),
        (collect_path, collect, SEED_HEADERS),
        ("/api/events", project, SEED_HEADERS),
        (typed_path, server, {"Content-Type": "application/json"}),
    ):
        response = client.post(path, json=body, headers=headers, environ_base=environ)
        assert response.status_code < 300, response.get_data(as_text=True)


def test_each_browser_format_takes_the_country_of_the_clients_address(client, journey, exported):
    _each_format(client, journey, {"REMOTE_ADDR": IN_JAPAN})
    # The test client's own address, 127.0.0.1, has no country.
    _each_format(client, journey, {})

    assert [(e["wire_format"], e["source"], e["country"]) for e in exported()] == [
        ("typed", "client", "JP"),
        ("collect", "browser", "JP"),
        ("project", None, "JP"),
        # A server's request carries the server's address, not the visitor's.
        ("typed", "server", None),
        ("typed", "client", None),
        ("collect", "browser", None),
        ("project", None, None),
        ("typed", "server", None),
    ]


@pytest.mark.parametrize("trusted, country", [(True, "JP"), (False, None)])
def test_behind_a_trusted_proxy_the_forwarded_address_gives_the_country(
    app, client, journey, exported, trusted, country
):
    # docs/deployment.md: ProxyFix with one hop; without it X-Forwarded-For is anyone's to forge.
    if trusted:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)
    headers = {**SEED_HEADERS, "X-Forwarded-For": IN_JAPAN}

    _seed_000(client, 1, "127.0.0.1", headers=headers)

    assert [e["country"] for e in exported()] == [country]


def test_the_country_is_a_segment_of_the_report_and_the_address_is_kept_nowhere(
    app, client, journey, api_key, caplog
):
    caplog.set_level(logging.DEBUG)
    for n in range(3):
        _seed_000(client, n, IN_JAPAN)
    _seed_000(client, 3, GOOGLE_DNS)
    _seed_000(client, 4, "192.168.1.20")
    _events_api(client, api_key, journey["publicKey"], GOOGLE_DNS)
    # Refused requests are logged: the address they carried is not.
    refused = client.post(
        PAGEVIEW,
        json={"site_id": journey["publicKey"], "ip_address": GOOGLE_DNS},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert refused.status_code == 400
    wrong_origin = {**SEED_HEADERS, "Origin": "https://evil.example"}
    assert (
        client.post(
            "/api/ingest",
            json=batch(event(ts=_now())),
            headers=wrong_origin,
            environ_base={"REMOTE_ADDR": IN_JAPAN},
        ).status_code
        == 403
    )

    with app.app_context():
        report = api.report(ORG, JOURNEY, compare=False)
        japan = api.report(ORG, JOURNEY, filters={"country": "JP"}, compare=False)
        by_country = api.report(ORG, JOURNEY, breakdown="country", compare=False)

    assert report["segments"]["country"] == {"JP": 3, "(none)": 1, "US": 1}
    assert japan["totals"]["sessions"] == 3
    assert [(g["value"], g["totals"]["sessions"]) for g in by_country["breakdownValues"]] == [
        ("JP", 3),
        ("(none)", 1),
        ("US", 1),
    ]
    stored = _database_text(app)
    assert "'JP'" in stored and "'US'" in stored
    for address in (GOOGLE_DNS, IN_JAPAN, "192.168.1.20"):
        assert address not in stored
        assert address not in caplog.text
    assert caplog.records  # the refusals were logged


def test_the_report_api_and_the_cli_filter_and_break_down_by_country(client, journey, api_key, cli):
    for n, address in enumerate((IN_JAPAN, IN_JAPAN, GOOGLE_DNS)):
        _seed_000(client, n, address)

    answer = client.get(
        f"/api/journeys/{JOURNEY}/report?country=JP&breakdown=country",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert answer.status_code == 200
    assert answer.json["totals"]["sessions"] == 2
    assert answer.json["filters"] == {"country": "JP"}

    us = json.loads(cli("report", ORG, JOURNEY, "--country", "US", "--format", "json"))
    assert us["totals"]["sessions"] == 1
    by_country = json.loads(cli("report", ORG, JOURNEY, "--by", "country", "--format", "json"))
    assert [g["value"] for g in by_country["breakdownValues"]] == ["JP", "US"]


def test_geoip_off_stores_no_country(make_app, cli, journey, api_key):
    app = make_app(JOURNEY_GEOIP=False)
    client = app.test_client()

    _seed_000(client, 1, IN_JAPAN)
    _events_api(client, api_key, journey["publicKey"], GOOGLE_DNS)

    assert '"country":"' not in cli("export")


def test_an_mmdb_database_is_used_and_the_dashboard_credits_it(make_app, cli, journey, tmp_path):
    path = _mmdb(tmp_path / "dbip.mmdb", "DBIP-Country-Lite", {"1.0.16.0/24": "KR"})
    app = make_app(
        JOURNEY_GEOIP_DATABASE=path, SECRET_KEY="geo-test-secret", JOURNEY_REPORT_MAX_STALENESS=0
    )
    client = app.test_client()
    key = cli("create-key", ORG).split()[-1]

    _seed_000(client, 1, IN_JAPAN)

    assert [e["country"] for e in _exported(cli)] == ["KR"]
    page = _dashboard_page(client, key, "?breakdown=country")
    assert '<a href="https://db-ip.com">IP geolocation by DB-IP</a>' in page
    assert "South Korea (KR)" in page


def test_the_dashboard_shows_country_names_and_no_attribution_for_the_built_in_data(
    make_app, cli, journey
):
    app = make_app(SECRET_KEY="geo-test-secret", JOURNEY_REPORT_MAX_STALENESS=0)
    client = app.test_client()
    key = cli("create-key", ORG).split()[-1]
    _seed_000(client, 1, IN_JAPAN)
    _seed_000(client, 2, GOOGLE_DNS)

    page = _dashboard_page(client, key, "?breakdown=country&country=JP")

    assert '<option value="JP" selected>Japan (JP) (1)</option>' in page
    assert "Japan (JP)" in page.split('id="breakdown-table"')[1]
    assert "geo-attribution" not in page


def _exported(cli) -> list[dict[str, Any]]:
    return [json.loads(line) for line in cli("export").splitlines()]


def _dashboard_page(client, key: str, query: str) -> str:
    form = client.get("/journey/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    client.post("/journey/sign-in", data={"csrf_token": token.group(1), "key": key})
    response = client.get(f"/journey/{ORG}/{JOURNEY}/{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)

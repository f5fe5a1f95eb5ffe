"""The dashboard through Flask's test client: access, sign-in, the pages' numbers against the
report API, downloads, share links, headers, and the demo-data command that fills it."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from flask import Flask, request

from flask_journey import Journey
from flask_journey.models import ShareLink

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, post

PAGE = f"/journey/{ORG}/{JOURNEY}/"


@pytest.fixture
def config() -> dict[str, Any]:
    return {"SECRET_KEY": "dashboard-test-secret", "JOURNEY_REPORT_MAX_STALENESS": 0}


@pytest.fixture
def key(cli) -> str:
    cli("create-org", ORG)
    cli("create-journey", ORG, JOURNEY, "--allowed-origin", ORIGIN)
    cli("set-steps", ORG, JOURNEY, "about-you", "contact", "payment", "done")
    return cli("create-key", ORG).strip().split()[-1]


@pytest.fixture
def filled(cli, key) -> str:
    cli("demo-data", ORG, JOURNEY, "--sessions", "120", "--days", "20")
    return key


def _match(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    found = re.search(pattern, text, flags)
    assert found is not None, f"{pattern!r} is not on the page"
    return found


def _csrf(client, path: str = "/journey/sign-in") -> str:
    page = client.get(path).get_data(as_text=True)
    return _match(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _sign_in(client, key: str):
    return client.post("/journey/sign-in", data={"csrf_token": _csrf(client), "key": key})


def _api(client, key: str, query: str = "") -> Any:
    response = client.get(
        f"/api/journeys/{JOURNEY}/report{query}", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200
    return response


def _fields(page: str) -> list[str]:
    table = _match(r'<table class="data" id="fields-table">.*?</table>', page, re.S).group(0)
    return re.findall(r'<tr id="field-[0-9a-f]+">\s*<th scope="row"><bdi>([^<]+)</bdi></th>', table)


def _headline(page: str, name: str) -> str:
    card = _match(rf'id="headline-{name}".*?<span class="value">([^<]*)</span>', page, re.S)
    return card.group(1)


def test_the_dashboard_is_denied_by_default(client, key):
    assert client.get(PAGE).status_code == 403
    assert client.get(f"/journey/{ORG}/").status_code == 403
    assert client.get("/journey/").location == "/journey/sign-in"
    # An unknown organization looks the same as one that is not yours.
    assert client.get("/journey/nobody/").status_code == 403


def test_a_secret_key_signs_in_with_a_signed_httponly_samesite_cookie(client, key):
    response = _sign_in(client, key)
    assert response.status_code == 303
    assert response.location == f"/journey/{ORG}/"
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("journey_dashboard=")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/journey" in cookie
    assert key not in cookie and key.split("_")[2] not in cookie
    page = client.get(f"/journey/{ORG}/").get_data(as_text=True)
    assert f'href="/journey/{ORG}/{JOURNEY}/?range=30"' in page
    assert client.get(PAGE).status_code == 200


def test_signing_in_needs_the_csrf_token_and_a_valid_key(client, key):
    client.get("/journey/sign-in")
    no_token = client.post("/journey/sign-in", data={"key": key})
    assert no_token.status_code == 400
    assert "The form expired" in no_token.get_data(as_text=True)
    wrong = client.post(
        "/journey/sign-in", data={"csrf_token": _csrf(client), "key": key[:-2] + "xx"}
    )
    assert wrong.status_code == 401
    assert "not an active secret key" in wrong.get_data(as_text=True)
    assert client.get(PAGE).status_code == 403


def test_failed_sign_ins_are_rate_limited(make_app, key):
    client = make_app(JOURNEY_DASHBOARD_SIGNIN_LIMIT="3 per minute").test_client()
    for _ in range(3):
        assert (
            client.post(
                "/journey/sign-in",
                data={"csrf_token": _csrf(client), "key": "sk_000000000000_wrong"},
            ).status_code
            == 401
        )
    limited = client.post("/journey/sign-in", data={"csrf_token": _csrf(client), "key": key})
    assert limited.status_code == 429
    assert "Too many failed attempts" in limited.get_data(as_text=True)


def test_sign_out_and_a_revoked_key_end_the_sign_in(client, cli, key):
    _sign_in(client, key)
    assert client.get(PAGE).status_code == 200
    token = _csrf(client, PAGE)
    assert client.post("/journey/sign-out", data={"csrf_token": token}).status_code == 303
    assert client.get(PAGE).status_code == 403
    _sign_in(client, key)
    cli("revoke-key", ORG, key.split("_")[1])
    assert client.get(PAGE).status_code == 403


def test_the_access_hook_decides_for_the_host(tmp_path, database_url, config, key):
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config.update(TESTING=True, JOURNEY_DATABASE_URL=database_url, **config)
    journey = Journey(app)

    @journey.dashboard_access
    def staff_only(org) -> bool:
        return request.headers.get("X-Staff") == org.slug

    client = app.test_client()
    assert client.get(PAGE, headers={"X-Staff": ORG}).status_code == 200
    assert client.get(PAGE, headers={"X-Staff": "other"}).status_code == 403
    assert client.get(PAGE).status_code == 403
    assert client.get("/journey/", headers={"X-Staff": ORG}).location == f"/journey/{ORG}/"


def test_every_response_has_a_strict_csp_and_journey_pages_name_their_frame_ancestors(
    client, filled
):
    for path in ("/journey/sign-in", "/journey/static/dashboard.css", PAGE):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert csp.startswith("default-src 'self';")
        assert "frame-ancestors 'none'" in csp
        assert response.headers["Referrer-Policy"] == "no-referrer"
        response.close()
    _sign_in(client, filled)
    csp = client.get(PAGE).headers["Content-Security-Policy"]
    assert f"frame-ancestors {ORIGIN}" in csp
    assert (
        "frame-ancestors 'none'"
        in client.get(f"/journey/{ORG}/").headers["Content-Security-Policy"]
    )


def test_pages_have_no_inline_script_or_style(client, filled):
    _sign_in(client, filled)
    for path in (f"/journey/{ORG}/", PAGE + "?breakdown=device", "/journey/sign-in"):
        page = client.get(path).get_data(as_text=True)
        assert "<script" not in page
        assert "<style" not in page
        assert not re.search(r"\sstyle=", page)
        assert not re.search(r"\son[a-z]+=", page)
        assert not re.search(r"(src|href)=\"(https?:)?//", page)


def test_the_journey_page_shows_the_report_and_filters_change_it(client, filled):
    _sign_in(client, filled)
    everyone = _api(client, filled, "?compare=true").json
    page = client.get(PAGE).get_data(as_text=True)
    assert _headline(page, "sessions") == str(everyone["totals"]["sessions"])
    assert _headline(page, "completions") == str(everyone["totals"]["completions"])
    first = everyone["steps"][0]
    assert re.search(
        rf"<th scope=\"row\"><bdi>{first['stepKey']}</bdi></th><td class=\"num\">"
        rf"{first['sessions']}</td>",
        page,
    )

    mobile = _api(client, filled, "?device=mobile").json
    assert 0 < mobile["totals"]["sessions"] < everyone["totals"]["sessions"]
    page = client.get(PAGE + "?device=mobile").get_data(as_text=True)
    assert _headline(page, "sessions") == str(mobile["totals"]["sessions"])
    assert '<option value="mobile" selected>' in page

    week = _api(client, filled, f"?from={_days_ago(6)}&to={_days_ago(0)}").json
    page = client.get(PAGE + "?range=7").get_data(as_text=True)
    assert _headline(page, "sessions") == str(week["totals"]["sessions"])
    assert week["totals"]["sessions"] < everyone["totals"]["sessions"]


def _days_ago(days: int) -> str:
    import datetime as dt

    return (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=days)).isoformat()


def test_compare_on_shows_the_previous_period_and_off_hides_it(client, filled):
    _sign_in(client, filled)
    on = client.get(PAGE + "?compare=on").get_data(as_text=True)
    off = client.get(PAGE + "?compare=off").get_data(as_text=True)
    assert 'class="previous"' in on and "Change" not in off
    assert 'class="previous"' not in off


def test_downloads_are_the_report_api_with_the_pages_filters(client, filled):
    _sign_in(client, filled)
    query = f"?range=custom&from={_days_ago(13)}&to={_days_ago(0)}&device=desktop&breakdown=os"
    response = client.get(PAGE + query)
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    link = re.search(r'href="(/journey/[^"]+/report\.csv\?[^"]*table=fields[^"]*)"', page).group(1)
    link = link.replace("&amp;", "&")
    download = client.get(link)
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    api_query = link.split("?", 1)[1]
    assert download.get_data(as_text=True) == _api(
        client, filled, f"?format=csv&{api_query}"
    ).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert rows and {"fieldKey", "abandons"} <= set(rows[0])

    json_link = re.search(r'href="(/journey/[^"]+/report\.json\?[^"]*)"', page).group(1)
    mine = client.get(json_link.replace("&amp;", "&")).json
    theirs = _api(client, filled, "?" + json_link.split("?", 1)[1].replace("&amp;", "&")).json
    # Equal but for when the summaries were refreshed (JOURNEY_REPORT_MAX_STALENESS is 0 here).
    assert {**mine, "refreshedAt": None} == {**theirs, "refreshedAt": None}
    assert mine["filters"] == {"device": "desktop"} and mine["breakdown"] == "os"


def test_a_dashboard_view_is_a_function_that_answers_in_a_request_context(app, cli, filled):
    from flask_journey.dashboard.views import shared_download

    token = cli("share", ORG, JOURNEY).strip().split("/")[-2]
    path = f"/journey/share/{token}/report.csv?table=steps"

    with app.test_request_context(path):
        response = shared_download(token, "csv")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].endswith('-steps.csv"')
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{ORG}-')
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["stepKey"] for row in rows] == ["about-you", "contact", "payment", "done"]


def test_field_table_is_worst_first_and_sortable_by_url(client, filled):
    _sign_in(client, filled)
    page = client.get(PAGE).get_data(as_text=True)
    report = _api(client, filled).json
    fields = _fields(page)
    worst = max(report["fields"], key=lambda f: (f["abandons"], f["errorRate"] or 0))
    assert fields[0] == worst["fieldKey"]
    by_name = client.get(PAGE + "?sort=fieldKey&dir=asc").get_data(as_text=True)
    names = _fields(by_name)
    assert names == sorted(f["fieldKey"] for f in report["fields"])
    assert 'aria-sort="ascending"' in by_name


def test_errors_a_person_can_act_on(client, key):
    _sign_in(client, key)
    empty = client.get(PAGE).get_data(as_text=True)
    assert "No data yet" in empty
    assert ORIGIN in empty and "data-journey-step" in empty and "journey_embed" in empty
    unknown = client.get(f"/journey/{ORG}/no-such-journey/")
    assert unknown.status_code == 404
    assert "No journey" in unknown.get_data(as_text=True)
    bad = client.get(PAGE + "?range=custom&from=2024-02-10&to=2024-02-01")
    assert bad.status_code == 400
    assert "to must not be before from" in bad.get_data(as_text=True)
    assert client.get(PAGE + "?range=12").status_code == 400


def test_share_links_show_one_journey_until_revoked(client, cli, filled):
    url = cli("share", ORG, JOURNEY, "--expires", "7d", "--base-url", "https://dash.example")
    assert url.startswith("https://dash.example/journey/share/")
    path = url.strip().removeprefix("https://dash.example")
    shared = client.get(path)
    assert shared.status_code == 200
    page = shared.get_data(as_text=True)
    assert "read-only shared view" in page
    assert "Create a share link" not in page and "Sign out" not in page
    assert f"frame-ancestors {ORIGIN}" in shared.headers["Content-Security-Policy"]
    assert client.get(path + "report.csv?table=steps").status_code == 200
    assert client.get(f"/journey/{ORG}/").status_code == 403  # nothing else is opened

    token = path.split("/")[3]
    stored = ShareLink.select().get()
    assert token not in json.dumps([stored.lookup, stored.token_hash])
    listed = cli("shares", ORG, JOURNEY)
    assert re.match(rf"{stored.lookup}  active ", listed)
    cli("revoke-share", ORG, JOURNEY, stored.lookup)
    refused = client.get(path)
    assert refused.status_code == 404
    assert "does not work" in refused.get_data(as_text=True)
    assert "revoked" in cli("shares", ORG, JOURNEY)


def test_a_tampered_or_expired_share_link_is_refused(client, cli, filled):
    path = cli("share", ORG, JOURNEY).strip().removeprefix("http://localhost:5000")
    assert client.get(path[:-3] + "xx/").status_code == 404
    ShareLink.update(expires_at=ShareLink.created_at).execute()
    expired = client.get(path)
    assert expired.status_code == 410
    assert "expired" in expired.get_data(as_text=True)


def test_the_page_button_makes_a_share_link(client, filled):
    _sign_in(client, filled)
    token = _csrf(client, PAGE)
    assert client.post(PAGE + "share", data={"expires": "1d"}).status_code == 400
    made = client.post(PAGE + "share", data={"csrf_token": token, "expires": "1d"})
    assert made.status_code == 200
    url = re.search(r'id="share-url"[^>]*value="([^"]+)"', made.get_data(as_text=True)).group(1)
    fresh = client.application.test_client()
    assert fresh.get(url.removeprefix("http://localhost")).status_code == 200


def test_demo_data_goes_through_the_pipeline_and_fills_the_report(client, cli, key):
    output = cli("demo-data", ORG, JOURNEY, "--sessions", "60", "--days", "10")
    assert "60 sessions over 10 days" in output
    events = [json.loads(line) for line in cli("export").splitlines()]
    assert {e["wire_format"] for e in events} == {"demo"}
    assert len({e["session_id"] for e in events}) == 60
    kinds = {e["type"] for e in events}
    assert {
        "step_view",
        "field_focus",
        "validation_error",
        "dropoff_signal",
        "submit_success",
    } <= kinds
    assert len({e["device_class"] for e in events}) > 1
    assert len({e["language"] for e in events}) > 1
    report = _api(client, key).json
    assert report["totals"]["sessions"] == 60
    assert 0 < report["totals"]["completions"] < 60
    assert any(f["returns"] for f in report["fields"])
    assert any(s["dropoffs"] for s in report["steps"])
    again = cli("demo-data", ORG, JOURNEY, "--sessions", "60", "--days", "10")
    assert again.startswith("Stored 0 simulated events")


def test_the_dashboard_can_be_switched_off(make_app, key):
    client = make_app(JOURNEY_DASHBOARD_URL=None).test_client()
    assert client.get(PAGE).status_code == 404
    assert client.get("/journey/sign-in").status_code == 404


def test_the_dashboard_url_is_checked(make_app):
    with pytest.raises(ValueError, match="JOURNEY_DASHBOARD_URL"):
        make_app(JOURNEY_DASHBOARD_URL="journey")


def _share_rows(page: str) -> dict[str, list[str]]:
    table = _match(r'<table class="data" id="shares-table">.*?</table>', page, re.S).group(0)
    rows = {}
    for lookup, row in re.findall(r'<tr id="share-([0-9a-f]+)">(.*?)</tr>', table, re.S):
        rows[lookup] = [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
    return rows


def test_signed_in_users_list_and_revoke_share_links_on_a_page(client, cli, filled):
    kept = cli("share", ORG, JOURNEY, "--expires", "90d").strip()
    gone = cli("share", ORG, JOURNEY, "--expires", "1d").strip()
    kept_path, gone_path = (u.removeprefix("http://localhost:5000") for u in (kept, gone))
    kept_lookup, gone_lookup = (p.split("/")[3].split(".")[0] for p in (kept_path, gone_path))
    assert client.get(PAGE + "shares/").status_code == 403
    _sign_in(client, filled)
    journey_page = client.get(PAGE).get_data(as_text=True)
    assert f'href="{PAGE}shares/"' in journey_page and "(2 active)" in journey_page

    listing = client.get(PAGE + "shares/")
    assert listing.status_code == 200
    assert "frame-ancestors 'none'" in listing.headers["Content-Security-Policy"]
    rows = _share_rows(listing.get_data(as_text=True))
    assert list(rows) == [gone_lookup, kept_lookup]  # newest first
    assert rows[kept_lookup][1:] == [
        "active",
        rows[kept_lookup][2],
        rows[kept_lookup][3],
        "–",
        "–",  # made by the command line, with no key
        "Revoke share link " + kept_lookup,
    ]
    for lookup in (kept_lookup, gone_lookup):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", rows[lookup][3])
    # The list never shows a link itself, only its lookup; like every page, no inline code.
    text = listing.get_data(as_text=True)
    assert gone_path.split("/")[3] not in text
    assert "<script" not in text and "<style" not in text and not re.search(r"\sstyle=", text)

    revoke = f"{PAGE}shares/{gone_lookup}/revoke"
    assert client.post(revoke).status_code == 400  # no CSRF token
    assert client.post(revoke, data={"csrf_token": "0" * 64}).status_code == 400
    assert client.get(gone_path).status_code == 200
    token = _csrf(client, PAGE + "shares/")
    done = client.post(revoke, data={"csrf_token": token})
    assert done.status_code == 303
    assert done.location == f"{PAGE}shares/?revoked={gone_lookup}"
    after = client.get(done.location).get_data(as_text=True)
    assert f"Share link <code>{gone_lookup}</code> is revoked" in after
    rows = _share_rows(after)
    assert rows[gone_lookup][1] == "revoked" and rows[gone_lookup][4] != "–"
    assert rows[gone_lookup][6] == "–" and rows[kept_lookup][1] == "active"
    assert client.application.test_client().get(gone_path).status_code == 404
    assert client.application.test_client().get(kept_path).status_code == 200
    assert re.search(rf"{gone_lookup}  revoked", cli("shares", ORG, JOURNEY))

    again = client.post(revoke, data={"csrf_token": token})
    assert again.status_code == 404
    assert "No active share link" in again.get_data(as_text=True)
    unknown = client.post(f"{PAGE}shares/000000000000/revoke", data={"csrf_token": token})
    assert unknown.status_code == 404
    # The confirmation is for a revoked link only, whatever the address says.
    active = client.get(f"{PAGE}shares/?revoked={kept_lookup}").get_data(as_text=True)
    assert "revoked-notice" not in active


def test_a_share_links_viewer_cannot_list_or_revoke_links(client, cli, filled):
    path = cli("share", ORG, JOURNEY).strip().removeprefix("http://localhost:5000")
    lookup = path.split("/")[3].split(".")[0]
    shared = client.get(path).get_data(as_text=True)
    assert f"{PAGE}shares/" not in shared and "share links" not in shared
    token = _csrf(client)
    assert client.get(PAGE + "shares/").status_code == 403
    refused = client.post(f"{PAGE}shares/{lookup}/revoke", data={"csrf_token": token})
    assert refused.status_code == 403
    assert client.get(path).status_code == 200


def test_the_trend_table_shows_the_completion_rate_of_the_report_apis_trend(client, filled):
    _sign_in(client, filled)
    page = client.get(PAGE + "?range=30").get_data(as_text=True)
    start = _match(r'id="from" name="from" type="date" value="([^"]+)"', page).group(1)
    end = _match(r'id="to" name="to" type="date" value="([^"]+)"', page).group(1)
    points = _api(client, filled, f"?from={start}&to={end}").json["trend"]["points"]
    table = _match(r'<table class="data" id="trend-table">.*?</table>', page, re.S).group(0)
    shown = re.findall(
        r'<tr><th scope="row">([^<]+)</th><td class="num">(\d+)</td><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td><td class="num">([^<]+)</td></tr>',
        table,
    )
    expected = [
        (
            p["period"],
            str(p["sessions"]),
            str(p["starters"]),
            str(p["completions"]),
            f"{p['completions'] / p['starters'] * 100:.1f}%" if p["starters"] else "–",
        )
        for p in points
    ]
    assert shown == expected
    assert any(rate != "–" for *_, rate in shown)
    assert '<title id="trend-svg-title">Sessions and completion rate by day</title>' in page
    assert "completions ÷ starters" in page


def test_the_organization_page_shows_this_months_usage_against_the_quota(client, cli, key):
    cli("create-journey", ORG, "renewal")
    cli("set-org", ORG, "--quota", "1000")
    events = [event("page_view", n) for n in range(3)]
    assert post(client, batch(*events)).status_code == 204
    _sign_in(client, key)

    page = client.get(f"/journey/{ORG}/").get_data(as_text=True)

    usage = _match(r'<section class="panel" aria-labelledby="usage-title".*?</section>', page, re.S)
    assert "3 of 1000 events of the monthly quota" in usage.group(0)
    assert 'max="1000" value="3"' in usage.group(0)
    assert "(997 left)" in usage.group(0)
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td class="num">(\d+)</td>', usage.group(0))
    assert rows == [(JOURNEY, "3"), ("renewal", "0")]

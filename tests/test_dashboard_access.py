"""The dashboard's access, as a browser and the command line see it: signing in without a
SECRET_KEY, signing out for good, frames, and share links that are bounded, revoked with their
key, and survive a restart or tell the truth when they cannot."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from .helpers import JOURNEY, ORG, ORIGIN

PAGE = f"/journey/{ORG}/{JOURNEY}/"
FRAMED = {"Sec-Fetch-Dest": "iframe"}


def _found(pattern: str, text: str, flags: int = 0) -> str:
    match = re.search(pattern, text, flags)
    assert match is not None, f"{pattern!r} is not on the page"
    return match.group(1)


@pytest.fixture
def config() -> dict[str, Any]:
    # What the Quickstart gives: no SECRET_KEY.
    return {"JOURNEY_REPORT_MAX_STALENESS": 0}


@pytest.fixture
def key(cli) -> str:
    cli("create-org", ORG)
    cli("create-journey", ORG, JOURNEY, "--allowed-origin", ORIGIN)
    return cli("create-key", ORG, "--scope", "read").split()[-1]


def _csrf(client, path: str = "/journey/sign-in") -> str:
    page = client.get(path).get_data(as_text=True)
    return _found(r'name="csrf_token" value="([^"]+)"', page)


def _cookie(client, name: str) -> str:
    return client.get_cookie(name, path="/journey").value


def _sign_in(client, key: str):
    return client.post("/journey/sign-in", data={"csrf_token": _csrf(client), "key": key})


def _share(client, expires: str = "7d", **headers: str):
    return client.post(
        PAGE + "share",
        data={"csrf_token": _csrf(client, PAGE), "expires": expires},
        headers=headers,
    )


def _share_path(made) -> str:
    url = _found(r'id="share-url"[^>]*value="([^"]+)"', made.get_data(as_text=True))
    return url.removeprefix("http://localhost")


def _cli_share(cli, *args: str) -> str:
    return cli("share", ORG, JOURNEY, *args).strip().removeprefix("http://localhost:5000")


# -- works on mount ----------------------------------------------------------------------------


def test_without_a_secret_key_a_site_signs_in_and_sees_its_journey(client, key):
    signed = _sign_in(client, key)
    assert signed.status_code == 303
    page = client.get(PAGE)
    assert page.status_code == 200
    assert JOURNEY in page.get_data(as_text=True)
    assert _share(client).status_code == 200


def test_links_and_sign_ins_outlive_the_app_object_without_a_secret_key(make_app, client, cli, key):
    _sign_in(client, key)
    from_button = _share_path(_share(client))
    from_cli = _cli_share(cli)
    again = make_app().test_client()  # the same site started again: a new app, same database
    for path in (from_button, from_cli):
        shown = again.get(path)
        assert shown.status_code == 200
        assert "read-only shared view" in shown.get_data(as_text=True)
    again.set_cookie("journey_dashboard", _cookie(client, "journey_dashboard"), path="/journey")
    assert again.get(PAGE).status_code == 200


def test_share_links_open_in_a_new_process(app, cli, key, serve, database_url):
    first = serve({"JOURNEY_DATABASE_URL": database_url}, workers=2)
    browser = requests.Session()
    base = f"http://127.0.0.1:{first.port}"
    form = browser.get(base + "/journey/sign-in", timeout=30).text
    token = _found(r'name="csrf_token" value="([^"]+)"', form)
    signed = browser.post(
        base + "/journey/sign-in", data={"csrf_token": token, "key": key}, timeout=30
    )
    assert signed.status_code == 200 and signed.url == f"{base}/journey/{ORG}/"
    page = browser.get(base + PAGE, timeout=30).text
    token = _found(r'name="csrf_token" value="([^"]+)"', page)
    made = browser.post(
        base + PAGE + "share", data={"csrf_token": token, "expires": "1d"}, timeout=30
    )
    assert made.status_code == 200
    from_button = _found(r'id="share-url"[^>]*value="([^"]+)"', made.text)
    from_cli = _cli_share(cli)

    second = serve({"JOURNEY_DATABASE_URL": database_url}, workers=1)
    stranger = requests.Session()
    for path in (from_button.removeprefix(base), from_cli):
        shown = stranger.get(f"http://127.0.0.1:{second.port}{path}", timeout=30)
        assert shown.status_code == 200
        assert "read-only shared view" in shown.text
    # The sign-in, too, is good on the other process (the same cookie, another port).
    assert browser.get(f"http://127.0.0.1:{second.port}{PAGE}", timeout=30).status_code == 200


def test_a_link_signed_with_a_key_the_site_no_longer_has_is_listed_as_unverifiable(make_app, key):
    old = make_app(SECRET_KEY="the-old-key")
    result = old.test_cli_runner().invoke(args=["journey", "share", ORG, JOURNEY])
    path = result.output.strip().removeprefix("http://localhost:5000")
    assert old.test_client().get(path).status_code == 200

    rotated = make_app(SECRET_KEY="the-new-key")
    refused = rotated.test_client().get(path)
    assert refused.status_code == 404
    text = refused.get_data(as_text=True)
    assert "signing key has changed" in text and "revoked" not in text
    listed = rotated.test_cli_runner().invoke(args=["journey", "shares", ORG, JOURNEY]).output
    assert re.match(r"[0-9a-f]{12}  unverifiable  ", listed)
    client = rotated.test_client()
    _sign_in(client, key)
    assert "(0 active)" in client.get(PAGE).get_data(as_text=True)
    assert "unverifiable" in client.get(PAGE + "shares/").get_data(as_text=True)

    # Flask's SECRET_KEY_FALLBACKS keep the old key's links (and sign-ins) working.
    kept = make_app(SECRET_KEY="the-new-key", SECRET_KEY_FALLBACKS=["the-old-key"])
    assert kept.test_client().get(path).status_code == 200
    listed = kept.test_cli_runner().invoke(args=["journey", "shares", ORG, JOURNEY]).output
    assert re.match(r"[0-9a-f]{12}  active  ", listed)

    # A link whose address is wrong is not called unverifiable, nor revoked.
    wrong = old.test_client().get(path[:-4] + "xyz/").get_data(as_text=True)
    assert "incomplete or wrong" in wrong


# -- sign-out ends the session -------------------------------------------------------------------


def test_a_copied_cookie_is_refused_after_sign_out(app, client, key):
    _sign_in(client, key)
    copied = _cookie(client, "journey_dashboard")
    other = app.test_client()
    other.set_cookie("journey_dashboard", copied, path="/journey")
    assert other.get(PAGE).status_code == 200  # a copy works while the sign-in lasts

    out = client.post("/journey/sign-out", data={"csrf_token": _csrf(client, PAGE)})
    assert out.status_code == 303
    assert client.get(PAGE).status_code == 403
    assert other.get(PAGE).status_code == 403
    replay = app.test_client()
    replay.set_cookie("journey_dashboard", copied, path="/journey")
    assert replay.get(PAGE).status_code == 403
    # Signing in again gives a new session, which works.
    assert _sign_in(replay, key).status_code == 303
    assert replay.get(PAGE).status_code == 200


def test_signing_in_gives_a_new_csrf_seed(client, key):
    before = _csrf(client)
    seed = _cookie(client, "journey_csrf")
    signed = _sign_in(client, key)
    assert any(c.startswith("journey_csrf=") for c in signed.headers.getlist("Set-Cookie"))
    assert _cookie(client, "journey_csrf") != seed
    # A token planted before the sign-in does not work after it.
    stale = client.post(PAGE + "share", data={"csrf_token": before, "expires": "1d"})
    assert stale.status_code == 400
    assert _share(client).status_code == 200


# -- frames ----------------------------------------------------------------------------------


def test_pages_no_one_may_frame_also_send_x_frame_options_deny(client, key):
    _sign_in(client, key)
    for path in ("/journey/sign-in", f"/journey/{ORG}/", PAGE + "shares/", "/journey/nobody/"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
        assert response.headers["X-Frame-Options"] == "DENY", path
    # A journey page its allowed origins may frame: frame-ancestors alone says so.
    journey_page = client.get(PAGE)
    assert f"frame-ancestors {ORIGIN}" in journey_page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in journey_page.headers


def test_a_signed_in_page_in_a_frame_is_read_only(client, key):
    _sign_in(client, key)
    whole = client.get(PAGE).get_data(as_text=True)
    assert "Create a share link" in whole and f'href="{PAGE}shares/"' in whole
    framed = client.get(PAGE, headers=FRAMED)
    assert framed.status_code == 200
    text = framed.get_data(as_text=True)
    assert "Create a share link" not in text and f"{PAGE}shares/" not in text
    assert JOURNEY in text
    assert _share(client, **FRAMED).status_code == 403
    assert client.get(PAGE + "shares/", headers=FRAMED).status_code == 403


# -- share links bounded and revoked with their key ---------------------------------------------


@pytest.mark.parametrize("expires", ["never", "99999w", "91d", "2161h"])
def test_the_command_line_refuses_a_link_longer_than_the_maximum(runner, key, expires):
    result = runner.invoke(args=["journey", "share", ORG, JOURNEY, "--expires", expires])
    assert result.exit_code == 1
    assert result.output.startswith("Error: --expires: ")
    assert "JOURNEY_SHARE_MAX_DAYS" in result.output or "share links expire" in result.output


def test_the_dashboard_refuses_a_link_longer_than_the_maximum(client, key):
    _sign_in(client, key)
    for expires in ("never", "99999w", "91d"):
        refused = _share(client, expires)
        assert refused.status_code == 400
        assert "This link cannot be made" in refused.get_data(as_text=True)
    assert _share(client, "90d").status_code == 200


def test_the_maximum_is_a_setting_and_the_form_offers_only_what_it_allows(make_app, key):
    app = make_app(JOURNEY_SHARE_MAX_DAYS=7)
    client = app.test_client()
    _sign_in(client, key)
    page = client.get(PAGE).get_data(as_text=True)
    form = _found(r'(<select id="expires".*?</select>)', page, re.S)
    assert re.findall(r'<option value="(\w+)"', form) == ["1d", "7d"]
    assert _share(client, "30d").status_code == 400
    assert _share(client, "7d").status_code == 200
    refused = app.test_cli_runner().invoke(args=["journey", "share", ORG, JOURNEY])
    assert refused.exit_code == 1 and "longer than the 7 days" in refused.output


def test_revoking_a_key_revokes_the_links_it_made_and_the_lists_name_it(app, client, cli, key):
    other_key = cli("create-key", ORG, "--scope", "read").split()[-1]
    _sign_in(client, key)
    by_key = _share_path(_share(client))
    colleague = app.test_client()
    _sign_in(colleague, other_key)
    by_other = _share_path(_share(colleague))
    by_cli = _cli_share(cli)
    lookup, other_lookup = key.split("_")[1], other_key.split("_")[1]

    listed = cli("shares", ORG, JOURNEY).splitlines()
    assert [line.rsplit("  made ", 1)[1] for line in listed] == [
        "without a key",
        f"with key {other_lookup}",
        f"with key {lookup}",
    ]
    page = client.get(PAGE + "shares/").get_data(as_text=True)
    assert f"key <code>{lookup}</code>" in page and f"key <code>{other_lookup}</code>" in page

    assert cli("revoke-key", ORG, lookup) == (
        f"Revoked key {lookup} and the 1 share link made with it.\n"
    )
    viewer = app.test_client()
    assert viewer.get(by_key).status_code == 404
    assert "It was revoked." in viewer.get(by_key).get_data(as_text=True)
    assert viewer.get(by_other).status_code == 200
    assert viewer.get(by_cli).status_code == 200
    states = [line.split()[1] for line in cli("shares", ORG, JOURNEY).splitlines()]
    assert states == ["active", "active", "revoked"]

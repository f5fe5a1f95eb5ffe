"""The ``flask journey`` command group, available in every app that uses the extension.

Organizations, journeys, keys, reports and demo data are managed through the public Python API
(:mod:`flask_journey.api`). What a command prints for a person goes through
:func:`flask_journey.display.visible` (or is JSON, whose strings escape control characters): a
sender's text never reaches the terminal as an escape sequence or a forged line. Every command
runs in the app's context and reaches the app's state through :func:`_state`;
:class:`JourneyCommand` turns what goes wrong (an unknown tenant, a database that cannot be
reached or whose schema is not this release's) into a message and exit status 1, never a
traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import click
from flask import current_app, url_for
from flask.cli import AppGroup, ScriptInfo
from limits import parse_many
from peewee import Database, DatabaseError, InterfaceError

from . import api, migrations, reports
from .db import using
from .display import visible
from .reports.refresh import Refreshed, pending
from .reports.tables import DEFAULT_TABLE, TABLES, to_csv, to_text
from .spreadsheet import CsvWriter
from .state import JourneyState, app_state


class JourneyCommand(click.Command):
    """A ``flask journey`` command: its failures are messages with exit status 1.

    Unless it is made with ``schema=False``, it first gives an empty SQLite database the current
    schema, and stops on an empty other one (``flask journey migrate`` creates it there).
    """

    def __init__(self, *args: Any, schema: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = schema

    def invoke(self, ctx: click.Context) -> Any:
        try:
            if self.schema:
                with ctx.ensure_object(ScriptInfo).load_app().app_context():
                    migrations.create_if_empty(app_state().database)
            return super().invoke(ctx)
        except (api.TenantError, migrations.SchemaError) as exc:
            raise click.ClickException(visible(str(exc))) from None
        except (DatabaseError, InterfaceError) as exc:
            message = f"database error ({type(exc).__name__}): {exc}"
            raise click.ClickException(visible(message)) from None


class JourneyGroup(AppGroup):
    """The ``flask journey`` group: each command runs in the app's context (AppGroup)."""

    command_class = JourneyCommand


def _state() -> JourneyState:
    """The state of the app the command runs for."""
    return app_state()


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def _rate_limit(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            parse_many(value)
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is not a rate limit such as '5000 per hour'"
            ) from None
    return value


@contextlib.contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error when it is a terminal; nothing when piped."""
    if not sys.stderr.isatty() or total <= 0:
        yield lambda done: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def _build_summaries(database: Database, again: bool = False) -> Refreshed:
    with progress(pending(database), "Summarising events") as advance:
        return api.refresh(rebuild=again, progress=advance)


@click.group("journey", cls=JourneyGroup)
def journey_cli() -> None:
    """Manage flask-journey organizations, journeys, keys and events."""


def _backend() -> str:
    return _state().settings.database_url.partition("://")[0]


@journey_cli.command("init-db", schema=False)
def init_db() -> None:
    """Create the tables; on an existing database, check it needs no migration."""
    created = api.create_tables()
    done = "Initialised" if created else "Already initialised:"
    click.echo(f"{done} {_backend()} database (schema version {migrations.LATEST}).")


@journey_cli.command("migrate", schema=False)
def migrate() -> None:
    """Upgrade a database created by an earlier release to this release's schema."""
    state = _state()
    state.database.connect(reuse_if_open=True)  # a database out of reach is not a failed migration
    try:
        previous, applied = migrations.upgrade(state.database)
    except DatabaseError as exc:
        _fail(f"migration failed and was rolled back, nothing changed: {exc}")
    _build_summaries(state.database)
    if previous is None:
        click.echo(f"Initialised {_backend()} database (schema version {migrations.LATEST}).")
        return
    for migration in applied:
        click.echo(f"Applied {migration.version}: {migration.description}")
    click.echo(
        f"Schema version {previous} -> {migrations.LATEST}."
        if applied
        else f"Schema version {previous} is up to date."
    )


@journey_cli.command("create-org")
@click.argument("slug")
@click.option("--rate-limit", callback=_rate_limit, help="Override JOURNEY_RATELIMIT_DEFAULT.")
@click.option("--quota", type=click.IntRange(min=0), help="Events allowed per calendar month.")
def create_org(slug: str, rate_limit: str | None, quota: int | None) -> None:
    """Create an organization."""
    org = api.create_organization(slug, rate_limit=rate_limit, quota=quota)
    click.echo(f"Created organization {org.slug} (accountId {org.id}).")


@journey_cli.command("set-org")
@click.argument("slug")
@click.option("--rate-limit", callback=_rate_limit, help="Rate limit; 'default' to clear.")
@click.option("--quota", type=click.IntRange(min=-1), help="Monthly events; -1 to clear.")
def set_org(slug: str, rate_limit: str | None, quota: int | None) -> None:
    """Change an organization's rate limit or monthly quota."""
    changes: dict[str, Any] = {}
    if rate_limit is not None:
        changes["rate_limit"] = None if rate_limit == "default" else rate_limit
    if quota is not None:
        changes["quota"] = None if quota < 0 else quota
    org = api.update_organization(slug, **changes)
    click.echo(
        f"{org.slug}: rate limit {org.rate_limit or 'default'}, "
        f"quota {org.monthly_quota if org.monthly_quota is not None else 'none'}."
    )


@journey_cli.command("create-journey")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
@click.option("--allowed-origin", "origins", multiple=True, help="May be given several times.")
def create_journey(org_slug: str, slug: str, origins: tuple[str, ...]) -> None:
    """Create a journey in an organization."""
    journey = api.create_journey(org_slug, slug, origins=origins)
    click.echo(json.dumps(journey.to_dict()))


@journey_cli.command("set-origins")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
@click.argument("origins", nargs=-1)
def set_origins(org_slug: str, slug: str, origins: tuple[str, ...]) -> None:
    """Replace a journey's allowed origins (none given: accept every origin)."""
    journey = api.update_journey(org_slug, slug, origins=origins)
    click.echo(json.dumps(journey.to_dict()))


@journey_cli.command("set-steps")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
@click.argument("steps", nargs=-1)
@click.option(
    "--optional",
    "optional",
    multiple=True,
    metavar="STEP",
    help="A step sessions may skip (skipping it is no drop-off); may be given several times.",
)
def set_steps(org_slug: str, slug: str, steps: tuple[str, ...], optional: tuple[str, ...]) -> None:
    """Set a journey's steps, in order, for the reports' funnel (none given: clear them)."""
    journey = api.update_journey(org_slug, slug, steps=steps, optional=optional)
    click.echo(json.dumps(journey.to_dict()))


@journey_cli.command("set-labels")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
@click.argument("labels", nargs=-1, metavar="KEY=LABEL...")
def set_labels(org_slug: str, slug: str, labels: tuple[str, ...]) -> None:
    """Replace the labels the dashboard shows instead of step and field keys
    (``uk_based="Registered in the UK"``; none given: clear them)."""
    pairs = [label.partition("=") for label in labels]
    wrong = [label for label, (_, sign, _) in zip(labels, pairs, strict=True) if not sign]
    if wrong:
        _fail(f"{wrong[0]!r} is not KEY=LABEL")
    journey = api.update_journey(org_slug, slug, labels={key: text for key, _, text in pairs})
    click.echo(json.dumps(journey.to_dict()))


@journey_cli.command("report")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First day (default: 30 days ago).")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day, included (default: today).")
@click.option(
    "--by",
    "breakdown",
    type=click.Choice(list(reports.SEGMENTS)),
    help="Break the numbers down by a segment.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option(
    "--table",
    type=click.Choice(list(TABLES)),
    default=DEFAULT_TABLE,
    show_default=True,
    help="The table --format csv writes.",
)
@click.option(
    "--compare/--no-compare",
    default=True,
    show_default=True,
    help="Add the previous period of the same length.",
)
@click.option("--device", help="Only sessions of this device class.")
@click.option("--browser", help="Only sessions of this browser.")
@click.option("--os", "os_", help="Only sessions of this operating system.")
@click.option("--language", help="Only sessions of this language.")
@click.option("--country", help="Only sessions from this country (an ISO code such as US).")
@click.option("--source", help="Only sessions of this traffic source.")
def report(
    org_slug: str,
    slug: str,
    start: str | None,
    end: str | None,
    breakdown: str | None,
    fmt: str,
    table: str,
    compare: bool,
    device: str | None,
    browser: str | None,
    os_: str | None,
    language: str | None,
    country: str | None,
    source: str | None,
) -> None:
    """Print a journey's report: totals, the step funnel and field friction."""
    options = {
        "from": start,
        "to": end,
        "breakdown": breakdown,
        "device": device,
        "browser": browser,
        "os": os_,
        "language": language,
        "country": country,
        "source": source,
        "compare": str(compare),
    }
    result = api.report(org_slug, slug, **api.report_options(options))
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    elif fmt == "csv":
        click.echo(to_csv(result, table), nl=False)
    else:
        click.echo(to_text(result), nl=False)


@journey_cli.command("refresh")
@click.option("--rebuild", is_flag=True, help="Forget the summaries and build them again.")
def refresh(rebuild: bool) -> None:
    """Bring the report summaries up to date with the stored events (run it from cron)."""
    state = _state()
    done = _build_summaries(state.database, rebuild)
    click.echo(f"Read {done.events} events; summarised {done.sessions} sessions.")


@journey_cli.command("show")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
def show(org_slug: str, slug: str) -> None:
    """Print a journey and its identifiers as one JSON object."""
    click.echo(json.dumps(api.get_journey(org_slug, slug).to_dict()))


@journey_cli.command("create-key")
@click.argument("org_slug", metavar="ORG")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(api.SCOPES),
    help="What the key may do: ingest (Events API), read (reports, dashboard, share links), "
    "admin (management API); may be given several times. Default: all three.",
)
def create_key(org_slug: str, scopes: tuple[str, ...]) -> None:
    """Create a secret API key; it is printed once, as the last word, and never again."""
    secret = api.create_key(org_slug, scopes or api.SCOPES)
    click.echo(f"Created API key for {org_slug} (store it now, it is not kept): {secret}")


def _scope_text(scopes: tuple[str, ...] | None) -> str:
    return "all (created before scopes)" if scopes is None else ", ".join(scopes)


@journey_cli.command("keys")
@click.argument("org_slug", metavar="ORG")
def list_keys(org_slug: str) -> None:
    """List an organization's secret keys: their lookups, never the secrets."""
    keys = api.list_keys(org_slug)
    if not keys:
        click.echo("No keys.")
    for key in keys:
        status = f"revoked {_iso(key.revoked_at)}" if key.revoked_at else "active"
        scopes = _scope_text(key.scope_list())
        click.echo(
            visible(f"{key.lookup}  created {_iso(key.created_at)}  scopes: {scopes}  {status}")
        )


@journey_cli.command("revoke-key")
@click.argument("org_slug", metavar="ORG")
@click.argument("lookup")
def revoke_key(org_slug: str, lookup: str) -> None:
    """Revoke a key, named by the part after ``sk_`` (``sk_<lookup>_...``), and the share links
    made with it."""
    links = api.revoke_key(org_slug, lookup)
    made = f" and the {links} share link{'s' if links != 1 else ''} made with it" if links else ""
    click.echo(f"Revoked key {lookup}{made}.")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def _one_journey(org_slug: str | None, journey_slug: str | None) -> None:
    if journey_slug and not org_slug:
        _fail("--journey needs --org")


@journey_cli.command("export")
@click.option("--org", "org_slug")
@click.option("--journey", "journey_slug")
@click.option("--format", "fmt", type=click.Choice(["ndjson", "csv"]), default="ndjson")
def export(org_slug: str | None, journey_slug: str | None, fmt: str) -> None:
    """Write stored events to standard output, one per line (ndjson) or row (csv), read from
    the replica of JOURNEY_REPORT_DATABASE_URL when there is one."""
    _one_journey(org_slug, journey_slug)
    out = sys.stdout
    with using(_state().report_database):
        rows = api.export_events(org_slug, journey_slug)
        total = api.count_events(org_slug, journey_slug) if sys.stderr.isatty() else 0
        with progress(total, "Exporting events") as advance:
            if fmt == "ndjson":
                for row in rows:
                    out.write(json.dumps(row, separators=(",", ":")) + "\n")
                    advance(1)
            else:
                writer = CsvWriter(out, api.EXPORT_FIELDS)
                writer.header()
                for row in rows:
                    writer.row(row)
                    advance(1)
    out.flush()


@journey_cli.command("stats")
@click.option("--org", "org_slug")
@click.option("--journey", "journey_slug")
def stats(org_slug: str | None, journey_slug: str | None) -> None:
    """Print event counts by journey and type, session counts, the values its reports fold into
    (other) by kind, and refusals by reason, as JSON."""
    _one_journey(org_slug, journey_slug)
    click.echo(json.dumps(api.stats(org_slug, journey_slug), indent=2, sort_keys=True))


@journey_cli.command("purge")
@click.option(
    "--before",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Delete events received before this day (YYYY-MM-DD, UTC).",
)
@click.option(
    "--retention",
    is_flag=True,
    help="Delete events received more than JOURNEY_RETENTION_DAYS days ago.",
)
@click.option("--org", "org_slug", help="Only this organization's events.")
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=api.PURGE_CHUNK,
    show_default=True,
    help="Events deleted per transaction.",
)
def purge(before: dt.datetime | None, retention: bool, org_slug: str | None, chunk: int) -> None:
    """Delete old events, a bounded chunk per transaction, and print how many."""
    if (before is None) == (not retention):
        _fail("give either --before YYYY-MM-DD or --retention")
    if retention:
        try:
            before = api.retention_cutoff()
        except api.TenantError:
            _fail("--retention needs JOURNEY_RETENTION_DAYS to be set")
    assert before is not None  # one of --before and --retention was given
    total = api.count_old_events(before, org_slug) if sys.stderr.isatty() else 0
    with progress(total, "Deleting events") as advance:
        deleted = api.purge(before, org=org_slug, chunk=chunk, progress=advance)
    click.echo(f"Deleted {deleted} events received before {_iso(before)}.")


@journey_cli.command("usage")
@click.argument("org_slug", metavar="ORG")
def usage(org_slug: str) -> None:
    """Print an organization's metered events and requests per month, and this month's against
    its quota by journey, as JSON."""
    click.echo(json.dumps(api.usage(org_slug)))


@journey_cli.command("demo-data")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
@click.option(
    "--sessions",
    type=click.IntRange(min=1, max=1_000_000),
    default=500,
    show_default=True,
    help="Simulated sessions to store.",
)
@click.option(
    "--days",
    type=click.IntRange(min=1, max=3650),
    default=60,
    show_default=True,
    help="Days back the sessions are spread over.",
)
@click.option(
    "--seed",
    type=int,
    default=12,
    show_default=True,
    help="Random seed: the same seed stores the same sessions (once).",
)
def demo_data(org_slug: str, slug: str, sessions: int, days: int, seed: int) -> None:
    """Store simulated visitors of a journey, through the ingest pipeline, to try the
    dashboard and reports. They follow the journey's steps and the fields its events name."""
    stored = api.demo_data(org_slug, slug, sessions=sessions, days=days, seed=seed)
    click.echo(
        f"Stored {stored} simulated events ({sessions} sessions over {days} days) "
        f"for {org_slug}/{slug}."
    )


def _share_url(token: str, base_url: str | None) -> str:
    base = base_url or (
        f"{current_app.config['PREFERRED_URL_SCHEME']}://{current_app.config['SERVER_NAME']}"
        if current_app.config.get("SERVER_NAME")
        else "http://localhost:5000"
    )
    with current_app.test_request_context(base_url=base):
        return url_for("journey_dashboard.shared", token=token, _external=True)


@journey_cli.command("share")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
@click.option(
    "--expires",
    default="30d",
    show_default=True,
    help="Lifetime: 12h, 30d, 2w; at most JOURNEY_SHARE_MAX_DAYS.",
)
@click.option(
    "--base-url", help="The site's address (default: SERVER_NAME, else http://localhost:5000)."
)
def share(org_slug: str, slug: str, expires: str, base_url: str | None) -> None:
    """Print a read-only link to a journey's dashboard; only its hash is kept."""
    try:
        token = api.create_share(org_slug, slug, expires)
    except api.TenantError as exc:
        if exc.argument != "expires":
            raise
        _fail(f"--expires: {exc}")
    click.echo(_share_url(token, base_url))


@journey_cli.command("shares")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
def list_shares(org_slug: str, slug: str) -> None:
    """List a journey's share links (their lookups, never the links): status, dates, and the
    key of the sign-in that made each (none for this command and the host's own sign-in)."""
    links = api.list_shares(org_slug, slug)
    if not links:
        click.echo("No share links.")
        return
    for link in links:
        made_with = f"with key {link['apiKey']}" if link["apiKey"] else "without a key"
        click.echo(
            visible(
                f"{link['lookup']}  {link['status']:<12}  created {link['createdAt']}  "
                f"expires {link['expiresAt'] or 'never'}  made {made_with}"
            )
        )


@journey_cli.command("revoke-share")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
@click.argument("lookup")
def revoke_share(org_slug: str, slug: str, lookup: str) -> None:
    """Revoke a share link by the lookup `flask journey shares` lists."""
    if not api.revoke_share(org_slug, slug, lookup):
        _fail(f"no active share link {lookup!r} for {org_slug}/{slug}")
    click.echo(f"Revoked share link {lookup}.")

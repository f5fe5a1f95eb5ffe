"""The ``flask journey`` command group, available in every app that uses the extension."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterator
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from limits import parse_many
from peewee import DatabaseError, fn

from . import db, migrations, tenants
from .models import Event, Journey, Organization, RefusalCount, Usage, utcnow
from .pipeline import FIELDS

EXPORT_CHUNK = 1000
PURGE_CHUNK = 5000


def _state(schema: bool = True):
    """The app's state, its database bound; unless ``schema`` is False, with its tables.

    An empty SQLite database gets the current schema; an empty other one stops the command.
    """
    state = current_app.extensions["journey"]
    state.activate()
    if schema:
        try:
            migrations.create_if_empty(state.database)
        except migrations.SchemaError as exc:
            _fail(str(exc))
        except DatabaseError as exc:
            _fail(f"the database cannot be reached: {exc}")
    return state


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _org(slug: str) -> Organization:
    try:
        return tenants.get_org(slug)
    except tenants.TenantError as exc:
        _fail(str(exc))


def _journey(org_slug: str, journey_slug: str) -> Journey:
    try:
        return tenants.get_journey(tenants.get_org(org_slug), journey_slug)
    except tenants.TenantError as exc:
        _fail(str(exc))


def _rate_limit(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            parse_many(value)
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is not a rate limit such as '5000 per hour'"
            ) from None
    return value


@click.group("journey")
def journey_cli() -> None:
    """Manage flask-journey organizations, journeys, keys and events."""


def _backend() -> str:
    return current_app.extensions["journey"].settings.database_url.partition("://")[0]


@journey_cli.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create the tables; on an existing database, check it needs no migration."""
    state = _state(schema=False)
    try:
        created = db.create_tables(state.database)
    except migrations.SchemaError as exc:
        _fail(str(exc))
    done = "Initialised" if created else "Already initialised:"
    click.echo(f"{done} {_backend()} database (schema version {migrations.LATEST}).")


@journey_cli.command("migrate")
@with_appcontext
def migrate() -> None:
    """Upgrade a database created by an earlier release to this release's schema."""
    state = _state(schema=False)
    try:
        previous, applied = migrations.upgrade(state.database)
    except migrations.SchemaError as exc:
        _fail(str(exc))
    except DatabaseError as exc:
        _fail(f"migration failed and was rolled back, nothing changed: {exc}")
    if previous is None:
        click.echo(f"Initialised {_backend()} database (schema version {migrations.LATEST}).")
        return
    for migration in applied:
        click.echo(f"Applied {migration.version}: {migration.description}")
    click.echo(f"Schema version {previous} -> {migrations.LATEST}." if applied
               else f"Schema version {previous} is up to date.")


@journey_cli.command("create-org")
@click.argument("slug")
@click.option("--rate-limit", callback=_rate_limit, help="Override JOURNEY_RATELIMIT_DEFAULT.")
@click.option("--quota", type=click.IntRange(min=0), help="Events allowed per calendar month.")
@with_appcontext
def create_org(slug: str, rate_limit: str | None, quota: int | None) -> None:
    """Create an organization."""
    _state()
    try:
        org = tenants.create_org(slug, rate_limit=rate_limit, quota=quota)
    except tenants.TenantError as exc:
        _fail(str(exc))
    click.echo(f"Created organization {org.slug} (accountId {org.id}).")


@journey_cli.command("set-org")
@click.argument("slug")
@click.option("--rate-limit", callback=_rate_limit, help="Rate limit; 'default' to clear.")
@click.option("--quota", type=click.IntRange(min=-1), help="Monthly events; -1 to clear.")
@with_appcontext
def set_org(slug: str, rate_limit: str | None, quota: int | None) -> None:
    """Change an organization's rate limit or monthly quota."""
    _state()
    org = _org(slug)
    if rate_limit is not None:
        org.rate_limit = None if rate_limit == "default" else rate_limit
    if quota is not None:
        org.monthly_quota = None if quota < 0 else quota
    tenants.save_org(org)
    click.echo(
        f"{org.slug}: rate limit {org.rate_limit or 'default'}, "
        f"quota {org.monthly_quota if org.monthly_quota is not None else 'none'}."
    )


@journey_cli.command("create-journey")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
@click.option("--allowed-origin", "origins", multiple=True, help="May be given several times.")
@with_appcontext
def create_journey(org_slug: str, slug: str, origins: tuple[str, ...]) -> None:
    """Create a journey in an organization."""
    _state()
    try:
        journey = tenants.create_journey(_org(org_slug), slug, list(origins))
    except tenants.TenantError as exc:
        _fail(str(exc))
    click.echo(json.dumps(journey.to_dict()))


@journey_cli.command("set-origins")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
@click.argument("origins", nargs=-1)
@with_appcontext
def set_origins(org_slug: str, slug: str, origins: tuple[str, ...]) -> None:
    """Replace a journey's allowed origins (none given: accept every origin)."""
    _state()
    try:
        journey = tenants.set_origins(_journey(org_slug, slug), list(origins))
    except tenants.TenantError as exc:
        _fail(str(exc))
    click.echo(json.dumps(journey.to_dict()))


@journey_cli.command("show")
@click.argument("org_slug", metavar="ORG")
@click.argument("slug", metavar="JOURNEY")
@with_appcontext
def show(org_slug: str, slug: str) -> None:
    """Print a journey and its identifiers as one JSON object."""
    _state()
    click.echo(json.dumps(_journey(org_slug, slug).to_dict()))


@journey_cli.command("create-key")
@click.argument("org_slug", metavar="ORG")
@with_appcontext
def create_key(org_slug: str) -> None:
    """Create a secret API key; it is printed once, as the last word, and never again."""
    _state()
    secret = tenants.create_key(_org(org_slug))
    click.echo(f"Created API key for {org_slug} (store it now, it is not kept): {secret}")


@journey_cli.command("revoke-key")
@click.argument("org_slug", metavar="ORG")
@click.argument("lookup")
@with_appcontext
def revoke_key(org_slug: str, lookup: str) -> None:
    """Revoke a key, named by the part after ``sk_`` (``sk_<lookup>_...``)."""
    _state()
    try:
        tenants.revoke_key(_org(org_slug), lookup)
    except tenants.TenantError as exc:
        _fail(str(exc))
    click.echo(f"Revoked key {lookup}.")


def _events(org_slug: str | None, journey_slug: str | None):
    query = Event.select(Event, Journey, Organization).join(Journey).join(Organization)
    if org_slug:
        query = query.where(Organization.id == _org(org_slug).id)
    if journey_slug:
        if not org_slug:
            _fail("--journey needs --org")
        query = query.where(Journey.id == _journey(org_slug, journey_slug).id)
    return query


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


#: Columns of ``export``: the tenant's slugs, then every stored column of the event.
EXPORT_FIELDS = ("org", "journey", "wire_format", *FIELDS, "received_at")


def export_rows(query) -> Iterator[dict[str, Any]]:
    """Stream events in storage order, a chunk at a time, as export dicts."""
    last = 0
    while True:
        chunk = list(query.where(Event.id > last).order_by(Event.id).limit(EXPORT_CHUNK))
        if not chunk:
            return
        for event in chunk:
            row = {name: getattr(event, name, None) for name in EXPORT_FIELDS[2:]}
            row["org"] = event.journey.organization.slug
            row["journey"] = event.journey.slug
            row["occurred_at"] = _iso(event.occurred_at)
            row["received_at"] = _iso(event.received_at)
            yield {name: row[name] for name in EXPORT_FIELDS}
        last = chunk[-1].id


@journey_cli.command("export")
@click.option("--org", "org_slug")
@click.option("--journey", "journey_slug")
@click.option("--format", "fmt", type=click.Choice(["ndjson", "csv"]), default="ndjson")
@with_appcontext
def export(org_slug: str | None, journey_slug: str | None, fmt: str) -> None:
    """Write stored events to standard output, one per line (ndjson) or row (csv)."""
    _state()
    rows = export_rows(_events(org_slug, journey_slug))
    out = sys.stdout
    if fmt == "ndjson":
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
    else:
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        for row in rows:
            if row["properties"] is not None:
                row["properties"] = json.dumps(row["properties"], separators=(",", ":"))
            writer.writerow(row)
    out.flush()


@journey_cli.command("stats")
@click.option("--org", "org_slug")
@click.option("--journey", "journey_slug")
@with_appcontext
def stats(org_slug: str | None, journey_slug: str | None) -> None:
    """Print event counts by journey and type, session counts and refusals by reason, as JSON."""
    _state()
    query = (
        _events(org_slug, journey_slug)
        .select(Organization.slug, Journey.slug, Event.type, fn.COUNT(Event.id))
        .group_by(Organization.slug, Journey.slug, Event.type)
        .order_by(Organization.slug, Journey.slug, Event.type)
        .tuples()
    )
    result: dict[str, Any] = {}
    for org, journey, type_, count in query:
        entry = result.setdefault(f"{org}/{journey}", {"events": 0, "byType": {}})
        entry["events"] += count
        entry["byType"][type_] = count
    sessions = (
        _events(org_slug, journey_slug)
        .select(Organization.slug, Journey.slug, fn.COUNT(Event.session_id.distinct()))
        .group_by(Organization.slug, Journey.slug)
        .tuples()
    )
    for org, journey, count in sessions:
        result[f"{org}/{journey}"]["sessions"] = count
    refused = (
        _refusals(org_slug, journey_slug)
        .select(Organization.slug, Journey.slug, RefusalCount.reason, fn.SUM(RefusalCount.count))
        .group_by(Organization.slug, Journey.slug, RefusalCount.reason)
        .tuples()
    )
    for org, journey, reason, count in refused:
        entry = result.setdefault(f"{org}/{journey}", {"events": 0, "byType": {}, "sessions": 0})
        entry.setdefault("refusals", {})[reason] = int(count)
    click.echo(json.dumps(result, indent=2, sort_keys=True))


def _refusals(org_slug: str | None, journey_slug: str | None):
    query = RefusalCount.select().join(Journey).join(Organization)
    if org_slug:
        query = query.where(Organization.id == _org(org_slug).id)
    if journey_slug:
        query = query.where(Journey.id == _journey(org_slug, journey_slug).id)
    return query


@journey_cli.command("purge")
@click.option("--before", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Delete events received before this day (YYYY-MM-DD, UTC).")
@click.option("--retention", is_flag=True,
              help="Delete events received more than JOURNEY_RETENTION_DAYS days ago.")
@click.option("--org", "org_slug", help="Only this organization's events.")
@click.option("--chunk", type=click.IntRange(min=1), default=PURGE_CHUNK, show_default=True,
              help="Events deleted per transaction.")
@with_appcontext
def purge(before: dt.datetime | None, retention: bool, org_slug: str | None, chunk: int) -> None:
    """Delete old events, a bounded chunk per transaction, and print how many."""
    state = _state()
    if (before is None) == (not retention):
        _fail("give either --before YYYY-MM-DD or --retention")
    if retention:
        days = state.settings.retention_days
        if days is None:
            _fail("--retention needs JOURNEY_RETENTION_DAYS to be set")
        before = utcnow() - dt.timedelta(days=days)
    old = Event.select(Event.id).where(Event.received_at < before)
    if org_slug:
        journeys = Journey.select(Journey.id).where(Journey.organization == _org(org_slug))
        old = old.where(Event.journey.in_(journeys))
    deleted = 0
    while True:
        # One statement per chunk: its own short transaction, so ingest is never held up long.
        count = Event.delete().where(Event.id.in_(old.order_by(Event.id).limit(chunk))).execute()
        deleted += count
        if count < chunk:
            break
    click.echo(f"Deleted {deleted} events received before {_iso(before)}.")


@journey_cli.command("usage")
@click.argument("org_slug", metavar="ORG")
@with_appcontext
def usage(org_slug: str) -> None:
    """Print an organization's metered events and requests per month, as JSON."""
    _state()
    org = _org(org_slug)
    months = {
        u.period: {"events": u.events, "requests": u.requests}
        for u in Usage.select().where(Usage.organization == org).order_by(Usage.period)
    }
    click.echo(
        json.dumps({"org": org.slug, "monthlyQuota": org.monthly_quota, "months": months})
    )

"""Schema migrations: a database an earlier release created upgrades without losing a row."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    JSONField,
    Model,
    SqliteDatabase,
    TextField,
)

from flask_journey import migrations
from flask_journey.migrations import Migration
from flask_journey.models import IdentityLink

from .helpers import JOURNEY, ORG, ORIGIN

CREATED = dt.datetime(2024, 1, 15, 10, 0, 0)


# The schema of release 0.1, frozen: what `init-db` created before schema versions existed.
# Never edit these models; a later release's test adds its own frozen schema instead.


class V1Model(Model):
    class Meta:
        legacy_table_names = False


class V1Organization(V1Model):
    id = AutoField()
    slug = CharField(max_length=64, unique=True)
    rate_limit = CharField(max_length=64, null=True)
    monthly_quota = BigIntegerField(null=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "journey_organization"


class V1Journey(V1Model):
    id = AutoField()
    organization = ForeignKeyField(V1Organization, on_delete="CASCADE")
    slug = CharField(max_length=64)
    public_key = CharField(max_length=64, unique=True)
    allowed_origins = JSONField(default=list)
    created_at = DateTimeField()

    class Meta:
        table_name = "journey_journey"
        indexes = ((("organization", "slug"), True),)


class V1ApiKey(V1Model):
    id = AutoField()
    organization = ForeignKeyField(V1Organization, on_delete="CASCADE")
    lookup = CharField(max_length=16, unique=True)
    secret_hash = CharField(max_length=64)
    created_at = DateTimeField()
    revoked_at = DateTimeField(null=True)

    class Meta:
        table_name = "journey_api_key"


class V1Usage(V1Model):
    id = AutoField()
    organization = ForeignKeyField(V1Organization, on_delete="CASCADE")
    period = CharField(max_length=7)
    events = BigIntegerField(default=0)
    requests = BigIntegerField(default=0)

    class Meta:
        table_name = "journey_usage"
        indexes = ((("organization", "period"), True),)


class V1Event(V1Model):
    id = AutoField()
    journey = ForeignKeyField(V1Journey, on_delete="CASCADE")
    event_id = CharField(max_length=128)
    wire_format = CharField(max_length=16)
    type = CharField(max_length=64)
    name = CharField(max_length=256, null=True)
    occurred_at = DateTimeField()
    received_at = DateTimeField()
    session_id = CharField(max_length=128, null=True)
    client_id = CharField(max_length=128, null=True)
    user_id = CharField(max_length=128, null=True)
    instance_id = CharField(max_length=128, null=True)
    url = TextField(null=True)
    path = TextField(null=True)
    referrer = TextField(null=True)
    title = TextField(null=True)
    step_key = CharField(max_length=128, null=True)
    field_key = CharField(max_length=128, null=True)
    error_type = CharField(max_length=64, null=True)
    device_class = CharField(max_length=16, null=True)
    browser = CharField(max_length=64, null=True)
    os = CharField(max_length=64, null=True)
    language = CharField(max_length=35, null=True)
    source = CharField(max_length=64, null=True)
    schema_version = IntegerField(null=True)
    embed_version = CharField(max_length=32, null=True)
    category = CharField(max_length=256, null=True)
    label = CharField(max_length=256, null=True)
    value = FloatField(null=True)
    properties = JSONField(null=True)

    class Meta:
        table_name = "journey_event"
        indexes = (
            (("journey", "event_id"), True),
            (("journey", "occurred_at"), False),
            (("journey", "session_id"), False),
            (("instance_id",), False),
        )


V1_MODELS = (V1Organization, V1Journey, V1ApiKey, V1Usage, V1Event)


@pytest.fixture
def old_app(make_app):
    """An app whose database release 0.1 created and filled."""
    app = make_app()
    database = app.extensions["journey"].database
    with database.bind_ctx(V1_MODELS):
        database.create_tables(V1_MODELS)
        org = V1Organization.create(slug=ORG, monthly_quota=1000, created_at=CREATED)
        journey = V1Journey.create(
            organization=org,
            slug=JOURNEY,
            public_key="pk_old",
            # Kept as given before origins were compared exactly, or checked strictly.
            allowed_origins=[
                "HTTPS://Grants.Example.com:443",
                ORIGIN,
                "http://localhost:5000/",
                "https://a.example;script-src *",
                "http://*",
            ],
            created_at=CREATED,
        )
        V1Usage.create(organization=org, period="2024-01", events=2, requests=1)
        for n, reason in ((1, None), (2, "idle")):
            V1Event.create(
                journey=journey,
                event_id=f"evt_{n}",
                wire_format="journey",
                type="dropoff_signal" if reason else "session_start",
                occurred_at=CREATED,
                received_at=CREATED,
                session_id="sess_1",
                url="https://grants.example.com/apply",
                properties={"reason": reason} if reason else None,
            )
    return app


@pytest.fixture
def run(old_app):
    """Run ``flask journey ...`` on the old app; return the click result."""
    runner = old_app.test_cli_runner()
    return lambda *args: runner.invoke(args=["journey", *args])


def describe(database) -> dict:
    """Every table's columns and indexes (partial or not), as the database reports them, and
    whether SQLite keeps it without a rowid."""
    return {
        table: (
            sorted((c.name, c.data_type.lower(), c.null) for c in database.get_columns(table)),
            sorted(
                (i.name, tuple(i.columns), i.unique, " WHERE " in (i.sql or "").upper())
                for i in database.get_indexes(table)
            ),
            "WITHOUT ROWID" in _table_sql(database, table).upper(),
        )
        for table in database.get_tables()
    }


def _table_sql(database, table: str) -> str:
    """The CREATE TABLE statement SQLite keeps for ``table`` ('' on other databases)."""
    if not isinstance(database, SqliteDatabase):
        return ""
    query = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?"
    return database.execute_sql(query, (table,)).fetchone()[0]


def test_migrate_upgrades_a_release_0_1_database_and_keeps_every_row(old_app, run):
    result = run("migrate")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Applied 2: index events by received_at, for flask journey purge",
        "Applied 3: drop two event indexes no query uses, which every insert paid for: "
        "journey_id alone (the unique index on journey_id, event_id covers it) and "
        "journey_id, occurred_at",
        "Applied 4: index instance_id only on the events that carry an instance id, not on every "
        "event",
        "Applied 5: report summaries: sessions, their fields, hourly event counts and the "
        "refresh state; a journey's configured steps (flask journey migrate then builds the "
        "summaries)",
        "Applied 6: count refused requests and events per journey (journey_refusal), and keep "
        "values an installation generates once, such as its identity secret "
        "(journey_installation)",
        "Applied 7: read-only share links of journey dashboards (only their tokens' hashes)",
        "Applied 8: events' value in double precision (PostgreSQL rewrites journey_event, "
        "holding its lock meanwhile; SQLite's REAL is double precision already)",
        "Applied 9: journeys' allowed origins written as browsers send them (lower case, no "
        "default port), as requests' origins are now compared exactly",
        "Applied 10: journeys' allowed origins that are not scheme://host[:port] with a valid "
        "host (such as 'https://a.example;script-src *' or 'http://*') dropped; IDNA hosts in "
        "ASCII",
        "Applied 11: secret keys' scopes (NULL for the keys made before: every scope); the key "
        "that made each share link and a fingerprint of the key that signed it; dashboard "
        "sign-ins as rows (journey_dashboard_session), so that signing out ends them",
        "Applied 12: the country of events and sessions (an ISO 3166 code, looked up at "
        "ingest; the address is not kept): a column of journey_event and of journey_session",
        "Applied 13: one person, one identity: the identities identify events link "
        "(journey_identity, filled from the identify events stored) and an index of identify "
        "and stage events; usage metered per journey too (journey_usage_journey, from this "
        "version on)",
        "Applied 14: labels a site gives its journeys' step and field keys (journey_labels), "
        "shown on the dashboard instead of the keys",
        "Applied 15: a journey's bounded vocabulary (journey_vocabulary): the step keys, "
        "fields, event names, error types and drop-off reasons its reports show on their own; "
        "the report summaries are built again, folding the values beyond the JOURNEY_MAX_* "
        "limits",
        "Applied 21: answers for real forms: steps a journey marks optional "
        "(journey_steps.optional) and each session's path through the steps and error "
        "outcomes (journey_session_form); the report summaries are built again",
        "Applied 22: reports from rollups: sums of the sessions that are over per local day "
        "and segment value (journey_rollup), which sessions they hold "
        "(journey_session.rolled) and the time zone of their days (journey_refresh.zone); "
        "the report summaries are built again",
        "Applied 23: labels the pages give step and field keys (journey_page_label): a "
        "field's label or a step's heading, as the embed script sends them, kept by the "
        "refresh for the keys of the journey's vocabulary",
        "Applied 24: the other events counted per local day as well as per hour "
        "(journey_event_hourly.grain), so that a report of whole days reads a row a day; the "
        "report summaries are built again",
        f"Applied 25: {MIGRATION_25}",
        f"Schema version 1 -> {migrations.LATEST}.",
    ]
    exported = [json.loads(line) for line in run("export").output.splitlines()]
    assert [(e["event_id"], e["properties"]) for e in exported] == [
        ("evt_1", None),
        ("evt_2", {"reason": "idle"}),
    ]
    assert json.loads(run("show", ORG, JOURNEY).output)["allowedOrigins"] == [
        ORIGIN,
        "http://localhost:5000",
    ]
    assert json.loads(run("usage", ORG).output)["months"] == {
        "2024-01": {"events": 2, "requests": 1}
    }
    database = old_app.extensions["journey"].database
    assert migrations.differences(database) == []
    assert migrations.version(database) == migrations.LATEST


def test_migrate_builds_the_report_summaries_from_the_stored_events(old_app, run):
    assert run("migrate").exit_code == 0

    old_app.config["JOURNEY_REPORT_MAX_STALENESS"] = 3600  # read only what migrate built
    report = json.loads(
        run(
            "report", ORG, JOURNEY, "--from", "2024-01-15", "--to", "2024-01-15", "--format", "json"
        ).output
    )
    assert (report["totals"]["sessions"], report["events"]["total"]) == (1, 2)
    assert run("refresh").output == "Read 0 events; summarised 0 sessions.\n"


def test_migrate_links_the_people_of_the_identify_events_already_stored(old_app, run):
    database = old_app.extensions["journey"].database
    with database.bind_ctx(V1_MODELS):
        journey = V1Journey.get(V1Journey.slug == JOURNEY)
        for n, user_id, properties, client in (
            (1, "eh_" + "a" * 64, None, "laptop"),
            (2, "usr_1", {"email": "eh_" + "a" * 64}, "phone"),
            (3, None, None, "tablet"),
        ):
            V1Event.create(
                journey=journey, event_id=f"evt_identify_{n}", wire_format="typed",
                type="identify", occurred_at=CREATED, received_at=CREATED,
                user_id=user_id, client_id=client, properties=properties,
            )  # fmt: skip

    assert run("migrate").exit_code == 0

    with old_app.app_context():
        old_app.extensions["journey"].activate()
        links = sorted((link.kind, link.alias[:5], link.user_key) for link in IdentityLink.select())
    assert links == [
        ("email", "eh_aa", "eh_" + "a" * 64),
        ("user", "usr_1", "eh_" + "a" * 64),
        ("visitor", "lapto", "eh_" + "a" * 64),
        ("visitor", "phone", "eh_" + "a" * 64),
    ]


def test_migrate_keeps_an_index_the_operator_built_beforehand(old_app, run):
    database = old_app.extensions["journey"].database
    database.execute_sql("CREATE INDEX journey_event_received_at ON journey_event (received_at)")

    result = run("migrate")

    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"Schema version 1 -> {migrations.LATEST}.\n")
    assert migrations.differences(database) == []


def test_a_migrated_database_has_the_schema_a_new_one_gets(old_app, run):
    database = old_app.extensions["journey"].database
    assert run("migrate").exit_code == 0
    migrated = describe(database)

    database.drop_tables(migrations.TABLES)
    assert run("init-db").exit_code == 0

    assert describe(database) == migrated
    partial = ("journey_event_instance_id_given", ("instance_id",), False, True)
    assert partial in migrated["journey_event"][1]
    not_rolled = ("journey_session_not_rolled", ("journey_id",), False, True)
    assert not_rolled in migrated["journey_session"][1]
    assert migrated["journey_rollup"][2] is isinstance(database, SqliteDatabase)


MIGRATION_25 = (
    "index only the sessions not rolled up yet (journey_session_not_rolled), which a report "
    "reads row by row, instead of every session by rolled; on SQLite, the rollups kept in "
    "their primary key's B-tree (WITHOUT ROWID)"
)


def test_migrate_from_24_keeps_every_rollup_row_and_the_report(old_app, run):
    assert run("migrate").exit_code == 0
    database = old_app.extensions["journey"].database
    old_app.config["JOURNEY_REPORT_MAX_STALENESS"] = 3600  # read only what is stored
    report = (
        "report",
        ORG,
        JOURNEY,
        "--from",
        "2024-01-15",
        "--to",
        "2024-01-15",
        "--format",
        "json",
    )
    before = json.loads(run(*report).output)
    before.pop("refreshedAt")  # migrate refreshes
    rollups = "SELECT * FROM journey_rollup ORDER BY grain, segment, value, kind, key1, bucket"
    rows = database.execute_sql(rollups).fetchall()
    fresh = describe(database)
    # Schema 24: the rollups in a table with a rowid on SQLite, sessions indexed by rolled.
    if isinstance(database, SqliteDatabase):
        create = _table_sql(database, "journey_rollup").replace(" WITHOUT ROWID", "")
        database.execute_sql("ALTER TABLE journey_rollup RENAME TO journey_rollup_24")
        database.execute_sql(create)
        database.execute_sql("INSERT INTO journey_rollup SELECT * FROM journey_rollup_24")
        database.execute_sql("DROP TABLE journey_rollup_24")
    database.execute_sql("DROP INDEX journey_session_not_rolled")
    database.execute_sql(
        "CREATE INDEX journey_session_rolled_journey_id ON journey_session (rolled, journey_id)"
    )
    database.execute_sql("DELETE FROM journey_schema_version WHERE version = 25")

    result = run("migrate")
    assert result.exit_code == 0, result.output
    assert result.output == f"Applied 25: {MIGRATION_25}\nSchema version 24 -> 25.\n"
    assert len(rows) > 10
    assert database.execute_sql(rollups).fetchall() == rows
    after = json.loads(run(*report).output)
    after.pop("refreshedAt")
    assert after == before
    assert describe(database) == fresh


def test_ingest_after_migrating_stores_new_events_and_skips_known_ids(old_app, run):
    assert run("migrate").exit_code == 0
    event = {
        "_tag": "step_view",
        "schemaVersion": 1,
        "ts": "2024-01-15T10:31:00Z",
        "orgKey": ORG,
        "journeyKey": JOURNEY,
        "sessionId": "sess_1",
        "clientId": "client_1",
        "url": "https://grants.example.com/apply",
        "stepKey": "eligibility",
    }
    body = {
        "schemaVersion": 1,
        "context": {"orgKey": ORG, "journeyKey": JOURNEY},
        "events": [{**event, "id": "evt_2"}, {**event, "id": "evt_3"}],
    }

    response = old_app.test_client().post("/api/ingest", json=body, headers={"Origin": ORIGIN})

    assert response.status_code == 204
    exported = [json.loads(line) for line in run("export").output.splitlines()]
    assert [(e["event_id"], e["type"]) for e in exported] == [
        ("evt_1", "session_start"),
        ("evt_2", "dropoff_signal"),
        ("evt_3", "step_view"),
    ]


def test_init_db_refuses_an_outdated_database_and_changes_nothing(old_app, run):
    database = old_app.extensions["journey"].database
    before = describe(database)

    result = run("init-db")

    assert result.exit_code == 1
    assert f"schema version 1 and this release needs {migrations.LATEST}" in result.output
    assert "flask journey migrate" in result.output
    assert describe(database) == before
    assert database.execute_sql("SELECT COUNT(*) FROM journey_event").fetchone() == (2,)


def test_init_db_and_migrate_on_a_current_database_change_nothing(old_app, run):
    assert run("migrate").exit_code == 0

    init = run("init-db")
    again = run("migrate")

    assert init.exit_code == 0 and again.exit_code == 0
    assert init.output == (
        f"Already initialised: {_backend(old_app)} database (schema version {migrations.LATEST}).\n"
    )
    assert again.output == f"Schema version {migrations.LATEST} is up to date.\n"
    assert len(run("export").output.splitlines()) == 2


def test_migrate_on_an_empty_database_creates_the_current_schema(make_app):
    app = make_app()

    result = app.test_cli_runner().invoke(args=["journey", "migrate"])

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Initialised {_backend(app)} database (schema version {migrations.LATEST}).\n"
    )
    database = app.extensions["journey"].database
    assert migrations.differences(database) == []


def test_a_failing_migration_is_rolled_back_entirely(old_app, run, monkeypatch):
    def steps(migrator):
        return [
            migrator.add_column("journey_event", "note", TextField(null=True)),
            migrator.add_index("no_such_table", ("received_at",)),
        ]

    broken = Migration(migrations.LATEST + 1, "add a note, then fail", steps)
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, broken))
    monkeypatch.setattr(migrations, "LATEST", broken.version)
    database = old_app.extensions["journey"].database
    before = describe(database)

    result = run("migrate")

    assert result.exit_code == 1
    assert "migration failed and was rolled back, nothing changed" in result.output
    assert describe(database) == before
    assert migrations.version(database) == 1
    assert database.execute_sql("SELECT COUNT(*) FROM journey_event").fetchone() == (2,)


def test_a_migration_that_forgets_a_model_change_is_refused(old_app, run, monkeypatch):
    monkeypatch.setattr(migrations, "MIGRATIONS", ())
    monkeypatch.setattr(migrations, "LATEST", 2)

    result = run("migrate")

    assert result.exit_code == 1
    assert "index journey_event_received_at is missing" in result.output
    assert migrations.version(old_app.extensions["journey"].database) == 1


def test_a_database_from_a_newer_release_is_refused(old_app, run):
    assert run("migrate").exit_code == 0
    database = old_app.extensions["journey"].database
    with database.bind_ctx([migrations.SchemaVersion]):
        migrations.SchemaVersion.create(version=99)

    for command in ("init-db", "migrate"):
        result = run(command)
        assert result.exit_code == 1
        assert f"schema version 99, newer than this release's {migrations.LATEST}" in result.output


def _backend(app) -> str:
    return app.config["JOURNEY_DATABASE_URL"].partition("://")[0]

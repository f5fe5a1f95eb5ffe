"""Peewee models: tenants, secret keys, usage, the one canonical events table, report summaries.

Every wire format writes into :class:`Event`. Times are naive UTC. No model holds an IP
address, a field value or a secret in clear (``docs/privacy.md`` lists every column).
"""

from __future__ import annotations

from typing import Any

from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    CompositeKey,
    Database,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    SmallIntegerField,
    TextField,
)

from ._peewee import LookedUpProxy, PerDatabaseJSONField, RowidFreeOnSqlite
from .db import current_database, database_or_none
from .events import utcnow


class AppDatabase(LookedUpProxy):
    """The models' database: the current app's, looked up on each use (never re-pointed).

    :func:`flask_journey.db.current_database` says which one that is.
    """

    @property
    def obj(self) -> Database | None:
        return database_or_none()

    def __getattr__(self, attr: str) -> Any:
        return getattr(current_database(), attr)


database = AppDatabase()


class JSONField(PerDatabaseJSONField):
    """Peewee's JSONField, speaking the dialect of the database in use at the moment: the
    models' database differs from app to app (:class:`AppDatabase`)."""

    def in_use(self) -> Database | None:
        return database_or_none()


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Organization(BaseModel):
    """A tenant: owns journeys and secret API keys."""

    id = AutoField()
    slug = CharField(max_length=64, unique=True)
    #: Overrides ``JOURNEY_RATELIMIT_DEFAULT`` for this organization's journeys.
    rate_limit = CharField(max_length=64, null=True)
    #: Events per calendar month (UTC); None means no quota.
    monthly_quota = BigIntegerField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "journey_organization"


class Journey(BaseModel):
    """A tracked flow of an organization, e.g. a grant application."""

    id = AutoField()
    organization = ForeignKeyField(Organization, backref="journeys", on_delete="CASCADE")
    slug = CharField(max_length=64)
    #: Public identifier (``pk_...``) used by the key-addressed wire formats.
    public_key = CharField(max_length=64, unique=True)
    allowed_origins = JSONField(default=list)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "journey_journey"
        indexes = ((("organization", "slug"), True),)

    def to_dict(self) -> dict:
        """The journey as the management API and ``flask journey show`` print it."""
        return {
            "orgKey": self.organization.slug,
            "journeyKey": self.slug,
            "publicKey": self.public_key,
            "accountId": self.organization_id,
            "trackerId": self.id,
            "allowedOrigins": list(self.allowed_origins or []),
            "steps": self.configured_steps(),
            "optionalSteps": self.optional_steps(),
            "labels": self.labels(),
            "createdAt": self.created_at.isoformat() + "Z",
        }

    def configured_steps(self) -> list[str]:
        """The journey's steps in order, as set for the reports' funnel; [] when none are."""
        row = JourneySteps.get_or_none(JourneySteps.journey == self.id)
        return list(row.steps) if row else []

    def optional_steps(self) -> list[str]:
        """The configured steps marked optional: skipping one is never a drop-off."""
        row = JourneySteps.get_or_none(JourneySteps.journey == self.id)
        return list(row.optional or []) if row else []

    def labels(self) -> dict[str, str]:
        """The labels the site gives its step and field keys (key: label); {} when none."""
        row = JourneyLabels.get_or_none(JourneyLabels.journey == self.id)
        return dict(row.labels) if row else {}

    def page_labels(self) -> dict[str, str]:
        """The labels the pages give its step and field keys (key: label), as the embed script
        sent them and the refresh kept them (:class:`PageLabel`); {} when none."""
        rows = PageLabel.select(PageLabel.key, PageLabel.label).where(PageLabel.journey == self.id)
        return dict(rows.tuples())

    def shown_labels(self) -> dict[str, str]:
        """What the dashboard shows instead of the keys: the pages' labels, each one the site
        gives (:meth:`labels`) in its place."""
        return {**self.page_labels(), **self.labels()}


class JourneySteps(BaseModel):
    """A journey's configured steps, the order of the reports' funnel (schema version 5).

    A table of its own, so that code reading journeys works on a database not migrated yet.
    """

    journey = ForeignKeyField(Journey, primary_key=True, on_delete="CASCADE")
    steps = JSONField(default=list)
    #: The steps (of ``steps``) a session may skip (schema version 21; null: none).
    optional = JSONField(null=True)

    class Meta:
        table_name = "journey_steps"


#: What a secret key may be used for: sending events through the Events API, reading reports
#: (the report API, the dashboard, share links), managing journeys and keys.
SCOPES = ("ingest", "read", "admin")

#: The most characters of a label a page gives a key that are kept (:class:`PageLabel`).
PAGE_LABEL_LENGTH = 120


class JourneyLabels(BaseModel):
    """Labels a site gives its journey's step and field keys, which the dashboard shows instead
    of the keys (schema version 14); a table of its own, as :class:`JourneySteps`."""

    journey = ForeignKeyField(Journey, primary_key=True, on_delete="CASCADE")
    labels = JSONField(default=dict)

    class Meta:
        table_name = "journey_labels"


class PageLabel(BaseModel):
    """The label a journey's pages give a step or field key (schema version 23): the text of a
    field's ``<label>`` (or ``aria-label``, ``aria-labelledby``) or of a step's heading, as the
    embed script sent it with a ``field_focus`` or ``step_view`` (``title``). Kept by the
    refresh for the keys in the journey's vocabulary only, whitespace collapsed and cut to
    :data:`PAGE_LABEL_LENGTH` characters; the latest sent wins. Labels the site sets
    (:class:`JourneyLabels`) are shown in their place."""

    id = AutoField()
    journey = ForeignKeyField(Journey, on_delete="CASCADE", index=False)
    key = CharField(max_length=128)
    label = CharField(max_length=PAGE_LABEL_LENGTH)

    class Meta:
        table_name = "journey_page_label"
        indexes = ((("journey", "key"), True),)


class ApiKey(BaseModel):
    """A secret key of an organization; only its SHA-256 is stored."""

    id = AutoField()
    organization = ForeignKeyField(Organization, backref="api_keys", on_delete="CASCADE")
    #: The public part of the key (``sk_<lookup>_...``), used to find the row.
    lookup = CharField(max_length=16, unique=True)
    secret_hash = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)
    revoked_at = DateTimeField(null=True)
    #: Its :data:`SCOPES`, space-separated (schema version 11); None for a key created before
    #: scopes existed, which may do everything.
    scopes = CharField(max_length=64, null=True)

    class Meta:
        table_name = "journey_api_key"

    def scope_list(self) -> tuple[str, ...] | None:
        """The key's scopes, or None for a key created before scopes (every scope)."""
        return None if self.scopes is None else tuple(self.scopes.split())

    def allows(self, scope: str) -> bool:
        """Whether the key may be used for ``scope``."""
        scopes = self.scope_list()
        return scopes is None or scope in scopes


class Usage(BaseModel):
    """Events and requests accepted per organization and calendar month (UTC)."""

    id = AutoField()
    organization = ForeignKeyField(Organization, backref="usage", on_delete="CASCADE")
    period = CharField(max_length=7)  # YYYY-MM
    events = BigIntegerField(default=0)
    requests = BigIntegerField(default=0)

    class Meta:
        table_name = "journey_usage"
        indexes = ((("organization", "period"), True),)


class JourneyUsage(BaseModel):
    """Events and requests accepted per journey and calendar month (UTC), metered with
    :class:`Usage` since schema version 13: an organization's usage by journey."""

    id = AutoField()
    journey = ForeignKeyField(Journey, backref="usage", on_delete="CASCADE", index=False)
    period = CharField(max_length=7)  # YYYY-MM
    events = BigIntegerField(default=0)
    requests = BigIntegerField(default=0)

    class Meta:
        table_name = "journey_usage_journey"
        indexes = ((("journey", "period"), True),)


class Event(BaseModel):
    """One behavioural event, whatever wire format it arrived in."""

    id = AutoField()
    # Not indexed alone: the unique (journey, event_id) index serves lookups by journey.
    journey = ForeignKeyField(Journey, backref="events", on_delete="CASCADE", index=False)
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
    #: ISO 3166-1 alpha-2 code of the visitor's country (schema version 12); never the address.
    country = CharField(max_length=2, null=True)
    source = CharField(max_length=64, null=True)
    schema_version = IntegerField(null=True)
    embed_version = CharField(max_length=32, null=True)
    category = CharField(max_length=256, null=True)
    label = CharField(max_length=256, null=True)
    #: Double precision since schema version 8 (PostgreSQL's REAL kept 6 significant digits).
    value = DoubleField(null=True)
    properties = JSONField(null=True)

    class Meta:
        table_name = "journey_event"
        indexes = (
            (("journey", "event_id"), True),
            (("journey", "session_id"), False),
            # Added in schema version 2 (flask_journey.migrations): purge by age.
            (("received_at",), False),
        )


#: Schema version 4: only the events that carry an instance id (seed 002's; the embed script's
#: never do) are in its index. A query for one (``instance_id = ?``) still uses it.
INSTANCE_ID_INDEX = Event.index(
    Event.instance_id,
    name="journey_event_instance_id_given",
    where=Event.instance_id.is_null(False),
)
Event.add_index(INSTANCE_ID_INDEX)

#: Schema version 13: a journey's identify and stage events by time, the only events the report's
#: users are counted from.
PERSON_EVENT_INDEX = Event.index(
    Event.journey,
    Event.occurred_at,
    name="journey_event_person",
    where=Event.type.in_(("identify", "stage")),
)
Event.add_index(PERSON_EVENT_INDEX)


class IdentityLink(BaseModel):
    """One identity a person is known by in a journey, and the person's user key (schema
    version 13).

    An identify event links its user id, its email (both in their stored form, hashed as
    ``JOURNEY_IDENTITY`` says) and its visitor (client id) to one user key; events naming any
    of them are that person's (:mod:`flask_journey.identities`).
    """

    id = AutoField()
    journey = ForeignKeyField(Journey, on_delete="CASCADE", index=False)
    #: ``user`` (a site's user id), ``email`` (an email's stored form) or ``visitor``.
    kind = CharField(max_length=16)
    alias = CharField(max_length=128)
    user_key = CharField(max_length=128)
    #: When the earliest identify naming it occurred (for a visitor: the one that linked it).
    linked_at = DateTimeField()
    #: When an identify naming it was last stored: ``flask journey purge`` forgets it after.
    seen_at = DateTimeField()

    class Meta:
        table_name = "journey_identity"
        indexes = (
            (("journey", "kind", "alias"), True),
            (("journey", "user_key"), False),
        )


class SessionSummary(BaseModel):
    """One session of a journey, summarised from its events for the reports (schema version 5).

    Rebuilt whole from the session's events whenever one of them is new; holds nothing an event
    does not already hold (docs/privacy.md).
    """

    id = AutoField()
    journey = ForeignKeyField(Journey, on_delete="CASCADE", index=False)
    session_id = CharField(max_length=128)
    #: When its first and last events occurred: a session belongs to its first event's range.
    first_at = DateTimeField()
    last_at = DateTimeField()
    #: Segment values: the first event's that has one.
    device_class = CharField(max_length=16, null=True)
    browser = CharField(max_length=64, null=True)
    os = CharField(max_length=64, null=True)
    language = CharField(max_length=35, null=True)
    country = CharField(max_length=2, null=True)
    source = CharField(max_length=256, null=True)
    #: 1 when the session has a field event / submit_attempt / submit_success /
    #: session_end or dropoff_signal, else 0 (integers: summed by the report queries).
    started = IntegerField()
    submitted = IntegerField()
    completed = IntegerField()
    ended = IntegerField()
    #: JSON ``[[stepKey, viewed, seconds or null, [drop-off reasons], first view], ...]``.
    steps = TextField()
    #: The step and field of its last field event ('' for a field event without a step).
    last_step = CharField(max_length=128, null=True)
    last_field = CharField(max_length=128, null=True)
    #: 1 once the session is over and counted in the rollups (schema version 22).
    rolled = SmallIntegerField(default=0)

    class Meta:
        table_name = "journey_session"
        indexes = (
            (("journey", "session_id"), True),
            (("journey", "first_at"), False),
            (("journey", "last_at"), False),
        )


#: Schema version 25: the sessions not rolled up yet (those still open, and those over since the
#: last refresh), a few whatever the traffic: the only ones a report reads row by row. A full
#: index on ``rolled`` looked unselective to SQLite's planner once ``ANALYZE`` had run.
NOT_ROLLED_INDEX = SessionSummary.index(
    SessionSummary.journey,
    name="journey_session_not_rolled",
    where=SessionSummary.rolled == 0,
)
SessionSummary.add_index(NOT_ROLLED_INDEX)


class FieldSummary(BaseModel):
    """One field of one session (schema version 5): the friction numbers of the reports."""

    id = AutoField()
    session = ForeignKeyField(SessionSummary, on_delete="CASCADE")
    #: The step the field's events named; '' when they named none.
    step_key = CharField(max_length=128)
    field_key = CharField(max_length=128)
    started = IntegerField()
    returned = IntegerField()
    #: validation_error events, in all and as JSON ``{errorType: count}`` (null when none).
    errors = IntegerField()
    error_types = TextField(null=True)
    #: Seconds between focus and blur, summed; seconds from first focus to first change
    #: (double precision: PostgreSQL's REAL, a FloatField, would round the milliseconds).
    seconds = DoubleField(null=True)
    hesitation = DoubleField(null=True)

    class Meta:
        table_name = "journey_session_field"


class SessionForm(BaseModel):
    """One session's path through the steps and what followed its validation errors
    (schema version 21): the branch-aware funnel and the error outcomes of the reports."""

    id = AutoField()
    session = ForeignKeyField(SessionSummary, on_delete="CASCADE", unique=True)
    #: JSON list of the step keys the session viewed, in time order, a repeated view once.
    path = TextField()
    #: JSON ``[[stepKey, fieldKey, errorType, recovered, last, seconds to fix or null], ...]``
    #: (:func:`flask_journey.reports.forms.summarise`).
    errors = TextField()
    #: The key of the application its first event naming one belongs to (null: none).
    application = CharField(max_length=64, null=True, index=True)
    #: Seconds from its first event to its first submit_success (null: not completed).
    completion_seconds = DoubleField(null=True)

    class Meta:
        table_name = "journey_session_form"


class HourlyCount(BaseModel):
    """Events of a journey per local hour and per local day of the rollups' time zone, by kind
    and keys (schema version 5; by day since version 24).

    ``grain`` is ``h`` (``hour`` is the start of a local hour) or ``d`` (``hour`` is the start
    of a local day), both as naive UTC. Kinds: ``type`` (type, name), ``page`` (path),
    ``referrer`` (host), ``custom`` (name, category, label, with the sum of ``value``). Missing
    keys are ''.
    """

    id = AutoField()
    journey = ForeignKeyField(Journey, on_delete="CASCADE", index=False)
    hour = DateTimeField()
    grain = CharField(max_length=1, default="h")
    kind = CharField(max_length=16)
    key1 = CharField(max_length=512)
    key2 = CharField(max_length=256)
    key3 = CharField(max_length=256)
    count = BigIntegerField()
    value_sum = DoubleField()

    class Meta:
        table_name = "journey_event_hourly"
        indexes = ((("journey", "grain", "kind", "hour", "key1", "key2", "key3"), True),)


class Rollup(BaseModel):
    """Sums of a journey's sessions that are over, per local day (and week) of the report time
    zone, per segment value and for all (``segment`` ''), by kind and keys (schema version 22): what
    :func:`flask_journey.reports.rollup.contribution` adds up. Holds only counts, sums of
    durations and keys the events already hold.
    """

    journey = ForeignKeyField(Journey, on_delete="CASCADE", index=False)
    #: ``t`` (the trend's kinds by day), ``d`` (the others by day), ``w`` (by week: ``day`` is
    #: its Monday).
    grain = CharField(max_length=1)
    day = CharField(max_length=10)
    segment = CharField(max_length=16)
    value = CharField(max_length=256)
    kind = CharField(max_length=24)
    key1 = TextField()
    key2 = TextField()
    key3 = TextField()
    bucket = IntegerField()
    n = BigIntegerField()
    #: The sum of the durations of a duration's bucket, and of their squares.
    total = DoubleField()
    squares = DoubleField()

    class Meta:
        table_name = "journey_rollup"
        #: Schema version 25: on SQLite the table is its primary key's B-tree.
        schema_manager_class = RowidFreeOnSqlite
        primary_key = CompositeKey(
            "journey", "segment", "value", "grain", "day", "kind", "key1", "key2", "key3", "bucket"
        )


class RefreshState(BaseModel):
    """How far the summaries have read the events table (one row, schema version 5).

    ``watermark`` is the highest event id read; ``gaps`` the JSON list of ``[low, high, seen]``
    id ranges below it that were missing when read (transactions not yet committed), looked
    for again until ``seen`` (a Unix time) is old.
    """

    id = IntegerField(primary_key=True)
    watermark = BigIntegerField()
    gaps = TextField()
    refreshed_at = DateTimeField(null=True)
    #: The time zone whose local days the rollups are kept in (schema version 22).
    zone = CharField(max_length=64, null=True)

    class Meta:
        table_name = "journey_refresh"


class VocabularyValue(BaseModel):
    """A value a journey's reports show on their own (schema version 15): a step key, a field
    with its step, an event name with its type, a custom event's name, category and label, an
    error type or a drop-off reason, admitted by the refresh up to its ``JOURNEY_MAX_*`` limit
    (:mod:`flask_journey.reports.vocabulary`). Holds only keys the events already hold.
    """

    id = AutoField()
    journey = ForeignKeyField(Journey, on_delete="CASCADE", index=False)
    #: One of :data:`flask_journey.reports.vocabulary.KINDS`.
    kind = CharField(max_length=16)
    #: The value; a kind of several parts stores them as a JSON array.
    value = TextField()

    class Meta:
        table_name = "journey_vocabulary"
        indexes = ((("journey", "kind"), False),)


class RefusalCount(BaseModel):
    """How many requests or events of a journey were refused, by day, wire format and reason.

    Added in schema version 6. Only the reason is kept, never what was refused.
    """

    id = AutoField()
    journey = ForeignKeyField(Journey, backref="refusals", on_delete="CASCADE", index=False)
    day = CharField(max_length=10)  # YYYY-MM-DD, UTC
    wire_format = CharField(max_length=16)
    reason = CharField(max_length=32)
    count = BigIntegerField(default=0)

    class Meta:
        table_name = "journey_refusal"
        indexes = ((("journey", "day", "wire_format", "reason"), True),)


class Installation(BaseModel):
    """Values an installation generates once and keeps (schema version 6).

    ``identity_secret`` keys the email hash when neither ``JOURNEY_IDENTITY_SECRET`` nor
    ``SECRET_KEY`` is set.
    """

    id = AutoField()
    name = CharField(max_length=64, unique=True)
    value = TextField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "journey_installation"


class ShareLink(BaseModel):
    """A read-only link to one journey's dashboard (schema version 7); only the SHA-256 of its
    token is stored."""

    id = AutoField()
    journey = ForeignKeyField(Journey, backref="share_links", on_delete="CASCADE")
    #: The public part of the token (``<lookup>.<secret>``), used to find the row.
    lookup = CharField(max_length=16, unique=True)
    token_hash = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)
    #: The secret key of the sign-in that made it (schema version 11); None when made by the
    #: command line or a user the host's access hook let in. Revoking the key revokes the link.
    api_key = ForeignKeyField(ApiKey, null=True, backref="share_links", on_delete="CASCADE")
    #: A fingerprint of the key that signed it (schema version 11), to tell a link the site can
    #: no longer verify; None for links made before.
    key_fingerprint = CharField(max_length=16, null=True)

    class Meta:
        table_name = "journey_share_link"


class DashboardSession(BaseModel):
    """A browser signed in to the dashboard with a secret key (schema version 11).

    Only the SHA-256 of the session id its cookie carries is stored; signing out deletes the
    row, so a copy of the cookie stops working too.
    """

    id = AutoField()
    api_key = ForeignKeyField(ApiKey, backref="dashboard_sessions", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "journey_dashboard_session"


MODELS = (
    Organization,
    Journey,
    JourneySteps,
    JourneyLabels,
    PageLabel,
    ApiKey,
    Usage,
    JourneyUsage,
    Event,
    IdentityLink,
    RefusalCount,
    Installation,
    SessionSummary,
    FieldSummary,
    SessionForm,
    HourlyCount,
    Rollup,
    RefreshState,
    VocabularyValue,
    ShareLink,
    DashboardSession,
)

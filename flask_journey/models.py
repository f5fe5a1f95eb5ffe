"""Peewee models: tenants, secret keys, usage counters and the one canonical events table.

Every wire format writes into :class:`Event`. Times are naive UTC. No model holds an IP
address, a field value or a secret in clear (``docs/privacy.md`` lists every column).
"""

from __future__ import annotations

import datetime as dt

from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    JSONField,
    Model,
    TextField,
)

#: Bound to the app's database by :class:`flask_journey.Journey`.
database = DatabaseProxy()


def utcnow() -> dt.datetime:
    """The current time as a naive UTC datetime, the form every column stores."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


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
            "createdAt": self.created_at.isoformat() + "Z",
        }


class ApiKey(BaseModel):
    """A secret key of an organization; only its SHA-256 is stored."""

    id = AutoField()
    organization = ForeignKeyField(Organization, backref="api_keys", on_delete="CASCADE")
    #: The public part of the key (``sk_<lookup>_...``), used to find the row.
    lookup = CharField(max_length=16, unique=True)
    secret_hash = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)
    revoked_at = DateTimeField(null=True)

    class Meta:
        table_name = "journey_api_key"


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


MODELS = (Organization, Journey, ApiKey, Usage, Event, RefusalCount, Installation)

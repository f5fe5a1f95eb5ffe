"""Every ``JOURNEY_*`` setting, declared once: its default, parser and a line saying what it does.

Each field of :class:`Settings` is one setting: the key is ``JOURNEY_`` and the field's name in
capitals, and :func:`setting` gives its default, the parser that checks (and may convert) a
value, and its one-line doc. :func:`load` reads them all in ``init_app``; a value its parser
refuses stops the app with a ``ValueError`` naming the key. Adding a setting is adding a field.
``docs/configuration.md`` documents every key with its default (``tests/test_config.py`` holds
the two together).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask
from limits import parse_many
from limits.storage import SCHEMES as STORAGE_SCHEMES
from limits.strategies import STRATEGIES

from .privacy import IDENTITY_MODES, IdentityPolicy

#: A parser takes a configured value and returns the value to keep, or raises ``ValueError``
#: with what the value must be (``"must be ..."``); the key is put in front of that message.
Parser = Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class Setting:
    """One row of the table: a ``JOURNEY_*`` key, its default, parser and one-line doc."""

    key: str
    default: Any
    parse: Parser
    doc: str


def setting(default: Any, parse: Parser, doc: str, *, secret: bool = False) -> Any:
    """Declare a field of :class:`Settings` as a setting (see the module's docstring).

    A ``secret`` one is left out of the settings' ``repr``.
    """
    return dataclasses.field(metadata={"setting": (default, parse, doc)}, repr=not secret)


# Parsers.


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be True or False")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("must be a positive integer")
    return value


def seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError("must be a number of seconds, 0 or more")
    return value


def positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError("must be a number above 0")
    return value


def timezone(value: Any) -> str:
    try:
        ZoneInfo(text(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone name such as Europe/Berlin") from None
    return value


#: The URL schemes of a PostgreSQL database (:mod:`flask_journey.db` pools them all).
POSTGRES_SCHEMES = ("postgres", "postgresql", "postgres+pool", "postgresql+pool")


def postgres_url(value: Any) -> str:
    if not isinstance(value, str) or value.partition("://")[0] not in POSTGRES_SCHEMES:
        raise ValueError("must be a postgresql:// URL")
    return value


def optional(parse: Parser) -> Parser:
    """``parse``, or None as it is."""

    def parse_optional(value: Any) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise ValueError(f"{exc} or None") from None

    return parse_optional


def one_of(*choices: str, fold_case: bool = False) -> Parser:
    """One of ``choices`` (in capitals when ``fold_case``: SQLite's pragma values)."""

    def parse_choice(value: Any) -> str:
        if isinstance(value, str) and fold_case:
            value = value.upper()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse_choice


def rate_limits(value: Any) -> str:
    """Rate limits in the ``limits`` library's notation (``"100/minute;1000/hour"``)."""
    try:
        parse_many(text(value))
    except ValueError as exc:
        raise ValueError(f"must be rate limits such as '1000 per hour' ({exc})") from None
    return value


def storage_uri(value: Any) -> str:
    """A ``limits`` storage URI whose scheme the installed ``limits`` knows."""
    if text(value).partition("://")[0] not in STORAGE_SCHEMES:
        raise ValueError("must be a storage URI such as memory:// or redis://host:6379/0")
    return value


def keywords(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("must be a dict")
    return value


def names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(
        isinstance(name, str) for name in value
    ):
        raise ValueError("must be a list of format names")
    return tuple(value)


def url_path(value: Any) -> str:
    """A path where a blueprint is mounted: starts with /, no trailing / (``/`` stays)."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError("must be a path starting with /")
    return value.rstrip("/") or "/"


def secret(value: Any) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, bytes) or not value:
        raise ValueError("must be a non-empty str or bytes")
    return value


#: Options for a redis:// rate-limit storage that JOURNEY_RATELIMIT_STORAGE_OPTIONS does not set:
#: a Redis that stops answering delays a request by half a second, not redis-py's 5 seconds.
REDIS_STORAGE_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated ``JOURNEY_*`` settings of one app, read once in ``init_app``."""

    database_url: str = setting(
        None,
        optional(text),
        "Peewee database URL; None: sqlite:///<instance_path>/journey.sqlite3.",
    )
    report_database_url: str | None = setting(
        None,
        optional(postgres_url),
        "Peewee URL of a PostgreSQL hot standby that serves reports; None: the database's.",
    )
    sqlite_synchronous: str = setting(
        "FULL",
        one_of("OFF", "NORMAL", "FULL", "EXTRA", fold_case=True),
        "SQLite's synchronous pragma: FULL makes every 2xx survive a power cut.",
    )
    tenant_cache_seconds: float = setting(
        10, seconds, "Seconds a worker process keeps a journey it looked up; 0: no cache."
    )
    group_commit: bool = setting(
        True, boolean, "Let concurrent requests of one process share a transaction."
    )
    ratelimit_enabled: bool = setting(True, boolean, "Count and enforce rate limits.")
    ratelimit_default: str = setting(
        "20000 per hour", rate_limits, "Requests per organization/journey pair."
    )
    ratelimit_unknown_origin: str = setting(
        "20 per minute", rate_limits, "Requests per journey and origin it does not list."
    )
    ratelimit_per_client: str | None = setting(
        "60 per minute;1000 per hour",
        optional(rate_limits),
        "Requests per journey from one client address (a salted hash of it); None: none.",
    )
    ratelimit_storage_uri: str = setting(
        None,
        optional(storage_uri),
        "Where limit counters live, as a limits storage URI; None: the host's "
        "RATELIMIT_STORAGE_URI, else memory://.",
    )
    ratelimit_strategy: str = setting(
        "fixed-window", one_of(*STRATEGIES), "The limits strategy that counts requests."
    )
    ratelimit_fail_open: bool = setting(
        True, boolean, "Keep ingesting when the limit storage is unreachable."
    )
    ratelimit_storage_options: dict[str, Any] = setting(
        None,
        optional(keywords),
        "Keyword arguments for the limit storage's client; None: the host's with its URI.",
    )
    max_body_bytes: int = setting(512 * 1024, positive_int, "Largest request body, bytes.")
    max_batch_events: int = setting(500, positive_int, "Most events in one batch.")
    formats: tuple[str, ...] | None = setting(
        None, optional(names), "Names of the wire formats to mount; None: every format."
    )
    keep_query_values: bool = setting(
        False, boolean, "Keep query-string values in stored URLs (utm_* values always are)."
    )
    geoip: bool = setting(
        True, boolean, "Keep each event's country (ISO code), looked up from the visitor's address."
    )
    geoip_database: str | None = setting(
        None,
        optional(text),
        "Path of a country MMDB file (DB-IP Lite, GeoLite2); None: the built-in iptocc data.",
    )
    cors_max_age: int = setting(86400, positive_int, "CORS preflight cache lifetime, seconds.")
    embed_max_age: int = setting(3600, positive_int, "Cache lifetime of /embed/v1.js, seconds.")
    template_helper: bool = setting(True, boolean, "Register the journey_embed Jinja global.")
    retention_days: int | None = setting(
        None, optional(positive_int), "Days of events `flask journey purge` keeps; None: all."
    )
    identity: IdentityPolicy = setting(
        "hash", one_of(*IDENTITY_MODES), "What is stored of an email sent as identity."
    )
    identity_secret: bytes | None = setting(
        None,
        optional(secret),
        "Key of the identity hash; None: the app's SECRET_KEY.",
        secret=True,
    )
    session_idle_minutes: float = setting(
        30, positive_number, "Minutes without events after which reports count a session closed."
    )
    application_idle_days: float = setting(
        30,
        positive_number,
        "Days without events after which reports count an uncompleted application abandoned.",
    )
    report_timezone: str = setting(
        "UTC", timezone, "The IANA time zone of report dates and trends."
    )
    report_max_staleness: float = setting(
        10, seconds, "Seconds a report may lag behind the events before it refreshes first."
    )
    max_steps: int = setting(
        100, positive_int, "Step keys a journey's reports show on their own; others: (other)."
    )
    max_fields: int = setting(
        500, positive_int, "Fields (with their step) a journey's reports show on their own."
    )
    max_event_names: int = setting(
        500, positive_int, "Event names (by type) and custom names with category and label shown."
    )
    max_error_types: int = setting(
        50, positive_int, "Validation error types a journey's reports show on their own."
    )
    max_reasons: int = setting(
        50, positive_int, "Drop-off reasons a journey's reports show on their own."
    )
    max_segment_values: int = setting(
        100, positive_int, "Values of each segment a journey's rollups sum on their own."
    )
    dashboard_url: str | None = setting(
        "/journey", optional(url_path), "Where the dashboard is mounted; None leaves it out."
    )
    dashboard_signin_limit: str = setting(
        "5 per minute", rate_limits, "Failed dashboard sign-ins allowed per client address."
    )
    dashboard_session_seconds: int = setting(
        8 * 3600, positive_int, "Lifetime of a dashboard sign-in with a secret key, seconds."
    )
    share_max_days: int = setting(
        90, positive_int, "The longest a dashboard share link may last, in days."
    )
    share_min_sessions: int = setting(
        10, positive_int, "Counts under it show as '< N' on share links and framed pages."
    )


#: The table: one :class:`Setting` per ``JOURNEY_*`` key, in declaration order.
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f"JOURNEY_{f.name.upper()}", *f.metadata["setting"])
    for f in dataclasses.fields(Settings)
)

#: Each key's default.
DEFAULTS: dict[str, Any] = {s.key: s.default for s in SETTINGS}


def load(app: Flask) -> Settings:
    """Apply the defaults to ``app.config`` and return the validated settings."""
    values: dict[str, Any] = {}
    for entry in SETTINGS:
        value = app.config.setdefault(entry.key, entry.default)
        try:
            values[entry.key[len("JOURNEY_") :].lower()] = entry.parse(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{entry.key} {exc}") from None
    # What some settings mean depends on the app or on other settings.
    if values["database_url"] is None:
        path = os.path.join(app.instance_path, "journey.sqlite3")
        values["database_url"] = f"sqlite:///{path}"
    if values["ratelimit_storage_uri"] is None:
        values["ratelimit_storage_uri"], host_options = host_storage(app)
        values["ratelimit_storage_options"] = values["ratelimit_storage_options"] or host_options
    scheme = values["ratelimit_storage_uri"].partition("://")[0]
    defaults = REDIS_STORAGE_OPTIONS if scheme in ("redis", "rediss", "redis+unix") else {}
    options = values["ratelimit_storage_options"] or {}
    values["ratelimit_storage_options"] = {**defaults, **options}
    key = values["identity_secret"] or secret_key(app)
    values["identity"] = IdentityPolicy(values["identity"], key)
    return Settings(**values)


def host_storage(app: Flask) -> tuple[str, dict[str, Any] | None]:
    """The limit storage of the host's flask-limiter (``RATELIMIT_STORAGE_URI`` and
    ``RATELIMIT_STORAGE_OPTIONS``), so that one Redis serves both; else ``memory://``."""
    uri = app.config.get("RATELIMIT_STORAGE_URI")
    if uri is None:
        return "memory://", None
    try:
        storage_uri(uri)
    except ValueError as exc:
        raise ValueError(
            f"RATELIMIT_STORAGE_URI (the host's, used as JOURNEY_RATELIMIT_STORAGE_URI is not "
            f"set) {exc}"
        ) from None
    options = app.config.get("RATELIMIT_STORAGE_OPTIONS")
    return uri, options if isinstance(options, dict) else None


def secret_key(app: Flask) -> bytes | None:
    """The app's ``SECRET_KEY`` as bytes, or None when it has none."""
    key = app.config.get("SECRET_KEY") or None
    return key.encode() if isinstance(key, str) else key

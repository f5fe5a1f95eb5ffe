"""Every ``JOURNEY_*`` setting, its default, and the one place they are read.

``docs/configuration.md`` documents each key; keep the two in step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask
from limits import parse_many

from .privacy import IDENTITY_MODES, IdentityPolicy

DEFAULTS: dict[str, Any] = {
    # Peewee database URL; None means ``sqlite:///<instance_path>/journey.sqlite3``.
    "JOURNEY_DATABASE_URL": None,
    # SQLite's ``synchronous`` pragma: FULL makes every 2xx survive a power cut.
    "JOURNEY_SQLITE_SYNCHRONOUS": "FULL",
    # Seconds a worker process keeps a journey it looked up; changes made in another process
    # (the CLI, another worker) reach it within that time. 0 looks up every request.
    "JOURNEY_TENANT_CACHE_SECONDS": 10,
    # Let concurrent requests of one process share a transaction (docs/performance.md).
    "JOURNEY_GROUP_COMMIT": True,
    # Rate limits, in flask-limiter's notation.
    "JOURNEY_RATELIMIT_ENABLED": True,
    "JOURNEY_RATELIMIT_DEFAULT": "1000 per hour",
    "JOURNEY_RATELIMIT_UNKNOWN_ORIGIN": "20 per minute",
    "JOURNEY_RATELIMIT_STORAGE_URI": "memory://",
    "JOURNEY_RATELIMIT_STRATEGY": "fixed-window",
    # What happens when the rate-limit storage is unreachable: True keeps ingesting.
    "JOURNEY_RATELIMIT_FAIL_OPEN": True,
    # Keyword arguments for the storage's client (redis.Redis for redis://); None: defaults.
    "JOURNEY_RATELIMIT_STORAGE_OPTIONS": None,
    # Input limits.
    "JOURNEY_MAX_BODY_BYTES": 512 * 1024,
    "JOURNEY_MAX_BATCH_EVENTS": 500,
    # Names of the wire formats to mount; None mounts every format (docs/formats.md).
    "JOURNEY_FORMATS": None,
    # Keep query-string values in stored URLs (utm_* values are always kept).
    "JOURNEY_KEEP_QUERY_VALUES": False,
    # CORS preflight cache lifetime, seconds.
    "JOURNEY_CORS_MAX_AGE": 86400,
    # Cache lifetime of /embed/v1.js, seconds.
    "JOURNEY_EMBED_MAX_AGE": 3600,
    # Register the ``journey_embed`` Jinja global.
    "JOURNEY_TEMPLATE_HELPER": True,
    # Days of events to keep; None keeps everything (``flask journey purge`` applies it).
    "JOURNEY_RETENTION_DAYS": None,
    # What is stored of an email sent as identity: "hash" (keyed hash), "drop" or "keep".
    "JOURNEY_IDENTITY": "hash",
    # Key of the identity hash; None uses the app's SECRET_KEY.
    "JOURNEY_IDENTITY_SECRET": None,
    # Minutes without events after which a session counts as closed in reports.
    "JOURNEY_SESSION_IDLE_MINUTES": 30,
    # The time zone of report dates and trends (an IANA name).
    "JOURNEY_REPORT_TIMEZONE": "UTC",
    # Seconds a report may lag behind stored events before it refreshes the summaries first.
    "JOURNEY_REPORT_MAX_STALENESS": 10,
    # Where the dashboard is mounted; None leaves it out (docs/dashboard.md).
    "JOURNEY_DASHBOARD_URL": "/journey",
    # Failed dashboard sign-ins allowed per client address, in the limits library's notation.
    "JOURNEY_DASHBOARD_SIGNIN_LIMIT": "5 per minute",
    # Lifetime of a dashboard sign-in, seconds.
    "JOURNEY_DASHBOARD_SESSION_SECONDS": 8 * 3600,
}


#: Options for a redis:// rate-limit storage that JOURNEY_RATELIMIT_STORAGE_OPTIONS does not set:
#: a Redis that stops answering delays a request by half a second, not redis-py's 5 seconds.
REDIS_STORAGE_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


@dataclass(frozen=True)
class Settings:
    """The validated ``JOURNEY_*`` settings of one app, read once in ``init_app``."""

    database_url: str
    sqlite_synchronous: str
    tenant_cache_seconds: float
    group_commit: bool
    ratelimit_enabled: bool
    ratelimit_default: str
    ratelimit_unknown_origin: str
    ratelimit_storage_uri: str
    ratelimit_strategy: str
    ratelimit_fail_open: bool
    ratelimit_storage_options: dict[str, Any]
    max_body_bytes: int
    max_batch_events: int
    formats: tuple[str, ...] | None
    keep_query_values: bool
    cors_max_age: int
    embed_max_age: int
    template_helper: bool
    retention_days: int | None
    identity: IdentityPolicy
    session_idle_minutes: float
    report_timezone: str
    report_max_staleness: float
    dashboard_url: str | None
    dashboard_signin_limit: str
    dashboard_session_seconds: int


def load(app: Flask) -> Settings:
    """Apply the defaults to ``app.config`` and return the validated settings."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    cfg = {key[len("JOURNEY_"):].lower(): app.config[key] for key in DEFAULTS}
    if cfg["database_url"] is None:
        path = os.path.join(app.instance_path, "journey.sqlite3")
        cfg["database_url"] = f"sqlite:///{path}"
    if cfg["formats"] is not None:
        cfg["formats"] = tuple(cfg["formats"])
    url = cfg["dashboard_url"]
    if url is not None and (not isinstance(url, str) or not url.startswith("/")):
        raise ValueError("JOURNEY_DASHBOARD_URL must be a path starting with / or None")
    if url is not None:
        cfg["dashboard_url"] = url.rstrip("/") or "/"
    for key in ("ratelimit_default", "ratelimit_unknown_origin", "dashboard_signin_limit"):
        try:
            parse_many(cfg[key])
        except ValueError as exc:
            raise ValueError(f"JOURNEY_{key.upper()}: {exc}") from None
    for key in ("max_body_bytes", "max_batch_events", "cors_max_age", "embed_max_age",
                "dashboard_session_seconds"):
        if not isinstance(cfg[key], int) or cfg[key] <= 0:
            raise ValueError(f"JOURNEY_{key.upper()} must be a positive integer")
    seconds = cfg["tenant_cache_seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError("JOURNEY_TENANT_CACHE_SECONDS must be a number of seconds, 0 or more")
    days = cfg["retention_days"]
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days <= 0):
        raise ValueError("JOURNEY_RETENTION_DAYS must be a positive integer or None")
    options = cfg["ratelimit_storage_options"]
    if options is not None and not isinstance(options, dict):
        raise ValueError("JOURNEY_RATELIMIT_STORAGE_OPTIONS must be a dict or None")
    scheme = cfg["ratelimit_storage_uri"].partition("://")[0]
    defaults = REDIS_STORAGE_OPTIONS if scheme in ("redis", "rediss", "redis+unix") else {}
    cfg["ratelimit_storage_options"] = {**defaults, **(options or {})}
    minutes = cfg["session_idle_minutes"]
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes > 0:
        raise ValueError("JOURNEY_SESSION_IDLE_MINUTES must be a number of minutes above 0")
    staleness = cfg["report_max_staleness"]
    if isinstance(staleness, bool) or not isinstance(staleness, (int, float)) or not staleness >= 0:
        raise ValueError("JOURNEY_REPORT_MAX_STALENESS must be a number of seconds, 0 or more")
    try:
        ZoneInfo(cfg["report_timezone"])
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"JOURNEY_REPORT_TIMEZONE: unknown time zone {cfg['report_timezone']!r}"
        ) from None
    if cfg["identity"] not in IDENTITY_MODES:
        raise ValueError(f"JOURNEY_IDENTITY must be one of {', '.join(IDENTITY_MODES)}")
    secret = cfg.pop("identity_secret") or app.config.get("SECRET_KEY") or None
    if isinstance(secret, str):
        secret = secret.encode()
    cfg["identity"] = IdentityPolicy(cfg["identity"], secret)
    return Settings(**cfg)

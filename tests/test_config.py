"""The JOURNEY_* settings: one table in config.py, documented, every value checked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_journey import Journey
from flask_journey.config import SETTINGS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"

#: A value each key refuses.
INVALID: dict[str, Any] = {
    "JOURNEY_DATABASE_URL": 5,
    "JOURNEY_REPORT_DATABASE_URL": "sqlite:///journey.sqlite3",
    "JOURNEY_SQLITE_SYNCHRONOUS": "SOMETIMES",
    "JOURNEY_TENANT_CACHE_SECONDS": -1,
    "JOURNEY_GROUP_COMMIT": "no",
    "JOURNEY_RATELIMIT_ENABLED": "false",
    "JOURNEY_RATELIMIT_DEFAULT": "often",
    "JOURNEY_RATELIMIT_UNKNOWN_ORIGIN": "20 per fortnight",
    "JOURNEY_RATELIMIT_PER_CLIENT": "lots",
    "JOURNEY_RATELIMIT_STORAGE_URI": "carrier-pigeon://loft",
    "JOURNEY_RATELIMIT_STRATEGY": "first-come",
    "JOURNEY_RATELIMIT_FAIL_OPEN": 1,
    "JOURNEY_RATELIMIT_STORAGE_OPTIONS": ["socket_timeout", 1],
    "JOURNEY_MAX_BODY_BYTES": "512k",
    "JOURNEY_MAX_BATCH_EVENTS": 0,
    "JOURNEY_FORMATS": "journey",
    "JOURNEY_KEEP_QUERY_VALUES": "yes",
    "JOURNEY_GEOIP": "on",
    "JOURNEY_GEOIP_DATABASE": 5,
    "JOURNEY_CORS_MAX_AGE": -1,
    "JOURNEY_EMBED_MAX_AGE": 1.5,
    "JOURNEY_TEMPLATE_HELPER": None,
    "JOURNEY_RETENTION_DAYS": "30",
    "JOURNEY_IDENTITY": "scramble",
    "JOURNEY_IDENTITY_SECRET": 1234,
    "JOURNEY_SESSION_IDLE_MINUTES": 0,
    "JOURNEY_APPLICATION_IDLE_DAYS": 0,
    "JOURNEY_REPORT_TIMEZONE": "Mars/Olympus_Mons",
    "JOURNEY_REPORT_MAX_STALENESS": "10s",
    "JOURNEY_MAX_STEPS": 0,
    "JOURNEY_MAX_FIELDS": "500",
    "JOURNEY_MAX_EVENT_NAMES": -1,
    "JOURNEY_MAX_ERROR_TYPES": 2.5,
    "JOURNEY_MAX_REASONS": None,
    "JOURNEY_MAX_SEGMENT_VALUES": True,
    "JOURNEY_DASHBOARD_URL": "journey",
    "JOURNEY_DASHBOARD_SIGNIN_LIMIT": "5 per blink",
    "JOURNEY_DASHBOARD_SESSION_SECONDS": 0,
    "JOURNEY_SHARE_MAX_DAYS": 0,
    "JOURNEY_SHARE_MIN_SESSIONS": "10",
}


def documented() -> dict[str, str]:
    """Each key of the configuration page's table, with its Default cell."""
    rows = re.findall(r"^\| `(JOURNEY_[A-Z_]+)` \| ([^|]+) \|", DOCS.read_text(), re.MULTILINE)
    return {key: default.strip() for key, default in rows}


def shown(default: Any) -> str:
    """A default as the page writes it: ``"text"``, ``None``, ``True``, ``10``."""
    return json.dumps(default) if isinstance(default, str) else str(default)


def test_every_setting_is_documented_with_its_default_and_nothing_else_is():
    docs = documented()

    assert sorted(docs) == sorted(s.key for s in SETTINGS)
    for entry in SETTINGS:
        assert docs[entry.key].startswith(f"`{shown(entry.default)}`"), entry.key


def test_every_setting_has_a_one_line_doc():
    assert all(entry.doc and "\n" not in entry.doc for entry in SETTINGS)


def test_the_defaults_start_an_app_and_are_written_into_its_config(tmp_path):
    app = Flask("site", instance_path=str(tmp_path))
    Journey(app)

    assert {s.key: app.config[s.key] for s in SETTINGS} == {s.key: s.default for s in SETTINGS}


def test_every_setting_has_an_invalid_value_tested():
    assert sorted(INVALID) == sorted(s.key for s in SETTINGS)


@pytest.mark.parametrize("key", sorted(INVALID))
def test_an_invalid_value_stops_the_app_with_an_error_naming_its_key(tmp_path, key):
    app = Flask("site", instance_path=str(tmp_path))
    app.config[key] = INVALID[key]

    with pytest.raises(ValueError, match=rf"^{key} must be"):
        Journey(app)


@pytest.mark.parametrize(
    "key, value, kept",
    [
        ("JOURNEY_SQLITE_SYNCHRONOUS", "normal", "NORMAL"),
        ("JOURNEY_TENANT_CACHE_SECONDS", 2.5, 2.5),
        ("JOURNEY_FORMATS", ["journey", "typed"], ("journey", "typed")),
        ("JOURNEY_RATELIMIT_STRATEGY", "moving-window", "moving-window"),
        ("JOURNEY_RETENTION_DAYS", 30, 30),
    ],
)
def test_a_valid_value_is_kept_in_the_settings(tmp_path, key, value, kept):
    app = Flask("site", instance_path=str(tmp_path))
    app.config[key] = value
    Journey(app)

    settings = app.extensions["journey"].settings
    assert getattr(settings, key[len("JOURNEY_") :].lower()) == kept


def test_the_identity_secret_is_not_in_the_settings_repr(tmp_path):
    app = Flask("site", instance_path=str(tmp_path))
    app.config["JOURNEY_IDENTITY_SECRET"] = "hush-hush-value"
    Journey(app)

    assert "hush-hush-value" not in repr(app.extensions["journey"].settings)

"""docs/privacy.md lists exactly the columns flask-journey stores, table by table."""

from __future__ import annotations

import re
from pathlib import Path

from flask_journey.migrations import TABLES

PRIVACY = Path(__file__).parent.parent / "docs" / "privacy.md"


def _names(text: str) -> set[str]:
    """The backticked names in ``text``, leaving out what parentheses say about them."""
    return set(re.findall(r"`([^`]+)`", re.sub(r"\([^()]*\)", "", text)))


def documented_columns() -> dict[str, set[str]]:
    """Each table's columns as the page lists them.

    ``journey_event`` has a table of its own, a row per column or group of columns (their
    names in the first cell); every other table is a row ``| `table` | `column`, ... — note |``.
    """
    text = PRIVACY.read_text(encoding="utf-8")
    event_table = text.split("### `journey_event`", 1)[1].split("\n\n", 2)[1]
    event_rows = [line.split("|")[1] for line in event_table.splitlines()[2:]]
    tables = {"journey_event": set().union(*map(_names, event_rows))}
    rest = text.split(event_table, 1)[1]
    for table, columns in re.findall(r"^\| `(journey_\w+)` \| (.*) \|$", rest, re.M):
        tables[table] = _names(columns.split(" — ", 1)[0])
    return tables


def test_the_privacy_statement_lists_every_stored_column_and_no_other():
    stored = {
        model._meta.table_name: {field.column_name for field in model._meta.sorted_fields}
        for model in TABLES
    }

    assert documented_columns() == stored

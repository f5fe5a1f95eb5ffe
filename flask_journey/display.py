"""Showing a sender's text to the owner without letting it lie: control and format characters
made visible.

Step keys, field keys, event names, error types and drop-off reasons are written by whoever
sends events. Shown as sent, a right-to-left override (U+202E) reverses the text around it, an
ESC starts a terminal control sequence, a newline forges a table row. :func:`visible` writes
every such character as an escape (``\\u202e``, ``\\x1b``, ``\\n``) that a person can read and no
screen, terminal or spreadsheet obeys. Pure, without Flask globals; the dashboard, the CLI's
tables and the CSV outputs all go through it.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

#: Unicode categories shown as escapes: controls, format characters (bidi overrides, zero-width
#: joiners), line and paragraph separators, surrogates and unassigned code points.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


@lru_cache(maxsize=4096)
def visible(text: str) -> str:
    """``text`` with every control or format character written as an escape.

    A backslash is left as it is: the result is for a person to read, not to parse back.
    """
    if text.isprintable() and text.isascii():
        return text
    return "".join(
        _escape(char) if unicodedata.category(char) in HIDDEN_CATEGORIES else char for char in text
    )

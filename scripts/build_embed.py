"""Build the served embed script, flask_journey/static/embed/v1.js, from embed.src.js.

    python scripts/build_embed.py           write v1.js
    python scripts/build_embed.py --check   exit 1 if v1.js is not what the source builds to

The minifier is calmjs.parse (PyPI, pure Python; a dev dependency): local names are shortened,
property names and strings kept. Its output depends only on the source, so the build is
reproducible and tests/test_embed_build.py can check that the two files agree.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from calmjs.parse import es5
from calmjs.parse.unparsers.es5 import minify_print

EMBED_DIR = Path(__file__).resolve().parent.parent / "flask_journey" / "static" / "embed"
SOURCE = EMBED_DIR / "embed.src.js"
TARGET = EMBED_DIR / "v1.js"
BANNER = "/*! flask-journey embed v1 */\n"


def build(source: str | None = None) -> str:
    """The served script for ``source`` (by default the text of embed.src.js)."""
    if source is None:
        source = SOURCE.read_text(encoding="utf-8")
    code = minify_print(es5(source), obfuscate=True, drop_semi=True)
    return BANNER + code + "\n"


def gzipped_size(text: str) -> int:
    """Bytes of ``text`` gzipped at the highest level, as a server would send it."""
    return len(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def main(argv: list[str]) -> int:
    built = build()
    if "--check" in argv:
        if TARGET.read_text(encoding="utf-8") != built:
            print(f"{TARGET} is out of date: run python scripts/build_embed.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(built, encoding="utf-8")
    print(f"wrote {TARGET}: {len(built.encode())} bytes, {gzipped_size(built)} gzipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

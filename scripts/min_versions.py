"""Print setup.cfg's install_requires pinned to their lower bounds (``name==version``), one a line.

``scripts/test-min-versions`` installs these to check that the lower bounds are true. A
requirement without a ``>=`` lower bound is an error: every dependency must have one. With
``--test-tools``, print instead the ``dev`` extra's requirements that the tests without a browser
need (as they are: the tools' own versions are not under test).
"""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"
#: What the ``dev`` extra has that the minimum-versions run does not use: the browser, the checkers.
NOT_TEST_TOOLS = {"playwright", "ruff", "mypy"}
LOWER_BOUND = re.compile(r"^([A-Za-z0-9_.\[\]-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)$")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def _config(setup_cfg: Path) -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(setup_cfg)
    return config


def pins(setup_cfg: Path = SETUP_CFG) -> list[str]:
    """install_requires, each pinned to its lower bound."""
    result = []
    for requirement in _lines(_config(setup_cfg)["options"]["install_requires"]):
        match = LOWER_BOUND.match(requirement)
        if match is None:
            raise SystemExit(f"{setup_cfg.name}: {requirement!r} has no plain >= lower bound")
        result.append(f"{match[1]}=={match[2]}")
    return result


def test_tools(setup_cfg: Path = SETUP_CFG) -> list[str]:
    """The ``dev`` extra without :data:`NOT_TEST_TOOLS`."""
    dev = _lines(_config(setup_cfg)["options.extras_require"]["dev"])
    return [r for r in dev if re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0] not in NOT_TEST_TOOLS]


if __name__ == "__main__":
    lines = test_tools() if sys.argv[1:] == ["--test-tools"] else pins()
    sys.stdout.write("".join(f"{line}\n" for line in lines))

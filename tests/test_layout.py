"""The tree a newcomer reads: tests share helpers through their own modules, never each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
#: Modules that hold what tests share; everything else under tests/ is a test module.
SHARED = {
    "helpers",
    "live",
    "servers",
    "hostile",
    "known_journey",
    "forms_report",
    "conftest",
    "__init__",
}


def imported(path: Path) -> set[str]:
    """The modules ``path`` imports, relative ones named as ``tests.<name>``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "tests." if node.level else ""
            names.add(base + (node.module or ""))
    return names


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.py")), ids=lambda p: p.stem)
def test_a_test_module_imports_no_other_test_module_conftest_or_benchmark(path):
    shared = {f"tests.{name}" for name in SHARED - {"conftest"}}
    wrong = {
        name
        for name in imported(path)
        if name.split(".")[0] == "benchmarks" or (name.startswith("tests.") and name not in shared)
    }
    assert not wrong, f"{path.name} imports {sorted(wrong)}"

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
    "known_dashboard",
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


PACKAGE = TESTS.parent / "flask_journey"


def package_imports(path: Path) -> set[str]:
    """The flask_journey modules ``path`` (a module of the package) imports, as dotted names."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("flask_journey"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(parts[: len(parts) - node.level])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module.startswith("flask_journey"):
                names.update(f"{module}.{alias.name}" for alias in node.names)
                names.add(module)
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "formats").glob("*.py")), ids=lambda p: p.stem)
def test_the_adapters_sit_below_storage_importing_no_store_model_or_tenant(path):
    below = ("flask_journey.store", "flask_journey.models", "flask_journey.tenants")
    wrong = {name for name in package_imports(path) if name.startswith(below)}
    assert not wrong, f"formats/{path.name} imports {sorted(wrong)}"


def test_the_canonical_event_is_on_the_ground_floor_importing_nothing_of_the_package():
    assert package_imports(PACKAGE / "events.py") == set()


def test_every_field_of_the_canonical_event_is_a_column_of_the_events_table():
    from flask_journey.events import FIELDS
    from flask_journey.models import Event
    from flask_journey.store import COLUMNS

    assert set(FIELDS) <= set(Event._meta.fields)
    assert ("journey", "wire_format", "received_at", *FIELDS) == COLUMNS


def test_the_reports_read_events_by_the_canonical_event_field_names():
    from flask_journey.events import FIELDS
    from flask_journey.reports import reference, summary
    from flask_journey.reports.refresh import CHUNK_COLUMNS

    for columns in (summary.EVENT_COLUMNS, reference._COLUMNS):
        assert set(columns) - {"id"} <= set(FIELDS)
    assert set(CHUNK_COLUMNS) - {"id", "journey_id"} <= set(FIELDS)


@pytest.mark.parametrize(
    "name", ["store", "identities", "tenants", "installation", "guard", "shares"]
)
def test_the_raw_sql_modules_take_their_database_and_look_up_none(name):
    source = (PACKAGE / f"{name}.py").read_text()
    assert "using(" not in source
    assert "current_database" not in source
    assert "database_or_none" not in source

"""Alembic's non-public API stays behind runner/core/alembic_internals.py, and is still there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

import alembic
from runner.core import alembic_internals
from tests.conftest import REPO

ADAPTER = REPO / "runner" / "core" / "alembic_internals.py"
INTERNAL_NAMES = {"MigrationStep", "StampStep", "RevisionStep", "RevisionMap"}


def test_the_installed_alembic_has_the_shape_the_adapter_relies_on() -> None:
    missing = alembic_internals.problems()

    assert not missing, (
        f"Alembic {alembic.__version__} changed shape; runner/core/alembic_internals.py relies on: "
        + "; ".join(missing)
        + ". Adapt that module (and only it), run the suite, then set the alembic bound in "
        "pyproject.toml to the versions tested."
    )


def test_the_shape_check_notices_a_missing_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself can fail: hide one name it relies on and it must say so."""
    monkeypatch.delattr(ScriptDirectory, "_load_revisions")

    assert alembic_internals.problems() == [
        "ScriptDirectory._load_revisions() yields every revision file "
        "(AttributeError: type object 'ScriptDirectory' has no attribute '_load_revisions')"
    ]


def uses_of_internals(path: Path) -> list[str]:
    """`x._name` (x not self/cls) and Alembic's internal step classes, in a module that imports
    Alembic."""
    tree = ast.parse(path.read_text())
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    if not any(name == "alembic" or name.startswith("alembic.") for name in imported):
        return []
    found = []
    for node in ast.walk(tree):
        private = (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        )
        internal = isinstance(node, ast.ImportFrom) and any(
            alias.name in INTERNAL_NAMES for alias in node.names
        )
        if private or internal:
            line = getattr(node, "lineno", 0)
            found.append(f"{path.relative_to(REPO)}:{line}: {ast.unparse(node)}")
    return found


def test_no_module_but_the_adapter_touches_alembic_internals() -> None:
    modules = [*(REPO / "runner").rglob("*.py"), REPO / "alembic" / "env.py"]

    found = [use for path in modules if path != ADAPTER for use in uses_of_internals(path)]

    assert not found, (
        "Alembic's non-public API used outside runner/core/alembic_internals.py; move it there "
        f"(with a check in problems()): {found}"
    )

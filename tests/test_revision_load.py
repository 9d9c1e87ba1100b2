"""A revision file Python cannot load is one typed error naming the file and line.

Invariant: a SyntaxError or ImportError in a revision file makes every command, `heads`
included, fail with `RevisionLoadFailed` (exit 2): one line on stderr, the JSON error under
--json, no traceback, and the database untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from tests.revision_factory import Rev, write_tree
from tests.test_cli import cli
from tests.test_engine import scalar

COMMANDS = [["heads"], ["current"], ["history"], ["upgrade"], ["sql"], ["stamp", "0001"]]


def broken_tree(root: Path, *, upgrade: str = "pass", imports: str = "") -> dict[str, str]:
    ini = write_tree(root, [Rev("0001", None), Rev("0002", "0001", upgrade, imports=imports)])
    return {"ALEMBIC_CONFIG": str(ini)}


@pytest.fixture
def syntax_error(tmp_path: Path, database_url: URL) -> dict[str, str]:
    env = broken_tree(tmp_path, upgrade="op.execute('SELECT 1'")  # the ) is missing
    return {**env, "DATABASE_URL": database_url.render_as_string(hide_password=False)}


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_a_syntax_error_is_named_once_for_every_command(
    args: list[str], syntax_error: dict[str, str], database_url: URL
) -> None:
    done = cli(*args, "-q", env=syntax_error)

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("FAILED: RevisionLoadFailed: ")
    assert "0002_rev.py" in lines[0] and "line 14" in lines[0] and "SyntaxError" in lines[0]
    assert scalar(database_url, "SELECT to_regclass('alembic_version') IS NULL")


def test_under_json_the_error_is_json(syntax_error: dict[str, str]) -> None:
    done = cli("heads", "--json", env=syntax_error)

    assert done.returncode == 2
    error = json.loads(done.stdout)
    assert error["errorType"] == "RevisionLoadFailed"
    assert error["file"].endswith("0002_rev.py") and error["line"] == 14


def test_a_missing_import_is_named_with_its_line(tmp_path: Path) -> None:
    env = broken_tree(tmp_path, imports="import no_such_module_here\n")

    done = cli("heads", "--json", env=env)

    assert done.returncode == 2, done.stderr
    error = json.loads(done.stdout)
    assert error["errorType"] == "RevisionLoadFailed"
    assert error["file"].endswith("0002_rev.py") and error["line"] == 6
    assert "ModuleNotFoundError" in error["message"] and "no_such_module_here" in error["message"]

"""Each revision file is executed once per run: our duplicate-id scan and Alembic's map share
the loaded scripts (a 300-revision project used to execute every file twice on each run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from runner.core.results import Request
from tests.conftest import engine_for, settings_for
from tests.revision_factory import Rev, write_tree


def _counting(rev: str, parent: str | None) -> Rev:
    """A revision that appends its id to $LOAD_LOG each time Python executes its file."""
    counting = (
        f'import os\nwith open(os.environ["LOAD_LOG"], "a") as _log:\n    _log.write("{rev}\\n")\n'
    )
    return Rev(rev, parent, f"op.execute('CREATE TABLE t{rev} (id int)')", imports=counting)


def test_an_upgrade_executes_each_revision_file_once(
    database_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = write_tree(tmp_path, [_counting("0001", None), _counting("0002", "0001")])
    loads = tmp_path / "loads.txt"
    monkeypatch.setenv("LOAD_LOG", str(loads))

    result = engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))

    assert [a.revision for a in result.applied] == ["0001", "0002"]
    assert sorted(loads.read_text().split()) == ["0001", "0002"]

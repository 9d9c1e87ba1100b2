"""A cold no-op pays for nothing it does not use: the handler's fast path, in a new process,
answers without importing SQLAlchemy or Alembic (a behaviour test, not a timing test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from runner.adapters import handler
from tests.conftest import REPO
from tests.perf.test_fastpath import LINEAR, write_manifest
from tests.revision_factory import write_tree

HEAVY = ("sqlalchemy", "alembic")
PROBE = f"""
import json, sys
from runner.adapters import handler
result = handler.handler({{"command": "upgrade"}}, None)
fast = handler._engine is None
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
# the credential sources the Lambda may use are light too, for the fast path's sake
import runner.core.sources, runner.aws.credentials  # noqa: E401
later = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
print(json.dumps({{"fast": fast, "loaded": loaded, "later": later, "after": result["after"]}}))
"""


def run_probe(url: URL, ini: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "ALEMBIC_CONFIG": str(ini),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_cold_no_op_imports_neither_sqlalchemy_nor_alembic(
    database_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = write_tree(tmp_path, LINEAR)
    write_manifest(ini)
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("ALEMBIC_CONFIG", str(ini))
    handler.reset_engine()
    try:
        assert handler.handler({"command": "upgrade"}, None)["after"] == ["0002"]  # the engine
    finally:
        handler.reset_engine()

    found = run_probe(database_url, ini)

    assert found["fast"] is True and found["after"] == ["0002"]
    assert found["loaded"] == [], f"the fast path imported {found['loaded']}"
    assert found["later"] == [], f"the credential sources import {found['later']}"

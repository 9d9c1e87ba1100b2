"""`history --offline` lists the revisions from the files alone and never starts a database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_history_offline_needs_no_database(tmp_path: Path) -> None:
    devdb = tmp_path / "devdb"
    env = {**os.environ, "AURORA_MIGRATE_DEVDB_DIR": str(devdb)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "runner.adapters.cli", "history", "--offline", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [r["revision"] for r in result["revisions"]][-1] == "0017"
    assert "offline" in result["message"].lower()
    assert {r["applied"] for r in result["revisions"]} == {None}, "not known, so not false"
    assert not devdb.exists(), "nothing was initialised or started"

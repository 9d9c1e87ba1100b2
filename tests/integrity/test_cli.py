"""validate, drift, baseline, repair and import-sql through the real `aurora-migrate` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from tests.conftest import REPO, Server
from tests.integrity.support import copy_project, execute, ship_expected_schema


@pytest.fixture(scope="module")
def project(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ship_expected_schema(pg_server, copy_project(tmp_path_factory.mktemp("project")))


def cli(*args: str, url: URL, ini: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "ALEMBIC_CONFIG": str(ini),
    }
    return subprocess.run(
        [sys.executable, "-m", "runner.adapters.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_validate_drift_and_repair_exit_2_only_with_findings(
    database_url: URL, project: Path
) -> None:
    assert cli("upgrade", url=database_url, ini=project).returncode == 0
    for command in ("validate", "drift", "repair"):
        clean = cli(command, "--json", url=database_url, ini=project)
        assert clean.returncode == 0, (command, clean.stdout, clean.stderr)
        assert json.loads(clean.stdout)["ok"] is True

    execute(database_url, "CREATE INDEX by_hand ON dry_run_log (created_at)")
    drifted = cli("drift", url=database_url, ini=project)
    assert drifted.returncode == 2, drifted.stderr
    assert "drift-added" in drifted.stdout and "by_hand" in drifted.stdout


def test_baseline_refuses_a_database_that_does_not_match(database_url: URL, project: Path) -> None:
    refused = cli("baseline", "0017", "--confirm", "base", url=database_url, ini=project)
    assert refused.returncode == 2, refused.stderr
    assert "BaselineRefused" in refused.stderr

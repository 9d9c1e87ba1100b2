"""`aurora-migrate` exit codes and output: 0 success, 1 migration failure, 2 bad usage/request."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from tests.conftest import write_alembic_ini
from tests.test_engine import versions
from tests.test_plain_alembic import alembic


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner.adapters.cli", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def db_env(database_url: URL) -> dict[str, str]:
    return {"DATABASE_URL": database_url.render_as_string(hide_password=False)}


def test_upgrade_no_op_and_json(db_env: dict[str, str], database_url: URL) -> None:
    first = cli("upgrade", env=db_env)
    assert first.returncode == 0, first.stderr
    assert "0017" in first.stdout and "create dry_run_log" in first.stdout
    assert versions(database_url) == ["0017"]
    second = cli("upgrade", "--json", "-q", env=db_env)
    assert second.returncode == 0
    result = json.loads(second.stdout)
    assert result["ok"] and result["applied"] == [] and result["after"] == ["0017"]
    for command in ("current", "history", "heads", "sql"):
        done = cli(command, "--json", env=db_env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["command"] == command
    lines = [json.loads(line) for line in first.stderr.splitlines() if line.startswith("{")]
    assert {"run.start", "step", "run.finish"} <= {line.get("event") for line in lines}


def test_downgrade_needs_confirm(db_env: dict[str, str], database_url: URL) -> None:
    assert cli("upgrade", env=db_env).returncode == 0
    refused = cli("downgrade", "base", env=db_env)
    assert refused.returncode == 2
    assert "FAILED: ConfirmationRequired" in refused.stderr and "--confirm 0017" in refused.stderr
    assert versions(database_url) == ["0017"]
    done = cli("downgrade", "base", "--confirm", "0017", "--json", env=db_env)
    assert done.returncode == 0 and json.loads(done.stdout)["after"] == []
    assert cli("stamp", "0017", env=db_env).returncode == 2
    assert cli("stamp", "0017", "--confirm", "base", env=db_env).returncode == 0
    assert versions(database_url) == ["0017"]


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],  # unknown command (argparse)
        ["downgrade"],  # missing REV (argparse)
        ["upgrade", "--bogus"],  # unknown option (argparse)
        ["upgrade", "0999"],  # unknown revision
        ["upgrade", "head;drop"],  # malformed revision
    ],
)
def test_bad_usage_exits_2(args: list[str], db_env: dict[str, str], database_url: URL) -> None:
    done = cli(*args, env=db_env)
    assert done.returncode == 2, done.stderr
    assert versions(database_url) == []


def test_bad_request_json_error(db_env: dict[str, str]) -> None:
    done = cli("upgrade", "0999", "--json", env=db_env)
    assert done.returncode == 2
    error = json.loads(done.stdout)
    assert error["ok"] is False and error["errorType"] == "UnknownRevision"


def test_migration_failure_exits_1(
    db_env: dict[str, str], database_url: URL, tmp_path: Path
) -> None:
    env = {**db_env, "ALEMBIC_CONFIG": str(write_alembic_ini("failing", tmp_path))}
    done = cli("upgrade", "--json", env=env)
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["errorType"] == "MigrationFailed" and error["revision"] == "0003"
    assert error["state"] == ["0002"]
    assert versions(database_url) == ["0002"]


def test_unreachable_database_exits_1() -> None:
    from runner.local.localpg import free_port

    env = {"DATABASE_URL": f"postgresql://u:p4ssw0rd-x@127.0.0.1:{free_port()}/db"}
    done = cli("current", env=env)
    assert done.returncode == 1 and "DatabaseUnavailable" in done.stderr


def test_invalid_setting_exits_2(db_env: dict[str, str]) -> None:
    done = cli("current", env={**db_env, "MIGRATION_LOCK_WAIT_SECONDS": "soon"})
    assert done.returncode == 2 and "MIGRATION_LOCK_WAIT_SECONDS" in done.stderr


def test_devdb_lifecycle() -> None:
    root = Path(tempfile.mkdtemp(prefix="aurora-devdb-"))
    root.chmod(0o755)  # the server user must be able to traverse it
    env = {"AURORA_MIGRATE_DEVDB_DIR": str(root / "devdb")}
    try:
        up = cli("upgrade", "--json", env=env)
        assert up.returncode == 0, up.stderr
        assert json.loads(up.stdout)["after"] == ["0017"]
        url = cli("devdb", "url", env=env)
        assert url.returncode == 0 and "***" in url.stdout and "aurora_dev" in url.stdout
        shown = cli("devdb", "url", "--show-password", env=env).stdout.strip()
        assert "***" not in shown
        assert json.loads(cli("current", "--json", env=env).stdout)["after"] == ["0017"]
        plain = alembic("current", env=env)  # plain alembic finds the running dev database
        assert plain.returncode == 0 and "0017 (head)" in plain.stdout, plain.stderr
        reset = cli("devdb", "reset", env=env)
        assert reset.returncode == 0
        assert json.loads(cli("current", "--json", env=env).stdout)["after"] == []
    finally:
        cli("devdb", "stop", env=env)
    assert cli("devdb", "url", env=env).returncode == 2
    shutil.rmtree(root, ignore_errors=True)

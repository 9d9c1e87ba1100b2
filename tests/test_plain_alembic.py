"""Plain `alembic` commands (what authors type) reach the same database the runner would.

`alembic/env.py` connects to DATABASE_URL, else to the local development database if it is
running (that path is in tests/test_cli.py's devdb test), else refuses with Alembic's own
`FAILED:` line and what to do. Run as the real `alembic` command, in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import URL

from tests.conftest import REPO
from tests.test_engine import versions


def alembic(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "alembic"), "-c", str(REPO / "alembic.ini"), *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_upgrade_and_current_use_database_url(database_url: URL) -> None:
    env = {"DATABASE_URL": database_url.render_as_string(hide_password=False)}

    upgraded = alembic("upgrade", "head", env=env)
    current = alembic("current", env=env)

    assert upgraded.returncode == 0, upgraded.stderr
    assert versions(database_url) == ["0017"]
    assert current.returncode == 0, current.stderr
    assert "0017 (head)" in current.stdout
    assert str(database_url.password) not in upgraded.stdout + upgraded.stderr


def test_no_database_is_refused_with_what_to_do(tmp_path: Path) -> None:
    env = {"AURORA_MIGRATE_DEVDB_DIR": str(tmp_path / "no-devdb-here")}

    done = alembic("upgrade", "head", env=env)

    said = done.stdout + done.stderr
    assert done.returncode != 0
    assert "FAILED: ConfigurationError: No database to connect to" in said, said
    assert "aurora-migrate devdb start" in said
    assert "Traceback" not in said
    assert not (tmp_path / "no-devdb-here").exists(), "no dev database was started"


def test_an_invalid_setting_is_refused_before_connecting(database_url: URL) -> None:
    env = {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "MIGRATION_LOCK_WAIT_SECONDS": "soon",
    }

    done = alembic("upgrade", "head", env=env)

    said = done.stdout + done.stderr
    assert done.returncode != 0
    assert "FAILED: ConfigurationError:" in said, said
    assert "MIGRATION_LOCK_WAIT_SECONDS" in said
    assert "Traceback" not in said
    assert versions(database_url) == []

"""What a person watching a run sees while it runs, and after it fails.

Invariants: on a terminal each revision gets its own line (revision, description, time) as
it is applied, before the summary; a run that had to wait for the migration lock says so;
a failed run shows the revisions it applied before the failure, as the database records
them, piped or not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.core.lock import LOCK_KEY
from tests.conftest import REPO, write_alembic_ini
from tests.locks import LockHolder
from tests.terminal import in_terminal, plain
from tests.test_cli import cli
from tests.test_cli_output import table
from tests.test_engine import versions

WAITING_FOR_OUR_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'aurora-migrate'"
    " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
)


def env_for(url: URL, tree: str, tmp: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "ALEMBIC_CONFIG": str(write_alembic_ini(tree, tmp)),
    }


def test_each_revision_gets_a_line_as_it_runs(database_url: URL, tmp_path: Path) -> None:
    screen = in_terminal("upgrade", env=env_for(database_url, "chain", tmp_path))

    assert screen.returncode == 0, screen.text
    progress = [line for line in screen.lines if line.startswith("✓ ")]
    assert [line.split()[1:4] for line in progress] == [
        ["0001", "step", "1"],
        ["0002", "step", "2"],
        ["0003", "step", "3"],
        ["0004", "step", "4"],
    ]
    assert all(line.endswith(" ms") for line in progress), progress
    summary = next(i for i, line in enumerate(screen.lines) if line.startswith("upgrade on"))
    last = max(i for i, line in enumerate(screen.lines) if line.startswith("✓ "))
    assert last < summary, "the live lines come before the summary"


def test_piped_output_has_no_live_lines(database_url: URL, tmp_path: Path) -> None:
    done = cli("upgrade", env=env_for(database_url, "chain", tmp_path))

    assert done.returncode == 0
    assert "✓" not in done.stdout + done.stderr


def test_a_failed_run_shows_what_it_applied_before_the_failure(
    database_url: URL, tmp_path: Path
) -> None:
    done = cli("upgrade", env=env_for(database_url, "failing", tmp_path))

    assert done.returncode == 1
    assert "applied before the failure" in done.stdout
    assert [row[:3] for row in table(done.stdout.splitlines())] == [
        ["0001", "step 1", "up"],
        ["0002", "step 2", "up"],
    ]
    assert "FAILED: MigrationFailed: Revision 0003" in done.stderr
    assert versions(database_url) == ["0002"]


def test_a_failed_run_on_a_terminal_shows_the_table_too(database_url: URL, tmp_path: Path) -> None:
    screen = in_terminal("upgrade", env=env_for(database_url, "failing", tmp_path))

    assert screen.returncode == 1
    assert "applied before the failure" in screen.text
    assert "✗ 0003" in screen.text, "the revision in flight is marked as failed"
    said = [line for line in screen.lines if line]
    assert said[-1].startswith("FAILED: MigrationFailed: Revision 0003")


def test_a_run_that_waited_for_the_lock_says_so(database_url: URL, tmp_path: Path) -> None:
    """Another run holds the migration lock; ours waits, then says how long it waited."""
    env = env_for(database_url, "chain", tmp_path)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with LockHolder(database_url, f"SELECT pg_advisory_lock({LOCK_KEY})") as holder:
        run = subprocess.Popen(
            [sys.executable, "-m", "runner.adapters.cli", "upgrade", "--log-format", "human"],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with engine.connect() as conn:
            while not conn.execute(sa.text(WAITING_FOR_OUR_LOCK)).scalar():
                conn.rollback()  # a new snapshot of pg_stat_activity each time
                assert run.poll() is None, run.communicate()
                time.sleep(0.05)
        holder.release()
        _out, err = run.communicate(timeout=120)
    engine.dispose()

    assert run.returncode == 0, err
    waited = [line for line in plain(err).splitlines() if line.startswith("waited ")]
    assert len(waited) == 1 and "for the migration lock" in waited[0], err
    assert "another run held it" in waited[0]

"""`aurora-migrate sql` writes real SQL: what a DBA can apply by hand with the same effect.

Invariants: piped (or with --output) stdout is SQL and nothing else, whole, never cut at the
terminal width; the headers go to stderr; applying that SQL with `psql -v ON_ERROR_STOP=1`
leaves the schema, `alembic_version` and the history table as a real `upgrade` does.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from runner.local.localpg import find_bindir
from tests.conftest import Server, write_alembic_ini
from tests.terminal import in_terminal
from tests.test_cli import cli
from tests.test_engine import rows, versions

HISTORY = "SELECT revision, description, direction FROM aurora_migrations_history ORDER BY id"


@pytest.fixture
def second_database(pg_server: Server) -> Iterator[URL]:
    url = pg_server.create_database()
    try:
        yield url
    finally:
        pg_server.drop_database(url)


def env_for(url: URL, ini: Path | None = None) -> dict[str, str]:
    env = {"DATABASE_URL": url.render_as_string(hide_password=False)}
    if ini is not None:
        env["ALEMBIC_CONFIG"] = str(ini)
    return env


def libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def psql(url: URL, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", libpq(url)],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
    )


def schema(url: URL) -> str:
    """The schema as pg_dump prints it, without comments and the per-dump `\\restrict` key."""
    done = subprocess.run(
        [str(find_bindir() / "pg_dump"), "--schema-only", "--no-owner", libpq(url)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return "\n".join(
        line
        for line in done.stdout.splitlines()
        if line and not line.startswith(("--", "\\restrict", "\\unrestrict"))
    )


def test_piped_sql_applied_by_psql_matches_a_real_upgrade(
    database_url: URL, second_database: URL
) -> None:
    """The project's own tree: 0017 has long COMMENT ON statements, longer than 80 columns."""
    planned = cli("sql", env=env_for(database_url))
    assert planned.returncode == 0, planned.stderr
    assert not planned.stdout.startswith("sql on"), "no header in the SQL"
    assert "upgrade: 1 revision(s), none run" in planned.stderr, "the headers go to stderr"

    applied = psql(database_url, planned.stdout)
    assert applied.returncode == 0, applied.stderr
    upgraded = cli("upgrade", env=env_for(second_database))
    assert upgraded.returncode == 0, upgraded.stderr

    assert schema(database_url) == schema(second_database)
    assert versions(database_url) == versions(second_database) == ["0017"]
    assert (
        rows(database_url, HISTORY)
        == rows(second_database, HISTORY)
        == [("0017", "create dry_run_log", "up")]
    )
    ((run_id, command),) = rows(
        database_url, "SELECT run_id, command FROM aurora_migrations_history"
    )
    assert str(run_id).startswith("offline-") and command == "sql"


def test_sql_from_a_migrated_database_moves_the_version_row(
    database_url: URL, second_database: URL, tmp_path: Path
) -> None:
    """From 0002 to head: the version row is updated (`... WHERE version_num = '0002'`), and
    both databases end with the same ledger, version and history."""
    ini = write_alembic_ini("chain", tmp_path)
    for url in (database_url, second_database):
        assert cli("upgrade", "0002", env=env_for(url, ini)).returncode == 0

    planned = cli("sql", env=env_for(database_url, ini))
    assert planned.returncode == 0, planned.stderr
    assert "version_num = '0003';" in planned.stdout, "the whole UPDATE, not cut at 80 columns"
    applied = psql(database_url, planned.stdout)
    assert applied.returncode == 0, applied.stderr
    assert cli("upgrade", env=env_for(second_database, ini)).returncode == 0

    assert versions(database_url) == versions(second_database) == ["0004"]
    assert rows(database_url, HISTORY) == rows(second_database, HISTORY)
    assert rows(database_url, "SELECT * FROM ledger") == rows(
        second_database, "SELECT * FROM ledger"
    )


def test_downgrade_sql_records_the_downgrade_too(
    database_url: URL, second_database: URL, tmp_path: Path
) -> None:
    ini = write_alembic_ini("chain", tmp_path)
    for url in (database_url, second_database):
        assert cli("upgrade", env=env_for(url, ini)).returncode == 0

    planned = cli("sql", "0002", env=env_for(database_url, ini))
    assert psql(database_url, planned.stdout).returncode == 0
    reverted = cli("downgrade", "0002", "--confirm", "0004", env=env_for(second_database, ini))
    assert reverted.returncode == 0, reverted.stderr

    assert versions(database_url) == versions(second_database) == ["0002"]
    assert rows(database_url, HISTORY) == rows(second_database, HISTORY)


def test_output_file_gets_the_same_sql_and_stdout_stays_empty(
    database_url: URL, tmp_path: Path
) -> None:
    piped = cli("sql", env=env_for(database_url))
    plan = tmp_path / "plan.sql"

    written = cli("sql", "--output", str(plan), env=env_for(database_url))

    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert _without_run_id(plan.read_text()) == _without_run_id(piped.stdout)
    assert str(plan) in written.stderr, "says where the SQL went"


def test_nothing_to_run_is_still_valid_sql(database_url: URL) -> None:
    assert cli("upgrade", env=env_for(database_url)).returncode == 0

    planned = cli("sql", env=env_for(database_url))

    assert planned.stdout.strip() == "-- nothing to run"
    assert psql(database_url, planned.stdout).returncode == 0


def test_on_a_terminal_the_sql_is_highlighted_and_still_whole(database_url: URL) -> None:
    screen = in_terminal("sql", env=env_for(database_url), columns=80)

    assert screen.returncode == 0, screen.text
    assert "\x1b[" in screen.raw, "colours on a terminal"
    piped = cli("sql", env=env_for(database_url)).stdout
    long_lines = [line for line in piped.splitlines() if len(line) > 80]
    assert long_lines, "the check covers statements wider than the terminal"
    for line in long_lines:
        if "offline-" not in line:  # the run id differs between the two runs
            assert line in screen.text


def _without_run_id(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if "offline-" not in line)


def test_an_output_file_that_cannot_be_written_is_a_typed_refusal(
    database_url: URL, tmp_path: Path
) -> None:
    plan = tmp_path / "no-such-folder" / "plan.sql"

    done = cli("sql", "--output", str(plan), "--json", env=env_for(database_url))

    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["errorType"] == "OutputUnwritable"
    assert not plan.parent.exists()

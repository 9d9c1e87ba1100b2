"""What an operator reads: the human (non-`--json`) output of the real `aurora-migrate`.

Run as a subprocess with its output piped, as in CI logs or `aurora-migrate sql > plan.sql`
(tests/test_cli_progress.py and tests/test_cli_flags.py look at a terminal).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy.engine import URL

from runner.adapters import render
from runner.core.progress import STEP_DONE, Progress
from runner.core.results import Result
from tests.conftest import write_alembic_ini
from tests.test_cli import cli


@pytest.fixture
def chain_env(database_url: URL, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "ALEMBIC_CONFIG": str(write_alembic_ini("chain", tmp_path)),
    }


def run(*args: str, env: dict[str, str]) -> list[str]:
    done = cli(*args, "-q", env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout.splitlines()


def table(lines: list[str]) -> list[list[str]]:
    """The body rows of the table(s) in the output, cell by cell."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if line[:1] == "│"]


def test_upgrade_says_what_changed_and_lists_each_revision(chain_env: dict[str, str]) -> None:
    out = run("upgrade", "0002", env=chain_env)

    assert out[0].startswith("upgrade on postgresql+psycopg2://postgres:***@")
    assert out[1] == "database: base (no revision applied) -> 0002"
    assert [row[:3] for row in table(out)] == [["0001", "step 1", "up"], ["0002", "step 2", "up"]]
    assert all(row[3].isdigit() for row in table(out)), "each revision's duration in ms"
    assert "pending: 0003, 0004" in out
    assert "2 revision(s) applied." in out
    assert out[-1].startswith("took ") and out[-1].endswith(" ms")


def test_history_marks_applied_pending_and_the_head(chain_env: dict[str, str]) -> None:
    run("upgrade", "0002", env=chain_env)

    out = run("history", env=chain_env)

    assert out[1] == "database: 0002"
    rows = table(out)
    assert [row[:4] for row in rows] == [
        ["0001", "step 1", "applied", ""],
        ["0002", "step 2", "applied", ""],
        ["0003", "step 3", "pending", ""],
        ["0004", "step 4", "pending", "yes"],
    ]
    assert rows[0][4][:2] == "20" and rows[1][4][:2] == "20", "when each was applied"
    assert rows[2][4] == rows[3][4] == ""
    assert "pending: 0003, 0004" in out


def test_heads_needs_no_revision_table_and_hides_the_password(
    chain_env: dict[str, str], database_url: URL
) -> None:
    out = run("heads", env=chain_env)

    assert out[1:] == ["heads: 0004"]
    assert str(database_url.password) not in "\n".join(out)


def test_sql_prints_every_statement_whole(chain_env: dict[str, str]) -> None:
    """Piped output is 80 columns wide; the SQL must still come out verbatim, not cropped:
    stdout is exactly the SQL of the JSON result (but for the run id), the summary is on
    stderr (tests/test_cli_sql.py applies it with psql)."""
    run("upgrade", "0002", env=chain_env)
    done = cli("sql", "--json", env=chain_env)
    expected = json.loads(done.stdout)["sql"].splitlines()

    printed = cli("sql", "-q", env=chain_env)

    assert _without_run_ids(printed.stdout.splitlines()) == _without_run_ids(expected)
    assert any(len(line) > 80 for line in expected), "the check covers a long statement"
    assert "upgrade: 2 revision(s), none run" in printed.stderr.splitlines()


def _without_run_ids(lines: list[str]) -> list[str]:
    return [re.sub(r"'offline-[0-9a-f-]+'", "'offline-RUN'", line) for line in lines]


def test_sql_says_so_when_there_is_nothing_to_run(chain_env: dict[str, str]) -> None:
    run("upgrade", env=chain_env)

    printed = cli("sql", "-q", env=chain_env)

    assert printed.stdout == "-- nothing to run\n"
    assert "upgrade: 0 revision(s), none run" in printed.stderr.splitlines()


def test_downgrade_shows_the_move_and_what_was_reverted(chain_env: dict[str, str]) -> None:
    run("upgrade", "0002", env=chain_env)

    out = run("downgrade", "0001", "--confirm", "0002", env=chain_env)

    assert out[1] == "database: 0002 -> 0001"
    assert [row[:3] for row in table(out)] == [["0002", "step 2", "down"]]
    assert "1 revision(s) reverted." in out


def test_an_incomplete_run_says_to_run_again() -> None:
    """Only the Lambda's time guard stops a run early, so the CLI never prints this itself."""
    console = Console(file=io.StringIO(), width=80)
    stopped = Result("upgrade", before=[], after=["0001"], pending=["0002"], complete=False)

    render.result(console, stopped, database="postgresql+psycopg2://u:***@h/db")

    out = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert "incomplete: run the command again to continue" in out
    assert "pending: 0002" in out


def test_a_report_is_a_key_value_table() -> None:
    """`aurora-migrate bundle` without --json (building one takes PyPI: tests/aws/test_bundle.py
    runs the command itself with --json)."""
    console = Console(file=io.StringIO(), width=80)

    render.mapping(console, "bundle", {"arch": "arm64", "files": 1234})

    out = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert out[0].strip() == "bundle"
    assert table(out) == [["arch", "arm64"], ["files", "1234"]]


def test_the_failure_table_names_revisions_the_progress_did_not_see() -> None:
    """The database's list wins: a revision recorded without a progress event (for example
    one whose commit was retried) is still listed, described from its file."""
    console = Console(file=io.StringIO(), width=100)
    seen = [Progress(STEP_DONE, "0001", "step 1", "up", 12)]

    render.applied_before_failure(
        console, "upgrade", ["0001", "0002"], seen, describe=lambda rev: f"file of {rev}"
    )

    out = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert out[0].startswith("applied before the failure (2)")
    assert table(out) == [["0001", "step 1", "up", "12"], ["0002", "file of 0002", "", ""]]

"""What each revision costs in round trips, and that the cheaper record stays true.

Between two revisions the engine sends one statement list (session limits, the finished
row turned `applied`, the lock check and the next revision's `running` row) inside the
finished revision's transaction, so each revision commits once. These tests pin that cost
(by counting statements and commits, never by timing) and the guarantees it must keep: no
`running` row for a revision the run never started, and a truthful row for a revision
whose COMMIT itself fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from runner.core.errors import LockLost, MigrationFailed
from runner.core.results import Request
from tests.conftest import engine_for, settings_for
from tests.revision_factory import Rev, ledger_chain, write_tree
from tests.test_engine import rows, versions

REVISIONS = 20
HISTORY = "SELECT revision, status FROM aurora_migrations_history ORDER BY id"


@pytest.fixture
def sent() -> Iterator[Counter[str]]:
    """Counts the statements and commits this process sends, on every engine."""
    counted: Counter[str] = Counter()

    def statement(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        counted["statements"] += 1

    def commit(conn: Any) -> None:
        counted["commits"] += 1

    sa.event.listen(Engine, "before_cursor_execute", statement)
    sa.event.listen(Engine, "commit", commit)
    try:
        yield counted
    finally:
        sa.event.remove(Engine, "before_cursor_execute", statement)
        sa.event.remove(Engine, "commit", commit)


def test_each_revision_commits_once_and_costs_two_statements_beyond_its_own(
    database_url: URL, tmp_path: Path, sent: Counter[str]
) -> None:
    """Per revision: Alembic's version row and our one book-keeping list, one COMMIT.

    A fixed few more per run (session, lock, reads, the history table, the first row)."""
    ini = write_tree(tmp_path, [Rev(f"{n:04d}", f"{n - 1:04d}" if n > 1 else None)
                                for n in range(1, REVISIONS + 1)])  # fmt: skip
    engine = engine_for(settings_for(database_url, alembic_config=str(ini), lock_timeout_ms=0))
    result = engine.run(Request("upgrade"))
    assert len(result.applied) == REVISIONS
    assert sent["commits"] <= REVISIONS + 12, sent
    assert sent["statements"] <= 2 * REVISIONS + 20, sent
    applied = rows(database_url, HISTORY)
    assert applied == [(f"{n:04d}", "applied") for n in range(1, REVISIONS + 1)]


def test_a_run_stopped_by_the_time_guard_leaves_no_running_row(
    database_url: URL, tmp_path: Path
) -> None:
    """The next revision's row is written only if the time guard lets it start."""
    engine = engine_for(settings_for(database_url, "chain", tmp_path, time_guard_margin_ms=1000))
    budget = iter([5000, 5000, 10])  # two revisions, then not
    result = engine.run(Request("upgrade"), remaining_ms=lambda: next(budget))
    assert [a.revision for a in result.applied] == ["0001", "0002"]
    assert rows(database_url, HISTORY) == [("0001", "applied"), ("0002", "applied")]


def test_a_run_that_lost_its_lock_leaves_no_row_for_the_revision_it_did_not_start(
    database_url: URL, tmp_path: Path
) -> None:
    """The next row is written only while the lock is held: the check and the write are one
    statement."""
    revs = ledger_chain(3)
    revs[1] = Rev("0002", "0001", "op.execute('SELECT pg_advisory_unlock_all()')")
    ini = write_tree(tmp_path, revs)
    with pytest.raises(LockLost):
        engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    assert versions(database_url) == ["0002"]
    assert rows(database_url, HISTORY) == [("0001", "applied"), ("0002", "applied")]


DEFERRED = Rev(
    "0002",
    "0001",
    """
    op.execute("CREATE TABLE once (id INT UNIQUE DEFERRABLE INITIALLY DEFERRED)")
    op.execute("INSERT INTO once VALUES (1), (1)")
    """,
)


def test_a_revision_whose_commit_fails_is_recorded_failed_not_running(
    database_url: URL, tmp_path: Path
) -> None:
    """A deferred constraint fails at COMMIT, after the revision's hook wrote its record:
    the revision rolled back, and its row says `failed` (the session is alive, so it is not
    left `running` for repair to guess about)."""
    ini = write_tree(tmp_path, [Rev("0001", None), DEFERRED, Rev("0003", "0002")])
    with pytest.raises(MigrationFailed) as failed:
        engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    assert "duplicate key" in failed.value.message
    assert versions(database_url) == ["0001"]
    assert rows(database_url, HISTORY) == [("0001", "applied"), ("0002", "failed")]
    assert rows(database_url, "SELECT to_regclass('once') IS NULL") == [(True,)]

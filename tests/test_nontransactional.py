"""Revisions whose work escapes their transaction are recorded exactly as what took effect.

A revision that commits the migration transaction itself (`op.get_bind().commit()`, a
`COMMIT` sent as SQL before `CREATE INDEX CONCURRENTLY`) or uses `autocommit_block()` has
effects no rollback can undo. The runner commits its version row and history row right
after it, so `applied` always equals what the database records; and when such a revision
fails, the error lists the statements that may have taken effect instead of claiming a
clean rollback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from runner.core.errors import MigrationFailed
from runner.core.results import Request
from tests.conftest import LogCapture, engine_for, settings_for
from tests.revision_factory import Rev, write_tree
from tests.test_engine import rows, scalar, versions

BASE = Rev("0001", None, "op.execute('CREATE TABLE items (id INT, name TEXT)')")
BROKEN = Rev("0003", "0002", "op.execute('SELECT * FROM no_such_table')")
GOOD = Rev("0003", "0002", "op.execute('CREATE TABLE later (id INT)')")


def history(url: URL) -> list[str]:
    """The revisions recorded as applied (a failed step's row is kept, marked failed)."""
    found = rows(
        url, "SELECT revision FROM aurora_migrations_history WHERE status = 'applied' ORDER BY id"
    )
    return [str(r[0]) for r in found]


def index_exists(url: URL, name: str) -> bool:
    return bool(scalar(url, f"SELECT to_regclass('{name}') IS NOT NULL"))


def run_upgrade(url: URL, tmp_path: Path, revs: list[Rev]) -> MigrationFailed:
    ini = write_tree(tmp_path, revs)
    with pytest.raises(MigrationFailed) as failed:
        engine_for(settings_for(url, alembic_config=str(ini))).run(Request("upgrade"))
    return failed.value


SELF_COMMIT = Rev(
    "0002",
    "0001",
    """
    op.execute("INSERT INTO items VALUES (1, 'before the commit')")
    op.get_bind().commit()
    op.execute("CREATE INDEX ix_items_name ON items (name)")
    """,
)


def test_a_self_committing_revision_stays_recorded_when_the_next_one_fails(
    database_url: URL, tmp_path: Path, logs: LogCapture
) -> None:
    error = run_upgrade(database_url, tmp_path, [BASE, SELF_COMMIT, BROKEN])

    assert error.details["revision"] == "0003"
    assert error.details["applied"] == ["0001", "0002"]
    assert versions(database_url) == ["0002"], "the version row of 0002 was committed"
    assert history(database_url) == ["0001", "0002"]
    assert index_exists(database_url, "ix_items_name")
    assert logs.events("step.committed_itself")[0]["revision"] == "0002"


def test_applied_equals_what_the_database_records(database_url: URL, tmp_path: Path) -> None:
    ini = write_tree(tmp_path, [BASE, SELF_COMMIT, GOOD])
    result = engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    assert [a.revision for a in result.applied] == history(database_url) == ["0001", "0002", "0003"]
    assert result.after == versions(database_url) == ["0003"]


def test_sql_commit_then_concurrent_index_then_failure_lists_what_took_effect(
    database_url: URL, tmp_path: Path
) -> None:
    concurrently = Rev(
        "0002",
        "0001",
        """
        op.execute("COMMIT")
        op.execute("CREATE INDEX CONCURRENTLY ix_items_id ON items (id)")
        op.execute("SELECT * FROM no_such_table")
        """,
    )
    error = run_upgrade(database_url, tmp_path, [BASE, concurrently])

    assert error.details["revision"] == "0002"
    assert "may have taken effect" in error.message
    assert "CREATE INDEX CONCURRENTLY ix_items_id ON items (id)" in error.message
    assert any("ix_items_id" in s for s in error.details["took_effect"])
    assert index_exists(database_url, "ix_items_id"), "the index really did take effect"
    assert versions(database_url) == ["0001"] and history(database_url) == ["0001"]


def test_autocommit_block_then_failure_is_not_called_a_clean_rollback(
    database_url: URL, tmp_path: Path
) -> None:
    block = Rev(
        "0002",
        "0001",
        """
        with op.get_context().autocommit_block():
            op.execute("CREATE INDEX CONCURRENTLY ix_items_both ON items (id, name)")
        op.execute("ALTER TABLE items ADD COLUMN broken no_such_type")
        """,
    )
    error = run_upgrade(database_url, tmp_path, [BASE, block])

    assert "CREATE INDEX CONCURRENTLY ix_items_both" in error.message
    assert "may have taken effect" in error.message
    assert index_exists(database_url, "ix_items_both")
    assert versions(database_url) == ["0001"] and history(database_url) == ["0001"]


def test_an_ordinary_failure_still_says_rolled_back_and_lists_nothing(
    database_url: URL, tmp_path: Path
) -> None:
    plain = Rev("0002", "0001", "op.execute('CREATE INDEX ix_plain ON items (id)')")
    error = run_upgrade(database_url, tmp_path, [BASE, plain, BROKEN])
    assert "failed and was rolled back" in error.message
    assert "may have taken effect" not in error.message and "took_effect" not in error.details
    assert versions(database_url) == ["0002"]

"""`repair` finds what a failed or interrupted run left, clears only what is safe with
confirm, records every action, and never records a revision as applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from runner.adapters import handler
from runner.core.errors import ConfirmationRequired, ConnectionLost, MigrationFailed
from runner.core.results import Request
from tests.conftest import engine_for, settings_for
from tests.integrity.support import execute
from tests.revision_factory import Rev, write_tree
from tests.test_engine import rows, scalar, versions

ITEMS = Rev(
    "0001",
    None,
    "op.execute('CREATE TABLE items (id INT)')\nop.execute('INSERT INTO items VALUES (1), (1)')",
)
FAILED_INDEX = Rev(
    "0002",
    "0001",
    "with op.get_context().autocommit_block():\n"
    "    op.execute('CREATE UNIQUE INDEX CONCURRENTLY ix_items_unique ON items (id)')",
)
DIES = Rev("0002", "0001", "op.execute('SELECT pg_terminate_backend(pg_backend_pid())')")


def run(url: URL, ini: Path, **request: Any) -> Any:
    return engine_for(settings_for(url, alembic_config=str(ini))).run(Request("repair", **request))


def found(result: Any) -> list[tuple[str, str | None]]:
    return [(f.id, f.revision) for f in result.findings]


def test_a_clean_database_has_nothing_to_repair(database_url: URL, tmp_path: Path) -> None:
    ini = write_tree(tmp_path, [ITEMS])
    engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    assert run(database_url, ini).findings == []


def test_an_invalid_index_left_by_a_failed_revision_is_dropped_with_confirm(
    database_url: URL, tmp_path: Path
) -> None:
    ini = write_tree(tmp_path, [ITEMS, FAILED_INDEX])
    with pytest.raises(MigrationFailed):
        engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    assert scalar(database_url, "SELECT NOT indisvalid FROM pg_index "
                  "WHERE indexrelid = 'ix_items_unique'::regclass")  # fmt: skip

    report = run(database_url, ini)
    assert found(report) == [("invalid-index", "0002")]
    assert scalar(database_url, "SELECT to_regclass('ix_items_unique') IS NOT NULL"), "report only"

    with pytest.raises(ConfirmationRequired):
        run(database_url, ini, confirm="0002")
    cleared = run(database_url, ini, confirm="0001")
    assert cleared.actions == ["dropped the invalid index ix_items_unique left by 0002"]
    assert cleared.findings == []
    assert scalar(database_url, "SELECT to_regclass('ix_items_unique')") is None
    assert versions(database_url) == ["0001"], "0002 is not recorded as applied"
    recorded = rows(
        database_url,
        "SELECT revision, direction, details->>'index' FROM aurora_migrations_history"
        " WHERE direction = 'repair'",
    )
    assert recorded == [("0002", "repair", "ix_items_unique")]


def test_an_invalid_index_of_unknown_origin_is_only_reported(
    database_url: URL, tmp_path: Path
) -> None:
    ini = write_tree(tmp_path, [ITEMS, Rev("0002", "0001", "op.execute('SELECT * FROM nope')")])
    with pytest.raises(MigrationFailed):  # a failed revision whose file names no such index
        engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    with pytest.raises(Exception, match="could not create unique index"):
        execute(database_url, "CREATE UNIQUE INDEX CONCURRENTLY ix_by_hand ON items (id)")
    cleared = run(database_url, ini, confirm="0001")
    assert cleared.actions == []
    assert found(cleared) == [("invalid-index", None)]
    assert scalar(database_url, "SELECT to_regclass('ix_by_hand') IS NOT NULL"), "left alone"


def test_a_run_that_died_mid_step_leaves_a_running_row_that_repair_clears(
    database_url: URL, tmp_path: Path
) -> None:
    ini = write_tree(tmp_path, [ITEMS, DIES])
    with pytest.raises(ConnectionLost):
        engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    status = "SELECT revision, status FROM aurora_migrations_history ORDER BY id"
    assert rows(database_url, status) == [("0001", "applied"), ("0002", "running")]

    assert found(run(database_url, ini)) == [("stale-running-row", "0002")]
    cleared = run(database_url, ini, confirm="0001")
    assert len(cleared.actions) == 1 and "stale running row" in cleared.actions[0]
    assert rows(database_url, status) == [
        ("0001", "applied"),
        ("0002", "failed"),
        ("0002", "applied"),  # the repair row itself: the action was applied
    ]
    assert rows(database_url, "SELECT direction FROM aurora_migrations_history ORDER BY id")[
        -1
    ] == ("repair",)
    assert versions(database_url) == ["0001"], "never marks the unapplied revision as applied"
    assert run(database_url, ini).findings == []


def test_a_version_that_disagrees_with_the_history_is_reported_not_fixed(
    database_url: URL, tmp_path: Path
) -> None:
    ini = write_tree(tmp_path, [ITEMS, Rev("0002", "0001", "pass")])
    engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    execute(database_url, "UPDATE alembic_version SET version_num = '0001'")
    assert found(run(database_url, ini)) == [("version-history-mismatch", "0002")]
    after = run(database_url, ini, confirm="0001")
    assert after.actions == [] and found(after) == [("version-history-mismatch", "0002")]
    assert versions(database_url) == ["0001"]


def test_the_lambda_repair_event(
    database_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = write_tree(tmp_path, [ITEMS, DIES])
    with pytest.raises(ConnectionLost):
        engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("ALEMBIC_CONFIG", str(ini))
    handler.reset_engine()
    try:
        report = handler.handler({"command": "repair"}, None)
        cleared = handler.handler({"command": "repair", "confirm": "0001"}, None)
    finally:
        handler.reset_engine()
    assert [f["id"] for f in report["findings"]] == ["stale-running-row"]
    assert cleared["findings"] == [] and len(cleared["actions"]) == 1

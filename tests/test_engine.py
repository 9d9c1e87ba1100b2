"""The engine on real PostgreSQL: upgrade, no-op, downgrade, stamp, sql, history, failures."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.core.errors import (
    ConfirmationRequired,
    DatabaseAhead,
    InvalidTarget,
    LockTimeout,
    LockWaitTimeout,
    MigrationFailed,
    MultipleHeads,
    StatementTimeout,
    UnknownRevision,
)
from runner.core.lock import LOCK_KEY
from runner.core.results import Request
from tests.conftest import LogCapture, engine_for, settings_for
from tests.locks import LockHolder

RESULT_KEYS = {"ok", "command", "before", "after", "applied", "pending", "duration_ms"}


def scalar(url: URL, sql: str) -> object:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql)).scalar()
    engine.dispose()
    return value


def rows(url: URL, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(sa.text(sql))]
    engine.dispose()
    return found


def versions(url: URL) -> list[str]:
    if not scalar(url, "SELECT to_regclass('alembic_version') IS NOT NULL"):
        return []
    return sorted(str(r[0]) for r in rows(url, "SELECT version_num FROM alembic_version"))


def test_upgrade_creates_dry_run_log_exactly(database_url: URL, logs: LogCapture) -> None:
    result = engine_for(settings_for(database_url)).run(Request("upgrade", "head"))
    data = result.to_dict()
    assert set(data) >= RESULT_KEYS
    assert data["ok"] is True and data["before"] == [] and data["after"] == ["0017"]
    assert [(a["revision"], a["direction"]) for a in data["applied"]] == [("0017", "up")]
    assert data["pending"] == []
    columns = rows(
        database_url,
        "SELECT column_name, data_type, is_nullable, column_default,"
        " character_maximum_length, col_description('dry_run_log'::regclass, ordinal_position)"
        " FROM information_schema.columns WHERE table_name = 'dry_run_log'"
        " ORDER BY ordinal_position",
    )
    assert [c[:5] for c in columns] == [
        ("log_id", "uuid", "NO", None, None),
        ("tenant_id", "uuid", "NO", None, None),
        ("lead_id", "uuid", "YES", None, None),
        ("canal_decidido", "character varying", "NO", None, 20),
        ("motivo_decisao", "text", "NO", None, None),
        ("disparo_seria_executado", "boolean", "YES", "true", None),
        ("razao_bloqueio", "text", "YES", None, None),
        ("ambiente", "character varying", "YES", "'dev'::character varying", 10),
        ("feature_flag_enabled", "boolean", "YES", "false", None),
        ("created_at", "timestamp without time zone", "YES", "now()", None),
    ]
    assert all(c[5] for c in columns), "every column has a comment"
    assert scalar(database_url, "SELECT obj_description('dry_run_log'::regclass, 'pg_class')")
    assert (
        scalar(
            database_url,
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = i.indkey[0] WHERE i.indrelid = 'dry_run_log'::regclass"
            " AND i.indisprimary",
        )
        == "log_id"
    )
    found = rows(
        database_url, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'dry_run_log'"
    )
    indexes = {str(name): str(definition) for name, definition in found}
    assert indexes["idx_dry_run_tenant"].endswith("(tenant_id, created_at DESC)")
    assert indexes["idx_dry_run_canal"].endswith("(canal_decidido)")
    assert indexes["idx_dry_run_ambiente"].endswith("(ambiente, created_at DESC)")
    names = [r["event"] for r in logs.records if "event" in r]
    assert names[0] == "run.start" and names[-1] == "run.finish"
    step = logs.events("step")[0]
    assert step["revision"] == "0017" and isinstance(step["duration_ms"], int)


def test_second_upgrade_is_a_no_op(database_url: URL) -> None:
    engine = engine_for(settings_for(database_url))
    engine.run(Request("upgrade", "head"))
    again = engine.run(Request("upgrade", "head"))
    assert again.applied == [] and again.before == again.after == ["0017"]
    assert scalar(database_url, "SELECT count(*) FROM aurora_migrations_history") == 1


def test_downgrade_needs_confirm_equal_to_current(database_url: URL) -> None:
    engine = engine_for(settings_for(database_url))
    engine.run(Request("upgrade", "head"))
    for confirm in (None, "0016", "head"):
        with pytest.raises(ConfirmationRequired) as refused:
            engine.run(Request("downgrade", "base", confirm=confirm))
        assert "confirm='0017'" in str(refused.value)
        assert versions(database_url) == ["0017"]
        assert scalar(database_url, "SELECT to_regclass('dry_run_log') IS NOT NULL")
    result = engine.run(Request("downgrade", "-1", confirm="0017"))
    assert [(a.revision, a.direction) for a in result.applied] == [("0017", "down")]
    assert result.after == [] and versions(database_url) == []
    assert scalar(database_url, "SELECT to_regclass('dry_run_log') IS NULL")
    assert (
        scalar(database_url, "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'idx_dry_run%'")
        == 0
    )


def test_stamp_needs_confirm_and_runs_nothing(database_url: URL) -> None:
    engine = engine_for(settings_for(database_url))
    with pytest.raises(ConfirmationRequired):
        engine.run(Request("stamp", "0017"))
    assert versions(database_url) == []
    assert rows(database_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == []
    result = engine.run(Request("stamp", "0017", confirm="base"))
    assert result.after == ["0017"] and versions(database_url) == ["0017"]
    assert [(a.revision, a.direction) for a in result.applied] == [("0017", "stamp")]
    assert scalar(database_url, "SELECT to_regclass('dry_run_log') IS NULL"), "stamp ran no SQL"
    engine.run(Request("stamp", "base", confirm="0017"))
    assert versions(database_url) == []


def test_sql_shows_the_pending_sql_and_changes_nothing(database_url: URL) -> None:
    engine = engine_for(settings_for(database_url))
    result = engine.run(Request("sql", "head"))
    assert result.sql is not None
    assert "CREATE TABLE dry_run_log" in result.sql
    assert (
        "CREATE INDEX idx_dry_run_tenant ON dry_run_log (tenant_id, created_at DESC)" in result.sql
    )
    assert "INSERT INTO alembic_version (version_num) VALUES ('0017')" in result.sql
    assert result.applied == [] and result.pending == ["0017"]
    assert scalar(database_url, "SELECT to_regclass('alembic_version') IS NULL")
    engine.run(Request("upgrade"))
    down = engine.run(Request("sql", "base"))
    assert down.sql is not None and "DROP TABLE dry_run_log" in down.sql
    assert versions(database_url) == ["0017"]


def test_current_history_and_heads(database_url: URL, tmp_path: Path) -> None:
    engine = engine_for(settings_for(database_url, "chain", tmp_path))
    engine.run(Request("upgrade", "0002"))
    current = engine.run(Request("current"))
    assert current.after == ["0002"] and current.pending == ["0003", "0004"]
    history = engine.run(Request("history")).to_dict()
    assert [(r["revision"], r["applied"]) for r in history["revisions"]] == [
        ("0001", True),
        ("0002", True),
        ("0003", False),
        ("0004", False),
    ]
    assert history["revisions"][0]["applied_at"]
    assert engine.run(Request("heads")).heads == ["0004"]


def test_failing_revision_rolls_back_alone(
    database_url: URL, tmp_path: Path, logs: LogCapture
) -> None:
    engine = engine_for(settings_for(database_url, "failing", tmp_path))
    with pytest.raises(MigrationFailed) as failed:
        engine.run(Request("upgrade", "head"))
    error = failed.value
    assert type(error) is MigrationFailed
    assert "0003" in str(error) and "no_such_table" in str(error)
    assert "now at 0002" in str(error)
    assert error.details["revision"] == "0003" and error.details["state"] == ["0002"]
    assert error.details["applied"] == ["0001", "0002"]
    assert versions(database_url) == ["0002"]
    assert scalar(database_url, "SELECT to_regclass('table_2') IS NOT NULL")
    assert scalar(database_url, "SELECT to_regclass('table_3') IS NULL"), "0003 rolled back whole"
    history = "SELECT revision, status FROM aurora_migrations_history ORDER BY id"
    assert [tuple(r) for r in rows(database_url, history)] == [
        ("0001", "applied"),
        ("0002", "applied"),
        ("0003", "failed"),
    ], "the failed step's row is kept, marked failed"
    failure = logs.events("run.failed")[0]
    assert failure["error_type"] == "MigrationFailed" and failure["applied"] == ["0001", "0002"]


def test_statement_timeout_is_typed(database_url: URL, tmp_path: Path) -> None:
    engine = engine_for(settings_for(database_url, "slow", tmp_path, statement_timeout_ms=300))
    with pytest.raises(StatementTimeout) as failed:
        engine.run(Request("upgrade"))
    assert "0002" in str(failed.value) and "MIGRATION_STATEMENT_TIMEOUT_MS" in str(failed.value)
    assert versions(database_url) == ["0001"]


def test_lock_timeout_is_typed(database_url: URL, tmp_path: Path) -> None:
    engine = engine_for(settings_for(database_url, "slow", tmp_path, lock_timeout_ms=200))
    engine.run(Request("upgrade", "0001"))
    with (
        LockHolder(database_url, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE"),
        pytest.raises(LockTimeout) as failed,
    ):
        engine.run(Request("upgrade"))
    assert "MIGRATION_LOCK_TIMEOUT_MS" in str(failed.value)
    assert versions(database_url) == ["0001"]


def test_waiting_for_the_migration_lock_times_out(database_url: URL, logs: LogCapture) -> None:
    engine = engine_for(settings_for(database_url, lock_wait_s=0.3))
    with (
        LockHolder(database_url, f"SELECT pg_advisory_lock({LOCK_KEY})"),
        pytest.raises(LockWaitTimeout),
    ):
        engine.run(Request("upgrade"))
    assert versions(database_url) == []
    assert logs.events("lock.waiting")


def test_multiple_heads_are_refused(database_url: URL, tmp_path: Path) -> None:
    engine = engine_for(settings_for(database_url, "branched", tmp_path))
    with pytest.raises(MultipleHeads) as refused:
        engine.run(Request("upgrade", "head"))
    assert "0002a" in str(refused.value) and "0002b" in str(refused.value)
    assert scalar(database_url, "SELECT to_regclass('alembic_version') IS NULL")


def test_unknown_and_unreachable_targets(database_url: URL) -> None:
    engine = engine_for(settings_for(database_url))
    with pytest.raises(UnknownRevision):
        engine.run(Request("upgrade", "abc123"))
    with pytest.raises(InvalidTarget):
        engine.run(Request("downgrade", "-1", confirm="base"))
    assert scalar(database_url, "SELECT to_regclass('alembic_version') IS NULL")


def test_database_ahead_of_the_project_is_refused(database_url: URL) -> None:
    engine = engine_for(settings_for(database_url))
    engine.run(Request("upgrade"))
    with sa.create_engine(database_url).begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(DatabaseAhead):
        engine.run(Request("upgrade"))
    assert versions(database_url) == ["0099"]


def test_time_guard_stops_between_revisions(
    database_url: URL, tmp_path: Path, logs: LogCapture
) -> None:
    engine = engine_for(settings_for(database_url, "chain", tmp_path, time_guard_margin_ms=1000))
    budget = iter([5000, 5000, 10])  # enough time for two revisions, then not
    result = engine.run(Request("upgrade"), remaining_ms=lambda: next(budget))
    assert result.complete is False
    assert [a.revision for a in result.applied] == ["0001", "0002"]
    assert result.pending == ["0003", "0004"] and versions(database_url) == ["0002"]
    assert logs.events("time_guard.stop")[0]["next_revision"] == "0003"
    resumed = engine.run(Request("upgrade"), remaining_ms=lambda: 60_000)
    assert resumed.complete and [a.revision for a in resumed.applied] == ["0003", "0004"]


def test_the_time_guard_margin_is_inclusive(database_url: URL, tmp_path: Path) -> None:
    """Exactly the margin left is enough to start a revision; one millisecond less is not."""
    engine = engine_for(settings_for(database_url, "chain", tmp_path, time_guard_margin_ms=1000))
    budget = iter([1000, 999])
    result = engine.run(Request("upgrade"), remaining_ms=lambda: next(budget))
    assert [a.revision for a in result.applied] == ["0001"], "started with exactly the margin"
    assert result.complete is False and versions(database_url) == ["0001"]

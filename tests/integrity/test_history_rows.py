"""Every history row says which file ran (its sha256), which runner, and who ran it; a failed
step's row is kept, marked failed, without secrets; older tables are upgraded in place."""

from __future__ import annotations

import getpass
import hashlib
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.core import history_table
from runner.core.errors import MigrationFailed
from runner.core.results import Request
from tests.conftest import REPO, engine_for, settings_for
from tests.revision_factory import Rev, write_tree
from tests.test_engine import rows

OLD_TABLE = """
CREATE TABLE aurora_migrations_history (
    id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, command TEXT NOT NULL,
    revision TEXT NOT NULL, description TEXT NOT NULL, direction TEXT NOT NULL
        CONSTRAINT aurora_migrations_history_direction_check
        CHECK (direction IN ('up', 'down', 'stamp', 'bootstrap')),
    duration_ms INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    request_id TEXT);
INSERT INTO aurora_migrations_history (run_id, command, revision, description, direction,
    duration_ms) VALUES ('old-run', 'upgrade', '0016', 'by hand', 'up', 5);
"""


def execute(url: URL, sql: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


def history(url: URL) -> list[dict[str, object]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = [
            dict(r._mapping)
            for r in conn.execute(sa.text("SELECT * FROM aurora_migrations_history ORDER BY id"))
        ]
    engine.dispose()
    return found


def test_an_applied_row_records_the_file_digest_runner_and_who(database_url: URL) -> None:
    engine = engine_for(settings_for(database_url))
    engine.run(Request("upgrade"), request_id="req-1", function_arn=None)
    [row] = history(database_url)
    digest = hashlib.sha256(
        (REPO / "alembic" / "versions" / "0017_create_dry_run_log.py").read_bytes()
    ).hexdigest()
    assert row["status"] == "applied" and row["revision"] == "0017"
    assert row["checksum"] == digest, "the same digest as manifest.json's revision_files"
    assert row["runner_version"] == "0.1.0"
    assert row["run_by"] == f"{getpass.getuser()}@{socket.gethostname()}"
    assert row["request_id"] == "req-1" and row["function_arn"] is None


def test_a_lambda_run_records_the_function_arn(
    database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "aurora-migrate")
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:aurora-migrate"
    engine_for(settings_for(database_url)).run(
        Request("upgrade"), request_id="abc", function_arn=arn
    )
    [row] = history(database_url)
    assert (row["run_by"], row["function_arn"], row["request_id"]) == (
        "lambda:aurora-migrate",
        arn,
        "abc",
    )


def test_a_failed_step_keeps_its_row_marked_failed_without_the_password(
    database_url: URL, tmp_path: Path
) -> None:
    password = database_url.password
    assert password
    ini = write_tree(
        tmp_path,
        [
            Rev("0001", None, "op.execute('CREATE TABLE items (id INT)')"),
            Rev("0002", "0001", f"op.execute(\"SELECT '{password}'::int\")"),
        ],
    )
    engine = engine_for(settings_for(database_url, alembic_config=str(ini)))
    with pytest.raises(MigrationFailed):
        engine.run(Request("upgrade"))
    first, failed = history(database_url)
    assert (first["revision"], first["status"]) == ("0001", "applied")
    assert (failed["revision"], failed["status"]) == ("0002", "failed")
    assert (
        failed["checksum"]
        == hashlib.sha256(
            next((tmp_path / "tree" / "versions").glob("0002_*.py")).read_bytes()
        ).hexdigest()
    )
    error = str(failed["error"])
    assert "invalid input syntax for type integer" in error
    assert password not in error, "the history never stores a password"


def test_an_older_table_is_upgraded_in_place_and_loses_nothing(database_url: URL) -> None:
    execute(database_url, OLD_TABLE)
    engine_for(settings_for(database_url)).run(Request("upgrade"))
    old, new = history(database_url)
    assert (old["run_id"], old["revision"], old["duration_ms"]) == ("old-run", "0016", 5)
    assert old["checksum"] is None and old["status"] == "applied"
    assert new["revision"] == "0017" and new["checksum"]
    columns = {
        r[0]
        for r in rows(
            database_url,
            "SELECT column_name FROM "
            "information_schema.columns WHERE table_name = 'aurora_migrations_history'",
        )
    }
    assert set(history_table.NEW_COLUMNS) <= columns

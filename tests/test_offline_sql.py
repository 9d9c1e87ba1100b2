"""`sql` on revisions that cannot run without a database is a typed failure naming them.

Invariant: a revision that reads query results or commits on the (mock) offline connection
makes `sql` fail with `OfflineSqlUnavailable` (exit 1) that names the revision, with a
`run.failed` log line and JSON under `--json`; never a traceback or `InternalError`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from runner.adapters import handler
from runner.core.errors import OfflineSqlUnavailable
from runner.core.results import Request
from tests.conftest import LogCapture, engine_for, settings_for, write_alembic_ini
from tests.test_cli import cli
from tests.test_engine import versions
from tests.test_handler import LambdaContext


def test_reading_a_query_result_is_named(
    database_url: URL, tmp_path: Path, logs: LogCapture
) -> None:
    engine = engine_for(settings_for(database_url, "offline", tmp_path))
    with pytest.raises(OfflineSqlUnavailable) as failed:
        engine.run(Request("sql", "head"))
    error = failed.value
    assert error.details["revision"] == "0002" and "Revision 0002" in error.message
    assert "without a database" in error.message
    assert versions(database_url) == []
    failure = logs.events("run.failed")[0]
    assert failure["error_type"] == "OfflineSqlUnavailable"


def test_committing_on_the_connection_is_named(database_url: URL, tmp_path: Path) -> None:
    engine = engine_for(settings_for(database_url, "offline", tmp_path))
    engine.run(Request("upgrade", "0002"))  # online, 0002 reads its result just fine
    with pytest.raises(OfflineSqlUnavailable) as failed:
        engine.run(Request("sql", "head"))
    assert failed.value.details["revision"] == "0003"
    assert engine.run(Request("sql", "0002")).pending == [], "what can render still renders"
    assert versions(database_url) == ["0002"]


def test_cli_prints_json_and_exits_1(database_url: URL, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "ALEMBIC_CONFIG": str(write_alembic_ini("offline", tmp_path)),
    }
    done = cli("sql", "--json", env=env)
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)
    assert error["errorType"] == "OfflineSqlUnavailable" and error["revision"] == "0002"
    assert "Traceback" not in done.stderr
    assert any(
        json.loads(line).get("event") == "run.failed"
        for line in done.stderr.splitlines()
        if line.startswith("{")
    )


def test_lambda_reports_the_type_not_internal_error(
    database_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("ALEMBIC_CONFIG", str(write_alembic_ini("offline", tmp_path)))
    handler.reset_engine()
    try:
        with pytest.raises(OfflineSqlUnavailable):
            handler.handler({"command": "sql"}, LambdaContext())
    finally:
        handler.reset_engine()

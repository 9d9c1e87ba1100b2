"""The Lambda handler: sample events succeed, every class of bad event is refused untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from runner.adapters import handler
from runner.core import errors
from tests.conftest import LogCapture, write_alembic_ini
from tests.test_engine import rows, scalar, versions

EVENTS = Path(__file__).resolve().parent / "events"
BAD_EVENTS = sorted((EVENTS / "bad").glob("*.json"))


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object the handler reads."""

    aws_request_id: str = "req-0001"
    function_name: str = "aurora-migrations"
    remaining_ms: int = 600_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def lambda_env(database_url: URL, monkeypatch: pytest.MonkeyPatch) -> Iterator[URL]:
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    handler.reset_engine()
    yield database_url
    handler.reset_engine()


def snapshot(url: URL) -> tuple[object, ...]:
    tables = rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    history = (
        scalar(url, "SELECT count(*) FROM aurora_migrations_history")
        if ("aurora_migrations_history",) in tables
        else None
    )
    return (versions(url), tables, history)


def test_sample_events_succeed_in_order(lambda_env: URL, logs: LogCapture) -> None:
    ctx = LambdaContext()
    assert "CREATE TABLE dry_run_log" in handler.handler(load("sql.json"), ctx)["sql"]
    up = handler.handler(load("upgrade.json"), ctx)
    assert up["ok"] and up["after"] == ["0017"] and up["applied"][0]["revision"] == "0017"
    json.dumps(up)  # the result is plain JSON
    assert handler.handler(load("current.json"), ctx)["after"] == ["0017"]
    assert handler.handler(load("history.json"), ctx)["revisions"][0]["applied"] is True
    assert handler.handler(load("heads.json"), ctx)["heads"] == ["0017"]
    down = handler.handler(load("downgrade.json"), ctx)
    assert down["after"] == [] and versions(lambda_env) == []
    stamp = handler.handler(load("stamp.json"), ctx)
    assert stamp["after"] == ["0017"]
    starts = logs.events("run.start")
    assert len(starts) == 7 and all(r["request_id"] == "req-0001" for r in starts)


@pytest.mark.parametrize("path", BAD_EVENTS, ids=[p.stem for p in BAD_EVENTS])
def test_bad_events_raise_typed_errors_and_change_nothing(lambda_env: URL, path: Path) -> None:
    handler.handler(load("upgrade.json"), LambdaContext())
    before = snapshot(lambda_env)
    expected = getattr(errors, path.stem.split("__")[0])
    with pytest.raises(errors.BadRequest) as refused:
        handler.handler(json.loads(path.read_text()), LambdaContext())
    assert type(refused.value) is expected
    assert len(refused.value.message) > 30, "the message says what to do"
    assert snapshot(lambda_env) == before


def test_multiple_heads_event_is_refused(
    lambda_env: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALEMBIC_CONFIG", str(write_alembic_ini("branched", tmp_path)))
    handler.reset_engine()
    with pytest.raises(errors.MultipleHeads):
        handler.handler({"command": "upgrade"}, LambdaContext())
    assert scalar(lambda_env, "SELECT to_regclass('alembic_version') IS NULL")


def test_failure_raises_with_the_error_type(
    lambda_env: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALEMBIC_CONFIG", str(write_alembic_ini("failing", tmp_path)))
    handler.reset_engine()
    with pytest.raises(errors.MigrationFailed):
        handler.handler({"command": "upgrade"}, LambdaContext())
    assert versions(lambda_env) == ["0002"]


def test_no_database_configured_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    handler.reset_engine()
    with pytest.raises(errors.ConfigurationError) as refused:
        handler.handler({"command": "current"}, LambdaContext())
    assert "DATABASE_URL" in str(refused.value) and "DB_SECRET_ARN" in str(refused.value)
    handler.reset_engine()


def test_unreachable_database_is_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.local.localpg import free_port

    url = f"postgresql+psycopg2://u:Unreach4ble-pw@127.0.0.1:{free_port()}/db"
    monkeypatch.setenv("DATABASE_URL", url)
    handler.reset_engine()
    with pytest.raises(errors.DatabaseUnavailable) as failed:
        handler.handler({"command": "current"}, LambdaContext())
    assert "host unreachable" in str(failed.value)
    assert "Unreach4ble-pw" not in str(failed.value)
    handler.reset_engine()


def test_sql_engine_url_is_never_in_results(lambda_env: URL) -> None:
    password = lambda_env.password
    assert isinstance(password, str) and len(password) >= 8, "a real password to look for"
    result = handler.handler({"command": "current"}, LambdaContext())
    assert password not in json.dumps(result)

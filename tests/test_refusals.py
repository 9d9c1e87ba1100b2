"""Refusals come first and change nothing: a wrong confirm, a bad setting, a broken history."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import URL

from runner.adapters.cli import main
from runner.core.errors import ConfigurationError, ConfirmationRequired, HistoryWriteFailed
from runner.core.lock import LOCK_KEY
from runner.core.results import Request
from runner.core.settings import Settings
from tests.conftest import engine_for, settings_for
from tests.locks import LockHolder
from tests.test_engine import versions
from tests.test_lock_loss import execute


def test_a_wrong_confirm_is_refused_without_waiting_for_the_lock(database_url: URL) -> None:
    engine = engine_for(settings_for(database_url, lock_wait_s=5))
    engine.run(Request("upgrade"))
    with (
        LockHolder(database_url, f"SELECT pg_advisory_lock({LOCK_KEY})"),
        pytest.raises(ConfirmationRequired) as refused,
    ):
        engine.run(Request("downgrade", "base", confirm="0016"))
    assert "'0017'" in refused.value.message
    assert versions(database_url) == ["0017"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MIGRATION_LOCK_TIMEOUT_MS", "-5"),
        ("MIGRATION_STATEMENT_TIMEOUT_MS", "99999999999"),
        ("MIGRATION_LOCK_WAIT_SECONDS", "0"),
        ("MIGRATION_LOCK_WAIT_SECONDS", "nan"),
        ("DB_CONNECT_TIMEOUT_SECONDS", "0"),
        ("DB_PORT", "70000"),
        ("MIGRATION_TIME_GUARD_MARGIN_MS", "-1"),
    ],
)
def test_invalid_settings_are_configuration_errors(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({name: value})
    assert name in refused.value.message and value in refused.value.message


def test_an_invalid_setting_exits_2_before_touching_the_database(
    database_url: URL, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("MIGRATION_LOCK_TIMEOUT_MS", "-5")
    assert main(["upgrade"]) == 2
    assert "ConfigurationError" in capsys.readouterr().err
    assert versions(database_url) == []


def test_a_failed_history_write_is_not_blamed_on_the_revision(database_url: URL) -> None:
    engine = engine_for(settings_for(database_url))
    execute(
        database_url,
        """
        CREATE TABLE aurora_migrations_history (
            id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, command TEXT NOT NULL,
            revision TEXT NOT NULL, description TEXT NOT NULL, direction TEXT NOT NULL,
            duration_ms INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            request_id TEXT);
        CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'history is read-only today'; END $$;
        CREATE TRIGGER refuse BEFORE INSERT ON aurora_migrations_history
            FOR EACH ROW EXECUTE FUNCTION refuse();
        """,
    )
    with pytest.raises(HistoryWriteFailed) as failed:
        engine.run(Request("upgrade"))
    assert "history is read-only today" in failed.value.message
    assert "Fix the revision" not in failed.value.message
    assert failed.value.details["revision"] == "0017"
    assert versions(database_url) == [], "the revision rolled back with its history row"

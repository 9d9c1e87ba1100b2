"""`drift` finds every object added, removed or changed by hand, and nothing on an untouched
database; the expected schema it compares with is built by running the real revisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from runner.adapters import handler
from runner.core.errors import ExpectedSchemaMissing
from runner.core.results import Request
from tests.conftest import Server, engine_for, settings_for
from tests.integrity.support import copy_project, execute, ship_expected_schema
from tests.revision_factory import Rev, write_tree


@pytest.fixture(scope="module")
def project(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ship_expected_schema(pg_server, copy_project(tmp_path_factory.mktemp("project")))


def drift(url: URL, ini: Path) -> list[tuple[str, str | None]]:
    result = engine_for(settings_for(url, alembic_config=str(ini))).run(Request("drift"))
    assert result.drift_count == len(result.findings or [])
    return [(f.id, f.object) for f in result.findings or []]


def test_the_expected_schema_describes_each_revision(project: Path) -> None:
    data = json.loads((project.parent / "expected_schema.json").read_text())
    assert set(data["revisions"]) == {"base", "0017"}
    table = data["revisions"]["0017"]["tables"]["dry_run_log"]
    assert table["columns"]["ambiente"] == {
        "type": "VARCHAR(10)",
        "nullable": True,
        "default": "'dev'::character varying",
    }
    assert set(table["indexes"]) == {
        "idx_dry_run_tenant",
        "idx_dry_run_canal",
        "idx_dry_run_ambiente",
    }
    assert "aurora_migrations_history" not in data["revisions"]["0017"]["tables"]
    checksums = json.loads((project.parent / "checksums.json").read_text())
    assert checksums["revisions"]["0017"]["file"] == "0017_create_dry_run_log.py"


def test_an_untouched_database_has_no_drift(database_url: URL, project: Path) -> None:
    assert drift(database_url, project) == [], "an empty database is at base: nothing expected"
    engine_for(settings_for(database_url, alembic_config=str(project))).run(Request("upgrade"))
    assert drift(database_url, project) == []


def test_hand_made_changes_are_each_found(database_url: URL, project: Path) -> None:
    engine_for(settings_for(database_url, alembic_config=str(project))).run(Request("upgrade"))
    execute(
        database_url,
        """
        CREATE INDEX idx_by_hand ON dry_run_log (lead_id);
        ALTER TABLE dry_run_log ALTER COLUMN ambiente SET DEFAULT 'prod';
        ALTER TABLE dry_run_log DROP COLUMN razao_bloqueio;
        CREATE TABLE scratch (id INT);
        """,
    )
    assert drift(database_url, project) == [
        ("drift-added", "table scratch"),
        ("drift-changed", "column dry_run_log.ambiente"),
        ("drift-removed", "column dry_run_log.razao_bloqueio"),
        ("drift-added", "index dry_run_log.idx_by_hand"),
    ]


def test_the_lambda_drift_event_reports_the_count(
    database_url: URL, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine_for(settings_for(database_url, alembic_config=str(project))).run(Request("upgrade"))
    execute(database_url, "ALTER TABLE dry_run_log ALTER COLUMN motivo_decisao DROP NOT NULL")
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("ALEMBIC_CONFIG", str(project))
    handler.reset_engine()
    try:
        out = handler.handler({"command": "drift"}, None)
    finally:
        handler.reset_engine()
    assert out["drift_count"] == 1
    [found] = out["findings"]
    assert (
        found["id"] == "drift-changed" and "nullable false expected, true found" in found["message"]
    )


def test_views_functions_enums_sequences_extensions_are_compared(
    database_url: URL, pg_server: Server, tmp_path: Path
) -> None:
    ini = write_tree(
        tmp_path,
        [
            Rev(
                "0001",
                None,
                '''op.execute("""
                CREATE EXTENSION IF NOT EXISTS pg_trgm;
                CREATE TYPE mood AS ENUM ('ok', 'sad');
                CREATE SEQUENCE tickets;
                CREATE TABLE people (id SERIAL PRIMARY KEY, mood mood,
                    email TEXT UNIQUE CHECK (email <> ''));
                CREATE TABLE notes (id INT REFERENCES people (id));
                CREATE VIEW happy AS SELECT id FROM people WHERE mood = 'ok';
                CREATE FUNCTION shout(t TEXT) RETURNS TEXT LANGUAGE sql AS $$ SELECT upper(t) $$;
                """)''',
            )
        ],
    )
    ship_expected_schema(pg_server, ini)
    engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    assert drift(database_url, ini) == []
    execute(
        database_url,
        """
        CREATE OR REPLACE FUNCTION shout(t TEXT) RETURNS TEXT LANGUAGE sql AS $$ SELECT t $$;
        DROP VIEW happy;
        ALTER TYPE mood ADD VALUE 'glad';
        DROP SEQUENCE tickets;
        DROP EXTENSION pg_trgm;
        ALTER TABLE notes DROP CONSTRAINT notes_id_fkey;
        """,
    )
    assert sorted(drift(database_url, ini)) == [
        ("drift-changed", "enum mood"),
        ("drift-changed", "function shout(t text)"),
        ("drift-removed", "constraint notes.notes_id_fkey"),
        ("drift-removed", "extension pg_trgm"),
        ("drift-removed", "sequence tickets"),
        ("drift-removed", "view happy"),
    ]


def test_without_an_expected_schema_drift_refuses(database_url: URL, tmp_path: Path) -> None:
    ini = copy_project(tmp_path)
    with pytest.raises(ExpectedSchemaMissing, match="No expected schema"):
        engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("drift"))

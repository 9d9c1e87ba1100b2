"""`import-sql` turns the old numbered files into revisions 0001-0016 that run the SQL as it
was written, chains 0017 after them, and the result adopts a hand-built database: baseline
at 0017 finds no difference, and the database upgrades normally afterwards."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.core.errors import ImportRefused, IrreversibleRevision
from runner.core.results import Request
from runner.integrity import import_sql
from runner.integrity.import_sql import import_folder, split
from tests.conftest import Server, engine_for, settings_for
from tests.integrity.support import copy_project, ship_expected_schema
from tests.integrity.test_baseline import LEGACY_017, NEXT
from tests.test_engine import rows, scalar, versions

LEGACY = Path(__file__).parent / "fixtures" / "legacy_sql"


def imported(root: Path) -> Path:
    ini = copy_project(root)
    import_folder(LEGACY, root / "alembic" / "versions")
    return ini


def run_by_hand(url: URL, folder: Path, pattern: str = "[0-9]*[0-9]_*.sql") -> None:
    """What the team did: each file with psql, one statement at a time, autocommit."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for path in sorted(folder.glob(pattern)):
            if path.name.endswith(".down.sql"):
                continue
            for statement in split(path.read_text())[0]:
                cursor.execute(statement.sql)  # no parameters: the text as psql would send it
    engine.dispose()


def test_the_splitter_keeps_strings_dollar_quotes_and_comments() -> None:
    text = (LEGACY / "006_touch_function.sql").read_text()
    [function], dropped = split(text)
    assert function.sql.count(";") == 5 and not dropped, "one statement, whole"
    statements, _ = split((LEGACY / "002_create_leads.sql").read_text())
    assert len(statements) == 2 and "'first contact; pending'" in statements[0].sql
    statements, dropped = split((LEGACY / "011_add_lost_reason.sql").read_text())
    assert [s.sql for s in statements] == ["ALTER TABLE leads ADD COLUMN lost_reason TEXT;"]
    assert dropped == ["BEGIN;", "COMMIT;"]
    [trailing] = split((LEGACY / "016_drop_phone.sql").read_text())[0]
    assert trailing.sql.endswith("-- trailing comment after the last statement")
    [concurrently] = split((LEGACY / "005_leads_email_index_concurrently.sql").read_text())[0]
    assert concurrently.outside_transaction and concurrently.sql.startswith("-- big table")


def test_each_file_becomes_one_revision_in_order_and_0017_follows(tmp_path: Path) -> None:
    copy_project(tmp_path)
    versions_dir = tmp_path / "alembic" / "versions"
    written = import_folder(LEGACY, versions_dir)
    assert [p.name[:4] for p in written] == [f"{n:04d}" for n in range(1, 18)]
    assert written[-1].name == "0017_create_dry_run_log.py", "the rewired root comes last"
    for n in range(1, 17):
        text = next(versions_dir.glob(f"{n:04d}_*.py")).read_text()
        down = f'"{n - 1:04d}"' if n > 1 else "None"
        assert f"down_revision: str | Sequence[str] | None = {down}" in text
    rewired = (versions_dir / "0017_create_dry_run_log.py").read_text()
    assert 'down_revision: str | Sequence[str] | None = "0016"' in rewired
    assert "Revises: 0016" in rewired
    five = next(versions_dir.glob("0005_*.py")).read_text()
    assert re.search(r"with outside_transaction\(\):\n\s+execute\(\"\"\"\n-- big table", five)
    assert "DROP INDEX CONCURRENTLY" in five
    assert "no_downgrade" in next(versions_dir.glob("0003_*.py")).read_text()


def test_the_imported_chain_runs_the_sql_as_written(database_url: URL, tmp_path: Path) -> None:
    ini = imported(tmp_path)
    engine = engine_for(settings_for(database_url, alembic_config=str(ini)))
    result = engine.run(Request("upgrade"))
    assert [a.revision for a in result.applied] == [f"{n:04d}" for n in range(1, 18)]
    view = scalar(
        database_url, "SELECT definition FROM pg_views WHERE viewname = 'unsent_messages'"
    )
    assert "'%test%'" in str(view), "percent signs reach the server as written"
    assert "'first contact; pending'" in str(
        scalar(
            database_url,
            "SELECT column_default FROM information_schema.columns WHERE column_name = 'notes'",
        )
    )
    colon_name = "SELECT strpos(prosrc, chr(58) || 'name') > 0 FROM pg_proc WHERE proname = "
    assert scalar(database_url, colon_name + "'touch_updated_at'"), "a ':name' is not a bind"
    assert scalar(database_url, "SELECT indisvalid FROM pg_index "
                  "WHERE indexrelid = 'idx_leads_email'::regclass")  # fmt: skip

    with pytest.raises(IrreversibleRevision, match=r"016_drop_phone\.sql, which had no down"):
        engine.run(Request("downgrade", "0015", confirm="0017"))
    assert versions(database_url) == ["0016"], "0017 went down by its own downgrade; 0016 refused"


def test_a_down_script_is_the_downgrade(database_url: URL, tmp_path: Path) -> None:
    ini = imported(tmp_path)
    engine = engine_for(settings_for(database_url, alembic_config=str(ini)))
    engine.run(Request("upgrade", "0005"))
    engine.run(Request("downgrade", "0004", confirm="0005"))
    assert scalar(database_url, "SELECT to_regclass('idx_leads_email')") is None


def test_adoption_a_hand_built_database_is_baselined_at_0017_then_upgrades(
    database_url: URL, pg_server: Server, tmp_path: Path
) -> None:
    ini = ship_expected_schema(pg_server, imported(tmp_path))
    run_by_hand(database_url, LEGACY)
    run_by_hand(database_url, LEGACY_017.parent)
    engine = engine_for(settings_for(database_url, alembic_config=str(ini)))
    assert engine.run(Request("validate")).findings == []

    result = engine.run(Request("baseline", "0017", confirm="base"))
    assert result.findings == [], [f.object for f in result.findings or []]
    assert versions(database_url) == ["0017"]
    covered = rows(database_url, "SELECT details->'covers' FROM aurora_migrations_history")
    assert covered == [([f"{n:04d}" for n in range(1, 18)],)]
    assert engine.run(Request("drift")).findings == []

    (ini.parent / "alembic" / "versions" / "0018_add_a_column.py").write_text(NEXT)
    upgraded = engine_for(settings_for(database_url, alembic_config=str(ini))).run(
        Request("upgrade")
    )
    assert [a.revision for a in upgraded.applied] == ["0018"]


def test_ambiguous_folders_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    copy_project(tmp_path)
    versions_dir = tmp_path / "alembic" / "versions"
    before = sorted(p.name for p in versions_dir.iterdir())
    bad = tmp_path / "bad"
    shutil.copytree(LEGACY, bad)
    (bad / "notes.sql").write_text("SELECT 1;")
    with pytest.raises(ImportRefused, match=r"notes\.sql is not named NNN_name\.sql"):
        import_folder(bad, versions_dir)
    (bad / "notes.sql").unlink()
    (bad / "003_again.sql").write_text("SELECT 1;")
    with pytest.raises(ImportRefused, match="Two files have the number 3"):
        import_folder(bad, versions_dir)
    assert sorted(p.name for p in versions_dir.iterdir()) == before
    import_folder(LEGACY, versions_dir)
    with pytest.raises(ImportRefused, match="already has revision"):
        import_folder(LEGACY, versions_dir)


def test_the_module_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy_project(tmp_path)
    versions_dir = tmp_path / "alembic" / "versions"
    assert import_sql.main([str(LEGACY), "--versions", str(versions_dir)]) == 0
    assert capsys.readouterr().out.count("wrote ") == 17
    assert import_sql.main([str(LEGACY), "--versions", str(versions_dir)]) == 2
    assert "FAILED: ImportRefused" in capsys.readouterr().err

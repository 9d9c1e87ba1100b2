"""`baseline` adopts a database built by hand: it records the revision without running
anything when the schema matches, refuses and lists the differences when it does not, and
records them when forced. The database then upgrades normally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from runner.adapters import handler
from runner.core.errors import BaselineRefused, ConfirmationRequired
from runner.core.results import Request
from tests.conftest import Server, engine_for, settings_for
from tests.integrity.support import copy_project, execute, ship_expected_schema
from tests.test_engine import rows, versions

LEGACY_017 = Path(__file__).parent / "fixtures" / "legacy_017" / "017_create_dry_run_log.sql"
NEXT = '''"""add a column"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE dry_run_log ADD COLUMN reviewed BOOLEAN")


def downgrade() -> None:
    op.execute("ALTER TABLE dry_run_log DROP COLUMN reviewed")
'''


@pytest.fixture
def project(pg_server: Server, tmp_path: Path) -> Path:
    return ship_expected_schema(pg_server, copy_project(tmp_path))


def baseline(url: URL, ini: Path, **request: Any) -> Any:
    settings = settings_for(url, alembic_config=str(ini))
    return engine_for(settings).run(Request("baseline", **request))


def history(url: URL) -> list[tuple[object, ...]]:
    return rows(
        url,
        "SELECT revision, direction, status, details->>'forced' FROM aurora_migrations_history"
        " ORDER BY id",
    )


def test_the_old_runners_table_is_baselined_and_then_upgrades_normally(
    database_url: URL, project: Path
) -> None:
    execute(database_url, LEGACY_017.read_text())
    result = baseline(database_url, project, revision="0017", confirm="base")
    assert (result.before, result.after, result.applied) == ([], ["0017"], [])
    assert result.findings == []
    assert versions(database_url) == ["0017"]
    assert history(database_url) == [("0017", "baseline", "applied", "false")]
    checksum = rows(database_url, "SELECT checksum FROM aurora_migrations_history")[0][0]
    assert checksum, "the baseline row carries the revision file's checksum"

    (project.parent / "alembic" / "versions" / "0018_add_a_column.py").write_text(NEXT)
    upgraded = engine_for(settings_for(database_url, alembic_config=str(project))).run(
        Request("upgrade")
    )
    assert [a.revision for a in upgraded.applied] == ["0018"], "0017 did not run again"
    assert versions(database_url) == ["0018"]


def test_a_different_schema_is_refused_with_its_differences(
    database_url: URL, project: Path
) -> None:
    execute(
        database_url,
        LEGACY_017.read_text().replace(
            "CREATE INDEX IF NOT EXISTS idx_dry_run_canal ON dry_run_log (canal_decidido);", ""
        ),
    )
    with pytest.raises(BaselineRefused) as refused:
        baseline(database_url, project, revision="0017", confirm="base")
    assert "drift-removed: index dry_run_log.idx_dry_run_canal" in refused.value.message
    assert '"force": true' in refused.value.message
    assert versions(database_url) == [], "nothing was recorded"
    assert rows(database_url, "SELECT to_regclass('aurora_migrations_history')") == [(None,)]


def test_force_baselines_anyway_and_records_the_differences(
    database_url: URL, project: Path
) -> None:
    execute(database_url, LEGACY_017.read_text() + "CREATE TABLE dry_run_log_old (id INT);")
    result = baseline(database_url, project, revision="0017", confirm="base", force=True)
    assert [(f.id, f.object) for f in result.findings] == [("drift-added", "table dry_run_log_old")]
    assert versions(database_url) == ["0017"]
    assert history(database_url) == [("0017", "baseline", "applied", "true")]
    recorded = rows(
        database_url,
        "SELECT details->'differences'->0->>'object' FROM aurora_migrations_history",
    )
    assert recorded == [("table dry_run_log_old",)]


def test_baseline_needs_confirm_base_and_an_unversioned_database(
    database_url: URL, project: Path
) -> None:
    execute(database_url, LEGACY_017.read_text())
    with pytest.raises(ConfirmationRequired, match="confirm='base'"):
        baseline(database_url, project, revision="0017")
    assert versions(database_url) == []
    baseline(database_url, project, revision="0017", confirm="base")
    with pytest.raises(BaselineRefused, match="use `stamp`"):
        baseline(database_url, project, revision="0017", confirm="0017")


def test_the_lambda_baseline_event(
    database_url: URL, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    execute(database_url, LEGACY_017.read_text())
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("ALEMBIC_CONFIG", str(project))
    handler.reset_engine()
    try:
        out = handler.handler({"command": "baseline", "revision": "0017", "confirm": "base"}, None)
    finally:
        handler.reset_engine()
    assert out["after"] == ["0017"] and out["findings"] == []

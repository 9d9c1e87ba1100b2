"""`validate` finds what Alembic cannot see; `upgrade` refuses an edited revision unless the
request names it in `allow_changed`, which the history records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from runner.adapters import handler
from runner.core.errors import ChangedRevision
from runner.core.results import Request
from tests.conftest import engine_for, settings_for
from tests.revision_factory import Rev, write_tree
from tests.test_engine import rows

CHAIN = [
    Rev("0001", None, "op.execute('CREATE TABLE items (id INT)')"),
    Rev("0002", "0001", "op.execute('CREATE TABLE more (id INT)')"),
]


def project(tmp_path: Path, revs: list[Rev]) -> Path:
    return write_tree(tmp_path, revs)


def validate(url: URL, ini: Path) -> list[dict[str, Any]]:
    result = engine_for(settings_for(url, alembic_config=str(ini))).run(Request("validate"))
    return [f.__dict__ for f in result.findings or []]


def ids(found: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(f["id"], f["revision"]) for f in found]


def edit(ini: Path, rev: str, text: str = "\n# edited after it was applied\n") -> Path:
    path = next((ini.parent / "tree" / "versions").glob(f"{rev}_*.py"))
    path.write_text(path.read_text() + text)
    return path


def test_a_clean_database_has_no_findings(database_url: URL, tmp_path: Path) -> None:
    ini = project(tmp_path, CHAIN)
    engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    assert validate(database_url, ini) == []


def test_an_edited_applied_revision_is_a_checksum_mismatch(
    database_url: URL, tmp_path: Path
) -> None:
    ini = project(tmp_path, CHAIN)
    engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    path = edit(ini, "0001")
    [found] = validate(database_url, ini)
    assert (found["id"], found["revision"]) == ("checksum-mismatch", "0001")
    assert found["file"].endswith(path.name)
    assert 'allow_changed": ["0001"]' in found["fix"]


def test_upgrade_refuses_an_edited_revision_until_allowed_and_records_it(
    database_url: URL, tmp_path: Path
) -> None:
    ini = project(tmp_path, CHAIN[:1])
    settings = settings_for(database_url, alembic_config=str(ini))
    engine_for(settings).run(Request("upgrade"))
    edit(ini, "0001")
    write_tree_rev = CHAIN[1]
    (tmp_path / "tree" / "versions" / "0002_rev.py").write_text(
        (tmp_path / "tree" / "versions" / "0001_rev.py")
        .read_text()
        .replace("'0001'", "'0002'")
        .replace("down_revision = None", "down_revision = '0001'")
        .replace("CREATE TABLE items", "CREATE TABLE more")
    )
    assert write_tree_rev.revision == "0002"
    with pytest.raises(ChangedRevision) as refused:
        engine_for(settings).run(Request("upgrade"))
    assert "allow_changed=['0001']" in refused.value.message
    assert rows(database_url, "SELECT version_num FROM alembic_version") == [("0001",)]

    result = engine_for(settings).run(Request("upgrade", allow_changed=("0001",)))
    assert [a.revision for a in result.applied] == ["0002"]
    assert result.actions == ["accepted the edited file of 0001 (allow_changed)"]
    accepted = rows(
        database_url,
        "SELECT revision, details->>'allow_changed' FROM aurora_migrations_history"
        " WHERE direction = 'accept'",
    )
    assert accepted == [("0001", "true")]
    assert validate(database_url, ini) == [], "the accepted file is what validate compares now"


def test_a_revision_recorded_but_missing_from_the_code(database_url: URL, tmp_path: Path) -> None:
    ini = project(tmp_path, CHAIN)
    engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    other = tmp_path / "other"
    other.mkdir()
    shorter = project(other, CHAIN[:1])
    found = validate(database_url, shorter)
    assert ("missing-revision", "0002") in ids(found)


def test_duplicates_and_several_heads_are_findings_not_errors(
    database_url: URL, tmp_path: Path
) -> None:
    ini = project(
        tmp_path,
        [*CHAIN, Rev("0003", "0001", "pass")],
    )
    dupe = tmp_path / "tree" / "versions" / "0002_copy.py"
    dupe.write_text((tmp_path / "tree" / "versions" / "0002_rev.py").read_text())
    found = ids(validate(database_url, ini))
    assert ("duplicate-revision", "0002") in found
    assert ("multiple-heads", None) in found


def test_a_pending_revision_before_an_applied_one_is_out_of_order(
    database_url: URL, tmp_path: Path
) -> None:
    ini = project(tmp_path, [CHAIN[0], Rev("0003", "0001", "pass")])
    engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    # a branch from 0001 merged late: 0002 sorts before the applied 0003, then a merge head
    (tmp_path / "tree" / "versions" / "0002_rev.py").write_text(
        (tmp_path / "tree" / "versions" / "0003_rev.py").read_text().replace("'0003'", "'0002'")
    )
    merge = (tmp_path / "tree" / "versions" / "0003_rev.py").read_text()
    (tmp_path / "tree" / "versions" / "0004_rev.py").write_text(
        merge.replace("'0003'", "'0004'").replace(
            "down_revision = '0001'", "down_revision = ('0002', '0003')"
        )
    )
    assert ids(validate(database_url, ini)) == [("out-of-order", "0002")]


def test_the_lambda_validate_event_returns_findings(
    database_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = project(tmp_path, CHAIN)
    engine_for(settings_for(database_url, alembic_config=str(ini))).run(Request("upgrade"))
    edit(ini, "0002")
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("ALEMBIC_CONFIG", str(ini))
    handler.reset_engine()
    try:
        out = handler.handler({"command": "validate"}, None)
    finally:
        handler.reset_engine()
    assert out["ok"] is True
    assert [(f["id"], f["revision"]) for f in out["findings"]] == [("checksum-mismatch", "0002")]

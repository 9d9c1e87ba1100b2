"""Two revision files with one id are refused everywhere; `renumber` fixes it; numbering rules.

The race: two branches both ran `alembic revision` and both got 0018. Alembic only warns and
keeps one of the files, so `upgrade` silently skipped the other one's changes. Invariants:
- every entry point (engine, CLI, Lambda handler, `heads`, plain `alembic` through env.py,
  the bundle builder) refuses with `DuplicateRevision` naming both files, database untouched;
- `aurora-migrate renumber 0018 --file <loser>` moves the loser to 0019 on top of the winner;
- `alembic revision` and `alembic merge` number new files only in a project of NNNN ids.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from runner.adapters import handler
from runner.adapters.cli import main as cli_main
from runner.authoring.renumber import renumber, script_directory
from runner.bundle import build as bundle
from runner.core.alembic_support import next_revision_number
from runner.core.errors import DuplicateRevision, RenumberRefused
from runner.core.results import Request
from runner.core.settings import Settings
from tests.conftest import engine_for, settings_for
from tests.projects import make_project, version_files, write_revision
from tests.test_cli import cli
from tests.test_engine import rows, versions
from tests.test_handler import LambdaContext

RACE = [
    ("0017", None, "create_base"),
    ("0018", "0017", "add_channel"),  # merged first: the winner
    ("0018", "0017", "add_locale"),  # the one that lost the race
]
WINNER, LOSER = "0018_add_channel.py", "0018_add_locale.py"
COMMANDS = [
    Request("upgrade", "head"),
    Request("upgrade", "0018"),
    Request("heads"),
    Request("current"),
    Request("history"),
    Request("sql"),
    Request("downgrade", "base", confirm="base"),
    Request("stamp", "0018", confirm="base"),
]


def alembic(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "alembic"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )


def tables(url: URL) -> list[tuple[object, ...]]:
    return rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")


@pytest.fixture
def race(tmp_path: Path) -> Path:
    make_project(tmp_path, RACE)
    return tmp_path


# --- refused everywhere, before the database -----------------------------------------------


@pytest.mark.parametrize("request_", COMMANDS, ids=[f"{r.command}-{r.revision}" for r in COMMANDS])
def test_engine_refuses_every_command(database_url: URL, race: Path, request_: Request) -> None:
    engine = engine_for(settings_for(database_url, alembic_config=str(race / "alembic.ini")))
    with pytest.raises(DuplicateRevision) as refused:
        engine.run(request_)
    assert WINNER in refused.value.message and LOSER in refused.value.message
    assert "renumber 0018 --file" in refused.value.message
    assert tables(database_url) == []


def test_cli_heads_exits_2_and_names_both_files(db_env: dict[str, str], race: Path) -> None:
    env = {**db_env, "ALEMBIC_CONFIG": str(race / "alembic.ini")}
    done = cli("heads", env=env)
    assert done.returncode == 2, done.stderr
    assert "DuplicateRevision" in done.stderr
    assert WINNER in done.stderr and LOSER in done.stderr
    error = json.loads(cli("heads", "--json", env=env).stdout)
    assert error["errorType"] == "DuplicateRevision" and error["revision"] == "0018"
    assert len(error["files"]) == 2


@pytest.fixture
def db_env(database_url: URL) -> dict[str, str]:
    return {"DATABASE_URL": database_url.render_as_string(hide_password=False)}


def test_handler_refuses(database_url: URL, race: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("ALEMBIC_CONFIG", str(race / "alembic.ini"))
    handler.reset_engine()
    try:
        with pytest.raises(DuplicateRevision):
            handler.handler({"command": "upgrade"}, LambdaContext())
    finally:
        handler.reset_engine()
    assert tables(database_url) == []


@pytest.mark.parametrize(
    "args",
    [
        ["revision", "-m", "add index"],
        ["merge", "heads", "-m", "merge"],
        ["upgrade", "head", "--sql"],
    ],
)
def test_plain_alembic_refuses_through_env_py(race: Path, args: list[str]) -> None:
    before = version_files(race)
    done = alembic(race, *args)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "FAILED: DuplicateRevision" in output and LOSER in output, output
    assert "Traceback" not in output
    assert version_files(race) == before


def test_bundle_builder_refuses_before_building(
    race: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bundle, "PROJECT_ROOT", race)
    out = tmp_path / "out"
    with pytest.raises(DuplicateRevision):
        bundle.build_bundle(out, arch="arm64", python_version="3.12")
    assert not out.exists()

    assert cli_main(["bundle", "--arch", "arm64", "--out", str(out)]) == 2
    assert "FAILED: DuplicateRevision" in capsys.readouterr().err
    assert not out.exists()


# --- renumber ----------------------------------------------------------------------------------


def test_renumber_puts_the_loser_after_the_winner(
    database_url: URL, race: Path, db_env: dict[str, str]
) -> None:
    env = {**db_env, "ALEMBIC_CONFIG": str(race / "alembic.ini")}
    loser = race / "alembic" / "versions" / LOSER
    done = cli("renumber", "0018", "--file", str(loser), "--json", env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["new_revision"] == "0019" and result["down_revision"] == "0018"
    assert version_files(race) == ["0017_create_base.py", WINNER, "0019_add_locale.py"]
    text = (race / "alembic" / "versions" / "0019_add_locale.py").read_text()
    assert 'revision: str = "0019"' in text and "Revision ID: 0019" in text
    assert 'down_revision: str | Sequence[str] | None = "0018"' in text
    assert "Revises: 0018" in text
    up = engine_for(settings_for(database_url, alembic_config=str(race / "alembic.ini"))).run(
        Request("upgrade")
    )
    assert [a.revision for a in up.applied] == ["0017", "0018", "0019"]
    assert versions(database_url) == ["0019"]
    ledger = sorted(str(r[0]) for r in rows(database_url, "SELECT slug FROM ledger"))
    assert ledger == ["add_channel", "add_locale", "create_base"], "both files' changes ran"


def test_renumber_refuses_the_wrong_file_or_id(race: Path, tmp_path: Path) -> None:
    script = script_directory(Settings(alembic_config=str(race / "alembic.ini")))
    versions_dir = race / "alembic" / "versions"
    with pytest.raises(RenumberRefused, match="declares revision 0017"):
        renumber(script, "0018", versions_dir / "0017_create_base.py")
    with pytest.raises(RenumberRefused, match="not a revision file"):
        renumber(script, "0018", tmp_path / "elsewhere.py")
    assert version_files(race) == ["0017_create_base.py", WINNER, LOSER]


def test_renumber_refuses_when_a_revision_builds_on_the_duplicated_id(tmp_path: Path) -> None:
    make_project(tmp_path, [*RACE, ("0019", "0018", "backfill_channel")])
    script = script_directory(Settings(alembic_config=str(tmp_path / "alembic.ini")))
    with pytest.raises(RenumberRefused, match=r"0019 .* revise"):
        renumber(script, "0018", tmp_path / "alembic" / "versions" / LOSER)
    assert len(version_files(tmp_path)) == 4


def test_renumber_refuses_a_project_of_hash_ids(tmp_path: Path) -> None:
    make_project(tmp_path, [("1a2b3c4d5e6f", None, "base"), ("77aa88bb99cc", "1a2b3c4d5e6f", "x")])
    script = script_directory(Settings(alembic_config=str(tmp_path / "alembic.ini")))
    with pytest.raises(RenumberRefused, match="not all four-digit"):
        renumber(script, "77aa88bb99cc", tmp_path / "alembic" / "versions" / "77aa88bb99cc_x.py")


# --- numbering ---------------------------------------------------------------------------------


def test_next_number_only_in_an_all_numbered_project() -> None:
    assert next_revision_number([]) == "0001"
    assert next_revision_number(["0017", "0009"]) == "0018"
    assert next_revision_number(["0017", "abc123"]) is None
    assert next_revision_number(["757731924605"]) is None, "an all-digit hash is not NNNN"


def test_alembic_revision_keeps_hash_ids_in_a_hash_project(tmp_path: Path) -> None:
    """It used to give an all-digit hash such as 757731924605 the id 757731924606."""
    make_project(tmp_path, [("757731924605", None, "base")])
    done = alembic(tmp_path, "revision", "-m", "next")
    assert done.returncode == 0, done.stderr
    (created,) = [n for n in version_files(tmp_path) if not n.startswith("757731924605")]
    new_id = created.split("_")[0]
    assert new_id != "757731924606" and len(new_id) == 12
    assert int(new_id, 16) >= 0


def test_alembic_merge_writes_a_numbered_file_without_a_database(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        [("0017", None, "base"), ("0018", "0017", "add_a"), ("0019", "0017", "add_b")],
    )
    done = alembic(tmp_path, "merge", "heads", "-m", "merge a and b")
    assert done.returncode == 0, done.stderr
    assert version_files(tmp_path)[-1] == "0020_merge_a_and_b.py"
    text = (tmp_path / "alembic" / "versions" / "0020_merge_a_and_b.py").read_text()
    assert 'revision: str = "0020"' in text and '("0018", "0019")' in text
    heads = alembic(tmp_path, "heads")
    assert heads.stdout.split()[0] == "0020", heads.stdout


def test_write_revision_helper_round_trips(tmp_path: Path) -> None:
    make_project(tmp_path, [("0001", None, "a")])
    write_revision(tmp_path, "0002", "0001", "b")
    script = script_directory(Settings(alembic_config=str(tmp_path / "alembic.ini")))
    assert [s.revision for s in script.walk_revisions()] == ["0002", "0001"]

"""The real revisions under alembic/versions: pytest-alembic's invariants, and numbering.

pytest-alembic's built-in tests, run against PostgreSQL (not its SQLite default):
- test_single_head_revision: the tree has exactly one head;
- test_upgrade: upgrading from base to head works;
- test_up_down_consistency: every revision goes up, down, and up again.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pytest_alembic.config import Config as PytestAlembicConfig
from pytest_alembic.tests import (  # noqa: F401  (collected as tests here)
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy.engine import URL

from runner.core.alembic_support import next_revision_number
from tests.conftest import REPO


@pytest.fixture
def alembic_config() -> PytestAlembicConfig:
    return PytestAlembicConfig(config_options={"file": str(REPO / "alembic.ini")})


@pytest.fixture
def alembic_engine(database_url: URL) -> Any:
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


def test_revision_files_are_numbered_in_order() -> None:
    files = sorted(p.name for p in (REPO / "alembic" / "versions").glob("*.py"))
    assert files[0] == "0017_create_dry_run_log.py"
    for name in files:
        number, _, slug = name.partition("_")
        assert number.isdigit() and len(number) == 4 and slug.endswith(".py"), name


def test_next_number() -> None:
    assert next_revision_number([]) == "0001"
    assert next_revision_number(["0017", "0009"]) == "0018"
    assert next_revision_number(["0017", "abc123"]) is None, "a project with hash ids keeps them"


def test_alembic_revision_picks_the_next_number_without_a_database(tmp_path: Path) -> None:
    """Authors run plain `alembic revision -m ...`; no database or DATABASE_URL is needed."""
    shutil.copytree(
        REPO / "alembic", tmp_path / "alembic", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "alembic.ini", tmp_path / "alembic.ini")
    alembic = Path(sys.executable).parent / "alembic"
    for message, expected in (("add send channel", "0018"), ("add index on lead", "0019")):
        done = subprocess.run(
            [str(alembic), "revision", "-m", message],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        created = tmp_path / "alembic" / "versions" / f"{expected}_{message.replace(' ', '_')}.py"
        assert created.exists(), sorted(
            p.name for p in (tmp_path / "alembic" / "versions").iterdir()
        )
        text = created.read_text()
        assert f'revision: str = "{expected}"' in text
    assert 'down_revision: str | Sequence[str] | None = "0018"' in text


def test_readme_documents_every_setting() -> None:
    from runner.core.settings import ENVIRONMENT

    readme = (REPO / "README.md").read_text()
    missing = [name for name in ENVIRONMENT if f"`{name}`" not in readme]
    assert not missing, f"README's Configuration table lacks {missing}"

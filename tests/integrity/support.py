"""Projects with a built expected schema beside their alembic.ini, as the bundle ships them."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.integrity import expected
from tests.conftest import REPO, Server


def copy_project(root: Path) -> Path:
    """The repository's alembic/ (with its revisions) and alembic.ini, in `root`."""
    shutil.copytree(
        REPO / "alembic", root / "alembic", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "alembic.ini", root / "alembic.ini")
    return root / "alembic.ini"


def ship_expected_schema(server: Server, ini: Path) -> Path:
    """Build the expected schema on a throwaway database and write it beside `ini`."""
    url = server.create_database()
    try:
        data = expected.build(url, ini)
    finally:
        server.drop_database(url)
    expected.write(ini.parent, ini, data)
    return ini


def execute(url: URL, sql: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()

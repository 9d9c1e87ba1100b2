"""Small Alembic projects written into a temporary folder, with the project's real env.py.

A project is a list of (revision id, down revision(s), slug). Each revision records its slug
in a `ledger` table on upgrade and deletes it on downgrade, so a test can see which files ran.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import REPO

Down = str | tuple[str, ...] | None
TEMPLATE = '''"""{slug}

Revision ID: {rev}
Revises: {revises}
Create Date: 2026-11-29 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "{rev}"
down_revision: str | Sequence[str] | None = {down!r}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE TABLE IF NOT EXISTS ledger (slug TEXT NOT NULL)")
    op.execute("INSERT INTO ledger VALUES ('{slug}')")


def downgrade() -> None:
    op.execute("DELETE FROM ledger WHERE slug = '{slug}'")
'''


def make_project(root: Path, revisions: Sequence[tuple[str, Down, str]]) -> Path:
    """alembic.ini, alembic/env.py and the template as in the repository; returns the ini."""
    shutil.copytree(
        REPO / "alembic",
        root / "alembic",
        ignore=shutil.ignore_patterns("__pycache__", "versions"),
    )
    shutil.copy(REPO / "alembic.ini", root / "alembic.ini")
    (root / "alembic" / "versions").mkdir()
    for rev, down, slug in revisions:
        write_revision(root, rev, down, slug)
    return root / "alembic.ini"


def write_revision(root: Path, rev: str, down: Down, slug: str) -> Path:
    path = root / "alembic" / "versions" / f"{rev}_{slug}.py"
    revises = ", ".join(down) if isinstance(down, tuple) else (down or "")
    path.write_text(TEMPLATE.format(slug=slug, rev=rev, down=down, revises=revises))
    return path


def version_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "alembic" / "versions").glob("*.py"))

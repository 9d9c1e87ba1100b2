"""Write small Alembic revision trees into a temporary folder, for tests that need a shape
no fixture under tests/fixtures has (long chains, revisions that sleep or commit)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

ENV = f"""import runpy
runpy.run_path({str(REPO / "alembic" / "env.py")!r})
"""


@dataclass(frozen=True)
class Rev:
    """One revision: its id, parent and the bodies of upgrade() and downgrade()."""

    revision: str
    down_revision: str | None
    upgrade: str = "pass"
    downgrade: str = "pass"
    imports: str = ""


def write_tree(root: Path, revs: list[Rev]) -> Path:
    """Write the tree and an alembic.ini for it; returns the ini's path."""
    versions = root / "tree" / "versions"
    versions.mkdir(parents=True)
    (root / "tree" / "env.py").write_text(ENV)
    for rev in revs:
        body = f'''"""rev {rev.revision}"""

import time  # noqa: F401

from alembic import op  # noqa: F401
{rev.imports}
revision = {rev.revision!r}
down_revision = {rev.down_revision!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{textwrap.indent(textwrap.dedent(rev.upgrade).strip(), "    ")}


def downgrade() -> None:
{textwrap.indent(textwrap.dedent(rev.downgrade).strip(), "    ")}
'''
        (versions / f"{rev.revision}_rev.py").write_text(body)
    ini = root / "alembic-tree.ini"
    ini.write_text(f"[alembic]\nscript_location = {root / 'tree'}\npath_separator = os\n")
    return ini


def ledger_chain(count: int, *, extra: str = "") -> list[Rev]:
    """`count` revisions 0001..; each records itself in `ledger`, then runs `extra`."""
    revs = [Rev("0001", None, "op.execute('CREATE TABLE ledger (revision TEXT NOT NULL)')")]
    for n in range(2, count + 1):
        rev = f"{n:04d}"
        revs.append(
            Rev(
                rev, f"{n - 1:04d}", f"op.execute(\"INSERT INTO ledger VALUES ('{rev}')\")\n{extra}"
            )
        )
    return revs

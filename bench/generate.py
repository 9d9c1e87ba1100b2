"""Generated Alembic projects for the benchmark: a straight chain of small DDL revisions, and a
chain shaped like real projects (branches, merge points, mixed DDL, a few data migrations).

Each project uses the repository's own env.py, so bare `alembic` and `aurora-migrate` run the
same environment; a `manifest.json` like the bundle's is written next to its alembic.ini.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

TEMPLATE = '''"""{message}"""

from alembic import op

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
'''


def write_project(root: Path, revisions: list[tuple[str, object, list[str]]]) -> Path:
    """alembic.ini + env.py + one file per (id, down_revision, statements); returns the ini."""
    shutil.copytree(REPO / "alembic", root / "alembic", ignore=shutil.ignore_patterns("versions"))
    shutil.copy(REPO / "alembic.ini", root / "alembic.ini")
    versions = root / "alembic" / "versions"
    versions.mkdir()
    for rev, down, statements in revisions:
        body = "\n".join(f"    op.execute({s!r})" for s in statements)
        text = TEMPLATE.format(message=f"bench {rev}", rev=rev, down=down, body=body)
        (versions / f"{rev}_bench.py").write_text(text)
    write_manifest(root, revisions)
    return root / "alembic.ini"


def write_manifest(root: Path, revisions: list[tuple[str, object, list[str]]]) -> None:
    """The keys of the bundle's manifest.json that the fast path reads."""
    parents = {d for _, down, _ in revisions for d in (down if isinstance(down, tuple) else [down])}
    versions = root / "alembic" / "versions"
    manifest = {
        "revisions": [rev for rev, _, _ in revisions],
        "heads": [rev for rev, _, _ in revisions if rev not in parents],
        "revision_files": {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(versions.glob("*.py"))
        },
        "revision_checksums": {
            rev: hashlib.sha256((versions / f"{rev}_bench.py").read_bytes()).hexdigest()
            for rev, _, _ in revisions
        },
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))


def straight_chain(count: int) -> list[tuple[str, object, list[str]]]:
    """`count` revisions, each creating one small table."""
    return [
        (
            f"{n:04d}",
            f"{n - 1:04d}" if n > 1 else None,
            [f"CREATE TABLE t{n:04d} (id bigint PRIMARY KEY, name text NOT NULL)"],
        )
        for n in range(1, count + 1)
    ]


def realistic_chain(count: int, *, seed: int = 7) -> list[tuple[str, object, list[str]]]:
    """About `count` revisions with a branch and merge every ~25: tables, indexes, enums,
    constraints, comments and, every ~40, a data migration."""
    rng = random.Random(seed)
    revs: list[tuple[str, object, list[str]]] = []
    tables: list[str] = []
    n = 0

    def add(down: object) -> str:
        nonlocal n
        n += 1
        rev = f"{n:04d}"
        kind = "table" if not tables else rng.choice(["table", "index", "enum", "check", "comment"])
        if n % 40 == 0:
            kind = "data"
        t = rng.choice(tables) if tables else ""
        if kind == "table":
            t = f"t{rev}"
            tables.append(t)
            sql = [
                f"CREATE TABLE {t} (id bigserial PRIMARY KEY, name text NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())"
            ]
        elif kind == "index":
            sql = [f"CREATE INDEX ix_{rev} ON {t} (name, created_at)"]
        elif kind == "enum":
            sql = [
                f"CREATE TYPE e_{rev} AS ENUM ('new', 'active', 'gone')",
                f"ALTER TABLE {t} ADD COLUMN state_{rev} e_{rev} NOT NULL DEFAULT 'new'",
            ]
        elif kind == "check":
            sql = [f"ALTER TABLE {t} ADD CONSTRAINT ck_{rev} CHECK (length(name) < 500)"]
        elif kind == "comment":
            sql = [f"COMMENT ON TABLE {t} IS 'changed by {rev}'"]
        else:
            sql = [
                f"INSERT INTO {t} (name) SELECT 'row ' || g FROM generate_series(1, 2000) g",
                f"UPDATE {t} SET name = upper(name) WHERE mod(id, 3) = 0",
            ]
        revs.append((rev, down, sql))
        return rev

    head: str | None = None
    while n < count:
        if n and n % 25 == 0:  # a branch point, two short branches, a merge
            left = right = head
            for _ in range(rng.randint(2, 4)):
                left = add(left)
            for _ in range(rng.randint(1, 3)):
                right = add(right)
            head = add((left, right))
        else:
            head = add(head)
    return revs

"""`import-sql`: turn the old numbered `.sql` files into revisions, one per file, in order.

`001_create_tenants.sql` ... `016_drop_phone.sql` become `0001_create_tenants.py` ...
`0016_drop_phone.py`, chained. The SQL is kept verbatim, statement by statement (split by
sqlparse, which knows strings, comments and dollar quotes), and run through
`runner.integrity.verbatim`; a statement PostgreSQL refuses inside a transaction block
(`CREATE INDEX CONCURRENTLY` and the like) runs in `autocommit_block()`. Top-level
`BEGIN;`/`COMMIT;` are left out, with a note: the runner gives every revision its own
transaction. `NNN_name.down.sql` becomes the downgrade; without one, the downgrade refuses.

The existing chain is rewired: the one revision with no parent (0017 here, whose down_revision
is None) gets the last imported id as its down_revision, and its file is rewritten in place
(the written paths include it). Databases already at 0017 stay correct, since 0001-0016 were
applied by hand before it; a database where 0017's file was checksummed sees a
checksum-mismatch for 0017 once, to accept with `allow_changed`. This is authoring: no
database is touched, and nothing is written unless every file can be imported.

    python -m runner.integrity.import_sql DIR [--versions alembic/versions]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.core.errors import AuroraMigrationsError, ConfigurationError, ImportRefused

WIDTH = 4
LINE_LENGTH = 100  # the project's ruff line length: longer SQL lines get a file-level noqa
_FILE = re.compile(
    r"^(?P<number>[0-9]+)_(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*?)(?P<down>\.down)?\.sql$"
)
_NO_TRANSACTION = re.compile(
    r"^(CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY|DROP\s+INDEX\s+CONCURRENTLY"
    r"|REINDEX\b.*\bCONCURRENTLY|VACUUM\b|CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM"
    r"|ALTER\s+TYPE\s+\S+\s+ADD\s+VALUE)",
    re.IGNORECASE | re.DOTALL,
)
_TRANSACTION_CONTROL = re.compile(
    r"^(BEGIN|COMMIT|END|ROLLBACK|START\s+TRANSACTION)(\s+(WORK|TRANSACTION))?\s*;?$", re.I
)
_REVISION = re.compile(r'^revision(?:\s*:\s*str)?\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)
_ROOT = re.compile(r"^(down_revision(?:\s*:[^=\n]*)?=\s*)None\s*$", re.MULTILINE)
_REVISES = re.compile(r"^Revises:[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Statement:
    sql: str
    outside_transaction: bool


@dataclass(frozen=True)
class SqlFile:
    number: int
    name: str
    up: Path
    down: Path | None

    @property
    def revision(self) -> str:
        return f"{self.number:0{WIDTH}d}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")


def split(text: str) -> tuple[list[Statement], list[str]]:
    """(statements to run, transaction control left out), comments kept with their statement."""
    try:  # authoring only: the `authoring` extra; this module is not in the Lambda bundle
        import sqlparse
    except ImportError:
        raise ConfigurationError(
            "import-sql splits SQL with sqlparse, which is not installed: install the "
            "authoring extra (pip install -e '.[authoring]') and run it again."
        ) from None

    statements: list[Statement] = []
    dropped: list[str] = []
    pending_comment = ""
    for chunk in sqlparse.split(text):
        code = sqlparse.format(chunk, strip_comments=True).strip()
        if not code:  # a comment alone: it belongs to the statement around it
            if statements:
                last = statements[-1]
                statements[-1] = Statement(f"{last.sql}\n{chunk}", last.outside_transaction)
            else:
                pending_comment += chunk + "\n"
            continue
        if _TRANSACTION_CONTROL.match(code):
            dropped.append(code)
            continue
        statements.append(Statement(pending_comment + chunk, bool(_NO_TRANSACTION.match(code))))
        pending_comment = ""
    return statements, dropped


def scan(src: Path) -> list[SqlFile]:
    """The numbered files of `src`, in order; refuses anything ambiguous."""
    if not src.is_dir():
        raise ImportRefused(f"{src} is not a folder. Give the folder of numbered .sql files.")
    ups: dict[int, Path] = {}
    downs: dict[int, Path] = {}
    names: dict[int, str] = {}
    for path in sorted(src.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ImportRefused(
                f"{path.name} is not named NNN_name.sql (or NNN_name.down.sql), so its place "
                "in the order is unknown. Rename it, or move it out of the folder."
            )
        number = int(match["number"])
        table = downs if match["down"] else ups
        if number in table:
            raise ImportRefused(
                f"Two files have the number {number}: {table[number].name} and {path.name}. "
                "Give each file its own number."
            )
        table[number] = path
        if not match["down"]:
            names[number] = match["name"]
    if not ups:
        raise ImportRefused(f"{src} has no numbered .sql files.")
    orphans = sorted(set(downs) - set(ups))
    if orphans:
        raise ImportRefused(
            f"{downs[orphans[0]].name} is a down script without its up script. Add or remove it."
        )
    return [SqlFile(n, names[n], ups[n], downs.get(n)) for n in sorted(ups)]


def import_folder(src: Path, versions_dir: Path) -> list[Path]:
    """Write one revision per numbered file into `versions_dir`, and rewire the existing root.

    Returns every file written (the new revisions, then the rewired one, if any)."""
    files = scan(Path(src))
    versions_dir = Path(versions_dir)
    existing = _existing(versions_dir)
    clash = sorted({f.revision for f in files} & set(existing))
    if clash:
        raise ImportRefused(
            f"{versions_dir} already has revision(s) {', '.join(clash)} "
            f"({existing[clash[0]].name}): these files were imported before, or the numbers "
            "collide. Nothing was written."
        )
    roots = [path for rev, path in sorted(existing.items()) if _ROOT.search(path.read_text())]
    if len(roots) > 1:
        raise ImportRefused(
            f"{versions_dir} has several revisions without a parent "
            f"({', '.join(p.name for p in roots)}); which one continues the imported chain is "
            "ambiguous. Merge them first."
        )
    rendered: dict[Path, str] = {}
    down: str | None = None
    for f in files:
        rendered[versions_dir / f"{f.revision}_{f.slug}.py"] = render(f, down)
        down = f.revision
    if roots:
        root = roots[0]
        text = root.read_text()
        text = _ROOT.sub(lambda m: f'{m.group(1)}"{down}"', text, count=1)
        rendered[root] = _REVISES.sub(f"Revises: {down}", text, count=1)
    for path, text in rendered.items():
        path.write_text(text)
    return list(rendered)


def render(f: SqlFile, down_revision: str | None) -> str:
    up, dropped = split(f.up.read_text())
    notes = [f"Imported verbatim from {f.up.name} by `aurora-migrate import-sql`."]
    if dropped:
        notes.append(
            f"Left out: {', '.join(dropped)} (the runner runs each revision in its own "
            "transaction)."
        )
    if any(s.outside_transaction for s in up):
        notes.append("Statements that cannot run in a transaction run in autocommit_block().")
    imports = ["execute"]
    if f.down is not None:
        down_statements, _ = split(f.down.read_text())
        downgrade = _body(down_statements)
        notes.append(f"The downgrade is {f.down.name}.")
    else:
        down_statements = []
        downgrade = f'    no_downgrade("{f.revision}", "{f.up.name}")\n'
        notes.append(f"{f.up.name} had no down script: the downgrade refuses.")
        imports.append("no_downgrade")
    if any(s.outside_transaction for s in [*up, *down_statements]):
        imports.append("outside_transaction")
    if f.down is not None and not down_statements:
        downgrade = "    pass\n"
    wrapped = "\n".join(notes)
    revises = f" {down_revision}" if down_revision else ""
    text = f'''"""{f.name.replace("_", " ")}

{wrapped}

Revision ID: {f.revision}
Revises:{revises}
Create Date: imported
"""

from collections.abc import Sequence

from runner.integrity.verbatim import {", ".join(sorted(imports))}

revision: str = "{f.revision}"
down_revision: str | Sequence[str] | None = {f'"{down_revision}"' if down_revision else None}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
{_body(up) if up else "    pass" + chr(10)}

def downgrade() -> None:
{downgrade}'''
    too_long = any(len(line) > LINE_LENGTH for line in text.splitlines())
    return f"# ruff: noqa: E501\n{text}" if too_long else text


def _body(statements: Sequence[Statement]) -> str:
    lines = []
    for s in statements:
        call = f"execute({_literal(s.sql)})"
        if s.outside_transaction:
            lines.append(f"    with outside_transaction():\n        {call}\n")
        else:
            lines.append(f"    {call}\n")
    return "".join(lines)


def _literal(sql: str) -> str:
    """A Python literal for `sql`: a readable triple-quoted string when that is exact."""
    if '"""' in sql or "\\" in sql or sql.endswith('"'):
        return repr(sql)
    return f'"""\n{sql}\n"""'


def _existing(versions_dir: Path) -> dict[str, Path]:
    if not versions_dir.is_dir():
        raise ImportRefused(f"{versions_dir} is not a folder of revisions (alembic/versions).")
    found = {}
    for path in sorted(versions_dir.glob("*.py")):
        match = _REVISION.search(path.read_text())
        if match:
            found[match.group(1)] = path
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runner.integrity.import_sql",
        description="Turn numbered .sql files into revisions 0001, 0002, ... (no database).",
    )
    parser.add_argument("src", type=Path, metavar="DIR", help="the folder of NNN_name.sql files")
    parser.add_argument("--versions", type=Path, default=Path("alembic/versions"))
    args = parser.parse_args(argv)
    try:
        written = import_folder(args.src, args.versions)
    except AuroraMigrationsError as exc:
        sys.stderr.write(f"FAILED: {type(exc).__name__}: {exc.message}\n")
        return 2
    sys.stdout.write("".join(f"wrote {path}\n" for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())

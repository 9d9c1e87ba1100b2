"""`baseline`: adopt a database that was built by hand, without running anything.

The live schema is compared with the expected schema at the revision. If they match, the
revision is recorded as applied (`alembic_version`, through Alembic's own
`MigrationContext.stamp`) and a `baseline` history row is written with the revision file's
checksum, in one transaction. If not, nothing changes and the differences are listed;
`force` records the revision anyway, with the differences in the history row. Only a
database with no revision recorded can be baselined: one that has a version uses `stamp`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from runner.core import history_table, revisions
from runner.core.errors import BaselineRefused
from runner.core.findings import Finding
from runner.integrity import checksums, drift, schema

SHOWN = 20


@dataclass(frozen=True)
class Baselined:
    revision: str
    differences: list[Finding]
    covers: list[str]  # the revisions now recorded as applied, base first


def baseline(
    conn: Connection,
    script: ScriptDirectory,
    expected: dict[str, Any],
    revision: str,
    *,
    force: bool,
    row: Callable[..., dict[str, Any]],
) -> Baselined:
    """Compare, then record `revision` as applied; the caller holds the lock and commits."""
    current = revisions.current_heads(conn)
    if current:
        raise BaselineRefused(
            f"The database already records revision(s) {', '.join(current)}, so there is "
            "nothing to adopt: baseline is for databases without a version. To move the "
            "recorded version, use `stamp` (with confirm).",
            current=current,
        )
    sc = script.get_revision(revision)
    assert sc is not None  # validate_target resolved it before the database was touched
    rev = sc.revision
    want = drift.expected_at(expected, [rev], [rev])
    differences = drift.compare(want, schema.capture(conn))
    if differences and not force:
        listed = "; ".join(f"{d.id}: {d.object}" for d in differences[:SHOWN])
        more = f" (and {len(differences) - SHOWN} more)" if len(differences) > SHOWN else ""
        raise BaselineRefused(
            f"baseline {rev} refused: the database's schema is not the one revision {rev} "
            f"describes ({len(differences)} difference(s): {listed}{more}). Nothing was "
            "recorded. Make the schema match (or import the missing revisions) and run again; "
            'or, if the differences are known and accepted, repeat with "force": true, which '
            "records them in the history.",
            revision=rev,
            differences=[asdict(d) for d in differences],
        )
    covers = [r for r in revisions.ordered(script) if r in revisions.applied_set(script, [rev])]
    history_table.ensure(conn)
    MigrationContext.configure(conn).stamp(script, rev)
    history_table.insert(
        conn,
        **row(
            revision=rev,
            description=sc.doc,
            direction="baseline",
            duration_ms=0,
            checksum=checksums.file_sha256(sc.path),
            details={
                "covers": covers,
                "forced": bool(differences),
                "differences": [asdict(d) for d in differences],
            },
        ),
    )
    return Baselined(rev, differences, covers)

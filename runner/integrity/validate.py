"""`validate`: does the history agree with the code? Flyway's validate, on our history table.

Reports revisions edited after they were applied (checksum mismatch), revisions the database
records but the code lacks, duplicate ids, several heads, and pending revisions that sort
before applied ones (an out-of-order merge). `upgrade` calls `refuse_changed` under the lock:
an edited revision stops it unless the request names it in `allow_changed`, and then the
acceptance is recorded as an `accept` row carrying the new checksum, so later validations
compare against the file as accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from runner.core import history_table, revisions
from runner.core.errors import ChangedRevision, DatabaseAhead
from runner.core.findings import Finding, display_path
from runner.integrity.checksums import file_sha256

# Rows that say "this file, with this checksum, is what the database has".
CHECKSUMMED = ("up", "stamp", "baseline", "accept")
_LAST_CHECKSUMS = sa.text(
    f"SELECT DISTINCT ON (revision) revision, checksum FROM {history_table.TABLE}"
    f" WHERE {history_table.APPLIED} AND checksum IS NOT NULL"
    f" AND direction IN ({', '.join(repr(d) for d in CHECKSUMMED)})"
    " ORDER BY revision, id DESC"
)
_LAST_MOVES = (
    f"SELECT DISTINCT ON (revision) revision, direction FROM {history_table.TABLE}"
    " WHERE direction IN ('up', 'down', 'stamp', 'baseline') AND {applied}"
    " ORDER BY revision, id DESC"
)


@dataclass(frozen=True)
class Changed:
    revision: str
    file: str
    recorded: str
    now: str


def check(conn: Connection, script: ScriptDirectory) -> list[Finding]:
    """Every finding, in a stable order: the code first, then the database against it."""
    files = revisions.scan(script)
    found = _duplicates(files) + _heads(script)
    known = {f.revision for f in files}
    current = revisions.current_heads(conn)
    found += [
        Finding(
            "missing-revision",
            f"The database is at revision {head}, which is not in the code.",
            "Deploy the code that contains it (a newer version ran here), or restore the "
            "deleted revision file from version control.",
            revision=head,
        )
        for head in current
        if head not in known
    ]
    found += [
        Finding(
            "missing-revision",
            f"The history records revision {rev} as applied, but the code has no such revision.",
            "Restore the revision file from version control; a revision that ran must stay in "
            "the code, or later revisions cannot be checked against it.",
            revision=rev,
        )
        for rev in _recorded_applied(conn)
        if rev not in known and rev not in current
    ]
    found += [_mismatch(c) for c in changed(conn, script)]
    found += _out_of_order(script, current)
    return found


def changed(conn: Connection, script: ScriptDirectory) -> list[Changed]:
    """Applied revisions whose file's sha256 is not the one the history recorded last."""
    if not history_table.has_status(conn):  # an older table: no checksums recorded yet
        return []
    try:
        applied = revisions.applied_set(script, revisions.current_heads(conn))
    except DatabaseAhead:
        applied = set()
    out = []
    for rev, recorded in conn.execute(_LAST_CHECKSUMS):
        sc = script.get_revision(rev) if rev in applied else None
        if sc is None:
            continue
        now = file_sha256(sc.path)
        if now != recorded:
            out.append(Changed(rev, display_path(sc.path), recorded, now))
    return sorted(out, key=lambda c: c.revision)


def refuse_changed(
    conn: Connection,
    script: ScriptDirectory,
    allowed: Sequence[str],
    row: Callable[..., dict[str, Any]],
) -> list[str]:
    """Raise `ChangedRevision` for an edited revision not in `allowed`; record the allowed.

    Returns the revisions whose new checksum was accepted (and recorded)."""
    edits = changed(conn, script)
    refused = [c for c in edits if c.revision not in allowed]
    if refused:
        names = ", ".join(f"{c.revision} ({c.file})" for c in refused)
        raise ChangedRevision(
            f"upgrade refused: revision(s) {names} were edited after they were applied (the "
            "file's sha256 is not the one the history recorded), so the database may not have "
            "what the code says. Restore the file as it was applied (version control has it) "
            "and put the change in a new revision; or, if the edit changes nothing that ran "
            "(a comment, a docstring), repeat the request with "
            f"allow_changed={[c.revision for c in refused]!r}, which the history records.",
            revisions=[c.revision for c in refused],
            checksums={c.revision: {"recorded": c.recorded, "now": c.now} for c in refused},
        )
    for c in edits:
        sc = script.get_revision(c.revision)
        assert sc is not None
        history_table.insert(
            conn,
            **row(
                revision=c.revision,
                description=f"edited file accepted: {sc.doc}",
                direction="accept",
                duration_ms=0,
                checksum=c.now,
                details={"allow_changed": True, "previous_checksum": c.recorded, "file": c.file},
            ),
        )
    return [c.revision for c in edits]


def _mismatch(c: Changed) -> Finding:
    return Finding(
        "checksum-mismatch",
        f"Revision {c.revision} was edited after it was applied: its file's sha256 is "
        f"{c.now[:12]}..., the history recorded {c.recorded[:12]}....",
        "Restore the file as it was applied (version control has it) and put the change in a "
        "new revision. If the edit changes nothing that ran, upgrade with "
        f'"allow_changed": ["{c.revision}"] to accept and record it.',
        revision=c.revision,
        file=c.file,
    )


def _duplicates(files: list[revisions.RevisionFile]) -> list[Finding]:
    by_id: dict[str, list[str]] = {}
    for f in files:
        by_id.setdefault(f.revision, []).append(display_path(f.path))
    return [
        Finding(
            "duplicate-revision",
            f"Revision id {rev} is declared by {len(paths)} files: {' and '.join(sorted(paths))}.",
            f"Give the later one the next free number: `aurora-migrate renumber {rev} --file "
            f"{sorted(paths)[-1]}`.",
            revision=rev,
            file=sorted(paths)[-1],
        )
        for rev, paths in sorted(by_id.items())
        if len(paths) > 1
    ]


def _heads(script: ScriptDirectory) -> list[Finding]:
    heads = sorted(script.get_heads())
    if len(heads) <= 1:
        return []
    return [
        Finding(
            "multiple-heads",
            f"The revision tree has {len(heads)} heads: {', '.join(heads)}.",
            f"Merge them into one: `alembic merge -m 'merge' {' '.join(heads)}`.",
        )
    ]


def _out_of_order(script: ScriptDirectory, current: list[str]) -> list[Finding]:
    try:
        applied = revisions.applied_set(script, current)
        pending = revisions.pending(script, current)
    except DatabaseAhead:
        return []
    if not applied:
        return []
    last = max(applied)
    return [
        Finding(
            "out-of-order",
            f"Revision {rev} is pending but sorts before {last}, which is applied: it was "
            "merged out of order.",
            f"Check that {rev} does not depend on anything after it, or renumber it after "
            f"{last} (`aurora-migrate renumber {rev} --file <its file>`) before upgrading.",
            revision=rev,
        )
        for rev in pending
        if rev < last
    ]


def _recorded_applied(conn: Connection) -> list[str]:
    """Revisions whose last move in the history left them applied (status applied rows)."""
    if not history_table.exists(conn):
        return []
    applied = history_table.APPLIED if history_table.has_status(conn) else "TRUE"
    rows = conn.execute(sa.text(_LAST_MOVES.format(applied=applied)))
    return sorted(str(rev) for rev, direction in rows if direction != "down")

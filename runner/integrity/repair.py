"""`repair`: what an interrupted or failed run left behind, and clearing what is safe.

Found: history rows still `running` whose session is gone (the run died mid-step; its
revision's transaction died with it), indexes left invalid by a failed
`CREATE INDEX CONCURRENTLY` (`pg_index.indisvalid = false`), and an `alembic_version` that
disagrees with the history's last move. With `confirm` (the current revision, as for
downgrade) and under the migration lock, repair marks the stale rows `failed` and drops the
invalid indexes that the failed or interrupted revision's own file creates. Nothing else is
touched: it never records a revision as applied, and a version mismatch is only reported.
Every action is a `repair` row in the history.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from runner.core import history_table, revisions
from runner.core.errors import DatabaseAhead
from runner.core.findings import Finding

_STALE = sa.text(
    f"SELECT h.id, h.revision, h.run_id, h.backend_pid FROM {history_table.TABLE} h"
    " WHERE h.status = 'running' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
    " WHERE a.pid = h.backend_pid AND a.pid <> pg_backend_pid()) ORDER BY h.id"
)
_INVALID = sa.text(
    "SELECT c.relname, t.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " JOIN pg_class t ON t.oid = i.indrelid WHERE NOT i.indisvalid"
    " AND c.relnamespace = current_schema()::regnamespace ORDER BY 1"
)
_UNFINISHED = sa.text(
    f"SELECT DISTINCT revision FROM {history_table.TABLE} WHERE status IN ('failed', 'running')"
)
_LAST_MOVE = sa.text(
    f"SELECT revision, direction FROM {history_table.TABLE} WHERE {history_table.APPLIED}"
    " AND direction IN ('up', 'down', 'baseline') ORDER BY id DESC LIMIT 1"
)


@dataclass(frozen=True)
class StaleRow:
    id: int
    revision: str
    run_id: str


@dataclass(frozen=True)
class InvalidIndex:
    name: str
    table: str
    created_by: str | None  # the failed/interrupted revision whose file creates it, if any


@dataclass(frozen=True)
class Report:
    stale: list[StaleRow]
    invalid: list[InvalidIndex]
    mismatch: Finding | None

    def findings(self) -> list[Finding]:
        found = [_stale_finding(r) for r in self.stale]
        found += [_index_finding(ix) for ix in self.invalid]
        return found + ([self.mismatch] if self.mismatch else [])


def inspect(conn: Connection, script: ScriptDirectory) -> Report:
    """What an interrupted or failed run left behind; read-only."""
    if not history_table.exists(conn) or not history_table.has_status(conn):
        stale: list[StaleRow] = []
        unfinished: list[str] = []
    else:
        stale = [StaleRow(int(i), str(rev), str(run)) for i, rev, run, _ in conn.execute(_STALE)]
        unfinished = sorted(str(rev) for (rev,) in conn.execute(_UNFINISHED))
    invalid = [
        InvalidIndex(str(name), str(table), _creator(script, str(name), unfinished))
        for name, table in conn.execute(_INVALID)
    ]
    return Report(stale, invalid, _mismatch(conn, script))


def clear(
    conn: Connection, report: Report, run_id: str, row: Callable[..., dict[str, Any]]
) -> list[str]:
    """Clear what is safe, recording each action; the caller holds the lock. Returns actions."""
    actions = []
    for stale in report.stale:
        conn.execute(
            sa.text(
                f"UPDATE {history_table.TABLE} SET status = 'failed', error = :error"
                " WHERE id = :id AND status = 'running'"
            ),
            {
                "id": stale.id,
                "error": f"interrupted: the run ended mid-step with no live session; marked "
                f"failed by repair run {run_id}. Its revision's transaction did not commit.",
            },
        )
        what = f"marked the stale running row {stale.id} of {stale.revision} failed"
        _record(conn, row, stale.revision, what, {"action": "stale-row", "row": stale.id})
        conn.commit()
        actions.append(what)
    for ix in report.invalid:
        if ix.created_by is None:
            continue
        level = conn.get_isolation_level()
        conn.commit()
        conn.execution_options(isolation_level="AUTOCOMMIT")
        try:  # CONCURRENTLY: outside a transaction, as Alembic's autocommit_block() does
            conn.exec_driver_sql(f'DROP INDEX CONCURRENTLY IF EXISTS "{ix.name}"')
        finally:
            conn.commit()
            conn.execution_options(isolation_level=level)
        what = f"dropped the invalid index {ix.name} left by {ix.created_by}"
        _record(conn, row, ix.created_by, what, {"action": "invalid-index", "index": ix.name})
        conn.commit()
        actions.append(what)
    return actions


def remaining(report: Report) -> list[Finding]:
    """What `clear` leaves for a person: indexes of unknown origin, a version mismatch."""
    left = [_index_finding(ix) for ix in report.invalid if ix.created_by is None]
    return left + ([report.mismatch] if report.mismatch else [])


def _record(
    conn: Connection,
    row: Callable[..., dict[str, Any]],
    revision: str,
    what: str,
    details: dict[str, Any],
) -> None:
    history_table.ensure(conn)
    values = row(revision=revision, description=what, direction="repair", duration_ms=0)
    history_table.insert(conn, **values, details=details)


def _creator(script: ScriptDirectory, index: str, unfinished: list[str]) -> str | None:
    """The failed or interrupted revision whose file names this index, if there is one."""
    pattern = re.compile(rf"(?<![\w]){re.escape(index)}(?![\w])")
    for rev in reversed(unfinished):
        sc = script.get_revision(rev) if rev in _known(script) else None
        if sc is not None and pattern.search(Path(sc.path).read_text()):
            return rev
    return None


def _known(script: ScriptDirectory) -> set[str]:
    return {sc.revision for sc in script.walk_revisions()}


def _mismatch(conn: Connection, script: ScriptDirectory) -> Finding | None:
    if not history_table.exists(conn) or not history_table.has_status(conn):
        return None
    last = conn.execute(_LAST_MOVE).first()
    if last is None:
        return None
    revision, direction = str(last[0]), str(last[1])
    current = revisions.current_heads(conn)
    try:
        applied = revisions.applied_set(script, current)
    except DatabaseAhead:
        return None
    if (direction == "down") != (revision in applied):
        return None
    said = "reverted" if direction == "down" else "applied"
    state = ", ".join(current) or "base"
    return Finding(
        "version-history-mismatch",
        f"The history's last move {said} {revision}, but alembic_version says {state}.",
        "Find out which is true (`drift` compares the schema with each revision's), then "
        "record it with `stamp` (with confirm). repair never changes the version itself.",
        revision=revision,
    )


def _stale_finding(r: StaleRow) -> Finding:
    return Finding(
        "stale-running-row",
        f"History row {r.id} says revision {r.revision} is running (run {r.run_id}), but "
        "that run's session is gone: it ended mid-step, and its transaction did not commit.",
        "Run repair with confirm to mark it failed, then run the upgrade again.",
        revision=r.revision,
    )


def _index_finding(ix: InvalidIndex) -> Finding:
    if ix.created_by:
        fix = "Run repair with confirm to drop it; the upgrade then builds it again."
        origin = f"left by the failed revision {ix.created_by}"
    else:
        fix = f'Check what created it, then drop it by hand: DROP INDEX CONCURRENTLY "{ix.name}".'
        origin = "not created by any failed revision of this project"
    return Finding(
        "invalid-index",
        f"Index {ix.name} on {ix.table} is invalid ({origin}): a CREATE INDEX CONCURRENTLY "
        "failed part way. It slows writes and answers no query.",
        fix,
        revision=ix.created_by,
        object=f"index {ix.table}.{ix.name}",
    )

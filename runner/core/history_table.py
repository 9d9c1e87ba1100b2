"""Our own record of every revision applied, reverted, stamped, baselined or repaired.

A step's row is written `running` and committed before the revision starts: the first step's
in its own short transaction, every later step's in the previous revision's transaction, in
the same round trip that records that revision (`step_sql`), so it commits with it. The row
turns `applied` inside the revision's own transaction (from Alembic's `on_version_apply`
hook), so the version row and the `applied` row commit together and the history can never
claim a revision that rolled back. When a revision fails, the engine marks its row `failed`
after the rollback, on the same connection (which still holds the migration lock), with the
scrubbed error. A row left `running` means the run died mid-step: `repair` finds it. Each row
records the sha256 of the revision file (`runner.integrity.checksums`), the runner version and
who ran it.

`bootstrap-migrator` records itself here too, with the direction `bootstrap`. Tables made by
older versions are upgraded in place (`ensure`): new columns are added, existing rows keep
everything and get a null checksum and the status `applied`.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

TABLE = "aurora_migrations_history"
DIRECTIONS = ("up", "down", "stamp", "bootstrap", "baseline", "repair", "accept")
STATUSES = ("running", "applied", "failed")
DIRECTION_CHECK = f"{TABLE}_direction_check"  # PostgreSQL's own name for the old, unnamed CHECK
STATUS_CHECK = f"{TABLE}_status_check"
_CHECK = "CHECK (direction IN ({}))".format(", ".join(f"'{d}'" for d in DIRECTIONS))
_STATUS = "CHECK (status IN ({}))".format(", ".join(f"'{s}'" for s in STATUSES))

# The columns added by [integrity]; `ensure` adds them to older tables.
NEW_COLUMNS = {
    "status": f"TEXT NOT NULL DEFAULT 'applied' CONSTRAINT {STATUS_CHECK} {_STATUS}",
    "checksum": "TEXT",
    "runner_version": "TEXT",
    "run_by": "TEXT",
    "function_arn": "TEXT",
    "backend_pid": "INTEGER",
    "error": "TEXT",
    "details": "JSONB",
}

CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL,
    command TEXT NOT NULL,
    revision TEXT NOT NULL,
    description TEXT NOT NULL,
    direction TEXT NOT NULL
        CONSTRAINT {DIRECTION_CHECK} {_CHECK},
    duration_ms INTEGER NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    request_id TEXT,
{",".join(f"{chr(10)}    {name} {ddl}" for name, ddl in NEW_COLUMNS.items()).lstrip(chr(10))}
)
"""

ALLOW_ALL_DIRECTIONS = (
    f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {DIRECTION_CHECK},"
    f" ADD CONSTRAINT {DIRECTION_CHECK} {_CHECK}"
)
UPGRADE = (
    f"ALTER TABLE {TABLE} "
    + ", ".join(f"ADD COLUMN IF NOT EXISTS {name} {ddl}" for name, ddl in NEW_COLUMNS.items())
    + f", DROP CONSTRAINT IF EXISTS {DIRECTION_CHECK}, ADD CONSTRAINT {DIRECTION_CHECK} {_CHECK}"
)
# Up to date when every new column exists and the direction CHECK accepts the newest direction.
_IS_CURRENT = sa.text(
    "SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(:table)"
    " AND attname = ANY(:columns) AND NOT attisdropped) = :count"
    " AND EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(:table)"
    " AND conname = :check AND pg_get_constraintdef(oid) LIKE :newest)"
)

_COLUMNS = (
    "run_id, command, revision, description, direction, duration_ms, request_id, status,"
    " checksum, runner_version, run_by, function_arn, backend_pid, error, details"
)
INSERT = sa.text(
    f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES (:run_id, :command, :revision, :description,"
    " :direction, :duration_ms, :request_id, :status, :checksum, :runner_version, :run_by,"
    " :function_arn, pg_backend_pid(), :error, CAST(:details AS JSONB)) RETURNING id"
)
# The same INSERT for `exec_driver_sql`, sent in one round trip with other statements
# (`step_sql`); written only if `{condition}` holds.
_INSERT_WHERE = (
    f"INSERT INTO {TABLE} ({_COLUMNS}) SELECT %(run_id)s, %(command)s, %(revision)s,"
    " %(description)s, %(direction)s, %(duration_ms)s, %(request_id)s, %(status)s,"
    " %(checksum)s, %(runner_version)s, %(run_by)s, %(function_arn)s, pg_backend_pid(),"
    " %(error)s, CAST(%(details)s AS JSONB) WHERE {condition} RETURNING id"
)
_FINISH_SQL = (
    f"UPDATE {TABLE} SET status = 'applied', duration_ms = %(finished_ms)s, applied_at = now()"
    " WHERE id = %(finished)s"
)
OPTIONAL = {
    "request_id": None,
    "status": "applied",
    "checksum": None,
    "runner_version": None,
    "run_by": None,
    "function_arn": None,
    "error": None,
    "details": None,
}
# What counts as applied: rows of the old table (no status) and `applied` rows.
APPLIED = "status = 'applied'"


def ensure(conn: Connection) -> None:
    """Create the table, or bring an older one up to date in place; the caller commits.

    The ALTER takes an ACCESS EXCLUSIVE lock on the history table, so it runs only when
    something is missing, not on every run.
    """
    conn.exec_driver_sql(CREATE)
    current = conn.execute(
        _IS_CURRENT,
        {
            "table": TABLE,
            "columns": list(NEW_COLUMNS),
            "count": len(NEW_COLUMNS),
            "check": DIRECTION_CHECK,
            "newest": f"%'{DIRECTIONS[-1]}'%",
        },
    ).scalar()
    if not current:
        conn.exec_driver_sql(UPGRADE)


def insert(conn: Connection, **row: Any) -> int:
    """Write one row (status `applied` unless given); returns its id."""
    return int(conn.execute(INSERT, _values(row)).scalar_one())


def _values(row: dict[str, Any]) -> dict[str, Any]:
    values = {**OPTIONAL, **row}
    if values["details"] is not None:
        values["details"] = json.dumps(values["details"], sort_keys=True)
    return values


def step_sql(
    *, condition: str, finished: tuple[int, int] | None, running: dict[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """The book-keeping between two steps as one statement list and its parameters.

    `finished` (row id, duration in ms) turns the step just run `applied`; `running` (a row's
    values) writes the next step's `running` row if `condition` (an SQL boolean) holds, and
    the statement list then returns its id, or no row. Without `running` it returns whether
    `condition` holds.
    """
    statements: list[str] = []
    params: dict[str, Any] = {}
    if finished is not None:
        statements.append(_FINISH_SQL)
        params.update(finished=finished[0], finished_ms=finished[1])
    if running is not None:
        statements.append(_INSERT_WHERE.format(condition=condition))
        params.update(_values(running))
    else:
        statements.append(f"SELECT {condition}")
    return "; ".join(statements), params


def record(conn: Connection, **row: Any) -> None:
    insert(conn, **row)


def fail(conn: Connection, row_id: int, *, duration_ms: int, error: str) -> None:
    """Mark a step's row `failed`, with the (already scrubbed) error; the caller commits."""
    conn.execute(
        sa.text(
            f"UPDATE {TABLE} SET status = 'failed', duration_ms = :duration_ms, error = :error"
            " WHERE id = :id AND status = 'running'"
        ),
        {"id": row_id, "duration_ms": duration_ms, "error": error},
    )


def has_status(conn: Connection) -> bool:
    """Whether the table exists with the [integrity] columns (older tables have none)."""
    return bool(
        conn.execute(
            sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(:t)"
                " AND attname = 'status' AND NOT attisdropped)"
            ),
            {"t": TABLE},
        ).scalar()
    )


def exists(conn: Connection) -> bool:
    return bool(conn.execute(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar())


def last_applied(conn: Connection) -> dict[str, str]:
    """revision -> when it was last applied upwards (ISO 8601), if the table exists."""
    if not exists(conn):
        return {}
    applied = f" AND {APPLIED}" if has_status(conn) else ""
    rows = conn.execute(
        sa.text(
            f"SELECT revision, max(applied_at) FROM {TABLE} WHERE direction = 'up'{applied}"
            " GROUP BY revision"
        )
    )
    return {revision: when.isoformat() for revision, when in rows}


def last_applied_by(conn: Connection) -> dict[str, tuple[str | None, int]]:
    """revision -> (who, how long in ms) of its latest applied row, from tables that say so."""
    if not exists(conn) or not has_status(conn):
        return {}
    rows = conn.execute(
        sa.text(
            f"SELECT DISTINCT ON (revision) revision, run_by, duration_ms FROM {TABLE}"
            f" WHERE direction = 'up' AND {APPLIED} ORDER BY revision, applied_at DESC, id DESC"
        )
    )
    return {revision: (by, int(duration)) for revision, by, duration in rows}


def recorded_by_run(conn: Connection, run_id: str) -> list[str]:
    """The revisions one run recorded as applied (committed rows only), oldest first."""
    if not exists(conn):
        return []
    applied = f" AND {APPLIED}" if has_status(conn) else ""
    rows = conn.execute(
        sa.text(f"SELECT revision FROM {TABLE} WHERE run_id = :run_id{applied} ORDER BY id"),
        {"run_id": run_id},
    )
    return [str(revision) for (revision,) in rows]

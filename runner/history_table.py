"""Our own record of every revision applied, reverted or stamped, next to `alembic_version`.

Rows are written inside the same transaction as the revision itself (from Alembic's
`on_version_apply` hook), so the history can never claim a revision that rolled back.
`bootstrap-migrator` records itself here too, with the direction `bootstrap`; tables made
before that direction existed are upgraded in place by the bootstrap (`ALLOW_ALL_DIRECTIONS`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

TABLE = "aurora_migrations_history"
DIRECTIONS = ("up", "down", "stamp", "bootstrap")
DIRECTION_CHECK = f"{TABLE}_direction_check"  # PostgreSQL's own name for the old, unnamed CHECK
_CHECK = "CHECK (direction IN ({}))".format(", ".join(f"'{d}'" for d in DIRECTIONS))

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
    request_id TEXT
)
"""

ALLOW_ALL_DIRECTIONS = (
    f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {DIRECTION_CHECK},"
    f" ADD CONSTRAINT {DIRECTION_CHECK} {_CHECK}"
)

INSERT = sa.text(
    f"INSERT INTO {TABLE} (run_id, command, revision, description, direction, duration_ms,"
    " request_id) VALUES (:run_id, :command, :revision, :description, :direction,"
    " :duration_ms, :request_id)"
)


def ensure(conn: Connection) -> None:
    """Create the table if needed; `conn` is the autocommit lock connection."""
    conn.exec_driver_sql(CREATE)


def record(conn: Connection, **row: Any) -> None:
    conn.execute(INSERT, row)


def last_applied(conn: Connection) -> dict[str, str]:
    """revision -> when it was last applied upwards (ISO 8601), if the table exists."""
    if not sa.inspect(conn).has_table(TABLE):
        return {}
    rows = conn.execute(
        sa.text(
            f"SELECT revision, max(applied_at) FROM {TABLE} WHERE direction = 'up'"
            " GROUP BY revision"
        )
    )
    return {revision: when.isoformat() for revision, when in rows}


def recorded_by_run(conn: Connection, run_id: str) -> list[str]:
    """The revisions one run recorded (committed rows only), oldest first."""
    if not sa.inspect(conn).has_table(TABLE):
        return []
    rows = conn.execute(
        sa.text(f"SELECT revision FROM {TABLE} WHERE run_id = :run_id ORDER BY id"),
        {"run_id": run_id},
    )
    return [str(revision) for (revision,) in rows]

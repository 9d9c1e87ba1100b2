"""The migration lock: one PostgreSQL *session* advisory lock serializes whole runs.

It is held on the very connection that runs the migrations, so it lives exactly as long as
any work of the run can touch the database: if that connection dies, the server rolls back
its open transaction and drops the lock in the same moment, and a rerun cannot start while
the dead run's statement is still executing. A session lock survives each revision's own
transaction and `autocommit_block()`. The engine checks the lock before every revision
(`HELD`, as the condition of the statement that writes the next revision's `running` row),
so a lock released behind its back (`pg_advisory_unlock_all()` in a revision) stops the run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runner.core.driver_errors import Failure, classify
from runner.core.errors import LockWaitTimeout
from runner.core.logs import log_event

# A stable 64-bit key derived from the project name, shared by every runner of this schema.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"aurora-migrations").digest()[:8], "big", signed=True)
# pg_locks shows a bigint advisory key as two 32-bit halves (objsubid 1 marks the bigint form).
_CLASSID, _OBJID = divmod(LOCK_KEY & 0xFFFF_FFFF_FFFF_FFFF, 1 << 32)

HELD_SQL = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
    f" AND pid = pg_backend_pid() AND classid = {_CLASSID} AND objid = {_OBJID}"
    " AND objsubid = 1 AND granted)"
)

HELD = f"({HELD_SQL})"  # the same, as an SQL boolean for a WHERE clause


def acquire(conn: Connection, *, wait_s: float, on_wait: Callable[[], None] | None = None) -> int:
    """Take the lock on `conn`, waiting up to `wait_s`; returns how long we waited, in ms.

    Runs in its own transaction and commits it; the session lock outlives the transaction.
    `on_wait` is called once if another run holds the lock, before the wait begins.
    """
    started = time.monotonic()
    got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
    conn.commit()
    if not got:
        log_event("lock.waiting", lock_key=LOCK_KEY, wait_limit_s=wait_s)
        if on_wait is not None:
            on_wait()
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(wait_s * 1000))}")
        try:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        except sa.exc.OperationalError as exc:
            if classify(exc) is not Failure.LOCK_TIMEOUT:
                raise
            conn.rollback()
            raise LockWaitTimeout(
                f"Another migration run held the migration lock for more than {wait_s:g} s. "
                "Wait for it to finish (see its logs) and run again, or raise "
                "MIGRATION_LOCK_WAIT_SECONDS.",
                waited_ms=_ms_since(started),
            ) from None
        conn.commit()
    waited_ms = _ms_since(started)
    log_event("lock.acquired", lock_wait_ms=waited_ms)
    return waited_ms


def held(conn: Connection) -> bool:
    """Whether this connection's session still holds the migration lock."""
    return bool(conn.exec_driver_sql(HELD_SQL).scalar())


def release(conn: Connection) -> bool:
    """Release the lock; False if this session did not hold it any more."""
    released = bool(
        conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY}).scalar()
    )
    conn.commit()
    log_event("lock.released" if released else "lock.not_held")
    return released


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

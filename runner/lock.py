"""The migration lock: one PostgreSQL *session* advisory lock serializes whole runs.

It is held on a dedicated autocommit connection, not in a transaction, so it survives each
revision's own transaction and `autocommit_block()`. A second run waits up to
`MIGRATION_LOCK_WAIT_SECONDS`, then finds nothing left to do.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg2.errors
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runner.errors import LockWaitTimeout
from runner.logs import log_event

# A stable 64-bit key derived from the project name, shared by every runner of this schema.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"aurora-migrations").digest()[:8], "big", signed=True)


@contextmanager
def migration_lock(conn: Connection, *, wait_s: float) -> Iterator[int]:
    """Hold the advisory lock on `conn` (autocommit); yields how long we waited, in ms."""
    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    started = time.monotonic()
    got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
    if not got:
        log_event("lock.waiting", lock_key=LOCK_KEY, wait_limit_s=wait_s)
        conn.exec_driver_sql(f"SET lock_timeout = {int(wait_s * 1000)}")
        try:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        except sa.exc.OperationalError as exc:
            if isinstance(exc.orig, psycopg2.errors.LockNotAvailable):
                raise LockWaitTimeout(
                    f"Another migration run held the migration lock for more than {wait_s:g} s. "
                    "Wait for it to finish (see its logs) and run again, or raise "
                    "MIGRATION_LOCK_WAIT_SECONDS.",
                    waited_ms=int((time.monotonic() - started) * 1000),
                ) from None
            raise
        finally:
            conn.exec_driver_sql("SET lock_timeout = 0")
    waited_ms = int((time.monotonic() - started) * 1000)
    log_event("lock.acquired", lock_wait_ms=waited_ms)
    try:
        yield waited_ms
    finally:
        with suppress(sa.exc.DBAPIError):  # if the connection is gone, so is the lock
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
        log_event("lock.released")

"""Hold a lock the runner must wait for: from its own connection, with a watchdog.

A test that holds a conflicting lock while the runner waits for it cannot let go from the same
thread if the runner never gives up (say `lock_timeout` went missing): the runner is blocked
inside libpq, where pytest-timeout's signal cannot reach it, and CI hangs instead of failing.
So the lock is held on a connection of its own, and a watchdog thread cancels
(`pg_cancel_backend`) every backend still blocked by it after `bound_s`. The test then fails
within the bound, with a message that says which statement waited and why that is a bug.
"""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import URL

# A wait the runner is meant to end by itself takes well under a second in these tests; this
# is the bound after which a wait counts as a hang.
DEFAULT_BOUND_S = 15.0
_BLOCKED_BY = (
    "SELECT pid, left(query, 120) FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))"
)


class LockHolder:
    """`with LockHolder(url, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE") as held:` holds the lock
    (in an open transaction on a connection of its own) until the block ends."""

    def __init__(self, url: URL, *statements: str, bound_s: float = DEFAULT_BOUND_S) -> None:
        self.url, self.statements, self.bound_s = url, statements, bound_s
        self.cancelled: list[str] = []  # what the watchdog had to cancel
        self.pid: int | None = None
        self._engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self._conn: sa.Connection | None = None
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> LockHolder:
        self._conn = self._engine.connect()
        self.pid = int(self._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        for statement in self.statements:
            self._conn.exec_driver_sql(statement)
        self._watchdog.start()
        return self

    def release(self) -> None:
        """Let go of the lock now (rolls back the holder's transaction, ends its session)."""
        self._stop.set()
        if self._conn is not None:
            with contextlib.suppress(sa.exc.DBAPIError):  # e.g. the server was restarted
                self._conn.rollback()
            with contextlib.suppress(sa.exc.DBAPIError):
                self._conn.close()
            self._conn = None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()
        self._watchdog.join(10)
        self._engine.dispose()
        if self.cancelled:
            raise AssertionError(
                f"watchdog: still waiting for the test's lock after {self.bound_s:g} s, so it "
                f"cancelled {self.cancelled}. The runner must give up on a lock by itself "
                "(lock_timeout, MIGRATION_LOCK_WAIT_SECONDS); it would have waited forever."
            ) from error

    def _watch(self) -> None:
        if self._stop.wait(self.bound_s):
            return
        while not self._stop.is_set():
            with contextlib.suppress(sa.exc.DBAPIError):  # server restarting: try again
                self._cancel_waiters()
            self._stop.wait(0.5)

    def _cancel_waiters(self) -> None:
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                waiting = conn.execute(sa.text(_BLOCKED_BY), {"holder": self.pid}).all()
                for pid, query in waiting:
                    conn.execute(sa.text("SELECT pg_cancel_backend(:pid)"), {"pid": pid})
                    self.cancelled.append(f"pid {pid}: {query}")
        finally:
            engine.dispose()

"""Who blocks a revision: the sessions holding the lock its statement is waiting for.

When a revision fails with `LockTimeout`, the useful answer is *who* held the table: a
long transaction of the application, a stuck report, a forgotten `psql`. The server can
only say so while the statement waits, so a watch looks from a second connection (which
holds no lock) once the revision has waited for part of `lock_timeout`, and keeps the last
answer. Query texts are cut to 200 characters and scrubbed like everything else we print.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runner.core.redact import scrub

QUERY_CHARS = 200
BLOCKERS_SQL = sa.text(
    "SELECT pid, coalesce(application_name, ''), query_start, coalesce(state, ''),"
    f" left(coalesce(query, ''), {QUERY_CHARS})"
    " FROM pg_stat_activity WHERE pid = ANY (pg_blocking_pids(:pid)) ORDER BY pid"
)


@dataclass(frozen=True)
class Blocker:
    """One session that held a lock the revision waited for."""

    pid: int
    application_name: str
    query_start: str | None
    state: str
    query: str

    def describe(self) -> str:
        started = f", query started {self.query_start}" if self.query_start else ""
        return (
            f"pid {self.pid} (application {self.application_name or 'unnamed'!r}, "
            f"{self.state or 'unknown state'}{started}): {self.query!r}"
        )


class BlockerWatch:
    """While a revision runs, look every `interval_s` for sessions blocking `pid`."""

    def __init__(
        self,
        connect: Callable[[], AbstractContextManager[Connection]],
        pid: int,
        interval_s: float,
    ) -> None:
        self._connect = connect
        self._pid = pid
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.blockers: list[Blocker] = []

    def start(self) -> None:
        self.blockers = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="blocker-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self._interval_s):
            with suppress(Exception):  # best effort: the answer only improves a message
                found = self._look()
                if found:
                    self.blockers = found

    def _look(self) -> list[Blocker]:
        with self._connect() as conn:
            rows = conn.execute(BLOCKERS_SQL, {"pid": self._pid}).all()
            conn.rollback()
        return [
            Blocker(
                pid=int(pid),
                application_name=scrub(str(name)),
                query_start=started.isoformat() if started is not None else None,
                state=str(state),
                query=scrub(" ".join(str(query).split())),
            )
            for pid, name, started, state, query in rows
        ]

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
    """While a revision runs, look every `interval_s` for sessions blocking `pid`.

    One thread serves the whole run: `start` arms it for a revision and `stop` disarms it
    (and waits for a look in progress, so `blockers` is final when it returns); `close` ends
    it. A thread per revision cost more than a small revision's own SQL.
    """

    def __init__(
        self,
        connect: Callable[[], AbstractContextManager[Connection]],
        pid: int,
        interval_s: float,
    ) -> None:
        self._connect = connect
        self._pid = pid
        self._interval_s = interval_s
        self._state = threading.Condition()
        self._armed = 0  # the arming this look belongs to; 0 while disarmed
        self._armings = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self.blockers: list[Blocker] = []

    def start(self) -> None:
        with self._state:
            if self._thread is None:
                self._closed = False  # armed again after `close`: a new thread below
            self.blockers = []
            self._armings += 1
            self._armed = self._armings
            self._state.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="blocker-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Disarm; waits (up to 5 s) for a look in progress to finish."""
        got = self._state.acquire(timeout=5)
        self._armed = 0
        if got:
            self._state.notify_all()
            self._state.release()

    def close(self) -> None:
        self.stop()
        with self._state:
            self._closed = True
            self._state.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _watch(self) -> None:
        with self._state:
            while not self._closed:
                arming = self._armed
                if not arming:
                    self._state.wait()
                    continue
                self._state.wait(timeout=self._interval_s)  # woken early by stop/start/close
                if self._armed != arming or self._closed:
                    continue
                with suppress(Exception):  # best effort: the answer only improves a message
                    found = self._look()  # under the lock: `stop` waits for it
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

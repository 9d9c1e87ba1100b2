"""The effect on the application, proved with a concurrent writer.

A long transaction of the application (the send engine writing `dry_run_log` rows) is open
when a revision builds an index. A plain CREATE INDEX waits for that transaction with its
SHARE lock requested, and every later write queues behind the waiting request: the writer
runs out of its own lock_timeout. `safe_ddl.create_index_concurrently` waits too, but holds
only SHARE UPDATE EXCLUSIVE, so the writer goes straight through.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.core.results import Request, Result
from tests.conftest import engine_for, settings_for
from tests.locks import LockHolder
from tests.revision_factory import Rev, write_tree
from tests.test_engine import scalar, versions

TABLE = Rev(
    "0001",
    None,
    "op.execute('CREATE TABLE events (id BIGINT PRIMARY KEY, v TEXT)')",
)
PLAIN = "op.create_index('ix_events_v', 'events', ['v'])"
CONCURRENT = "safe_ddl.create_index_concurrently('ix_events_v', 'events', ['v'])"
WAIT_BOUND_S = 15.0
WRITER_LOCK_TIMEOUT = "1s"  # the application's own patience


class Upgrade(threading.Thread):
    """`upgrade` in the background, keeping its result or its error."""

    def __init__(self, url: URL, ini: Path) -> None:
        super().__init__(daemon=True)
        # the runner's lock_timeout is longer than this test needs: the holder ends the wait
        self.engine = engine_for(settings_for(url, alembic_config=str(ini), lock_timeout_ms=60_000))
        self.result: Result | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.engine.run(Request("upgrade"))
        except BaseException as exc:
            self.error = exc


def wait_until_blocked_by(url: URL, holder: int) -> None:
    """Until some backend waits for the holder's transaction (bounded; fails, never hangs)."""
    deadline = time.monotonic() + WAIT_BOUND_S
    query = f"SELECT count(*) FROM pg_stat_activity WHERE {holder} = ANY(pg_blocking_pids(pid))"
    while not scalar(url, query):
        if time.monotonic() > deadline:
            pytest.fail("the revision never started waiting for the application's transaction")
        time.sleep(0.05)


def application_write(url: URL) -> str:
    """One INSERT as the application would do it: 'ok', or the database's refusal."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{WRITER_LOCK_TIMEOUT}'")
            conn.exec_driver_sql("INSERT INTO events VALUES (2, 'written meanwhile')")
        return "ok"
    except sa.exc.OperationalError as exc:
        return str(exc.orig).splitlines()[0]
    finally:
        engine.dispose()


def index_while_the_application_writes(url: URL, tmp_path: Path, upgrade: str) -> str:
    """Open an application transaction, start the revision, write meanwhile; then let go."""
    imports = "from runner.authoring import safe_ddl\n"
    ini = write_tree(tmp_path, [TABLE, Rev("0002", "0001", upgrade, imports=imports)])
    engine_for(settings_for(url, alembic_config=str(ini))).run(Request("upgrade", "0001"))
    with LockHolder(url, "INSERT INTO events VALUES (1, 'in a long transaction')") as app:
        assert app.pid is not None
        run = Upgrade(url, ini)
        run.start()
        wait_until_blocked_by(url, app.pid)
        outcome = application_write(url)
        app.release()
        run.join(WAIT_BOUND_S)
    assert run.error is None and run.result is not None, run.error
    assert versions(url) == ["0002"]
    assert scalar(url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_events_v'::regclass")
    return outcome


def test_a_plain_create_index_makes_the_application_queue_behind_it(
    database_url: URL, tmp_path: Path
) -> None:
    outcome = index_while_the_application_writes(database_url, tmp_path, PLAIN)

    assert outcome == "canceling statement due to lock timeout"


def test_a_concurrent_index_lets_the_application_write(database_url: URL, tmp_path: Path) -> None:
    outcome = index_while_the_application_writes(database_url, tmp_path, CONCURRENT)

    assert outcome == "ok"
    assert scalar(database_url, "SELECT v FROM events WHERE id = 2") == "written meanwhile"

"""The migration lock holds for as long as any work of the run can touch the database.

Three ways a lock used to be lost while work went on (each reproduced on the old design,
which held the lock on a separate idle connection): an operator terminates the lock's
backend, the server's idle timeout closes it, and a killed client whose statement keeps
running on the server. In every case a second run must not do work while the first run's
work can still touch the database, and each revision is applied exactly once.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.core.errors import AuroraMigrationsError, ConnectionLost, LockLost
from runner.core.lock import LOCK_KEY
from runner.core.logs import LOGGER_NAME
from runner.core.results import Request, Result
from tests.conftest import REPO, engine_for, settings_for
from tests.revision_factory import Rev, ledger_chain, write_tree
from tests.test_engine import rows, scalar, versions

LOCK_HOLDER = (
    "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
    f" AND (l.classid::bigint << 32 | l.objid::bigint) = {LOCK_KEY & 0xFFFF_FFFF_FFFF_FFFF}"
)


class Background:
    """Runs one engine command in a thread and keeps its result or error."""

    def __init__(self, run: Callable[[], Result]) -> None:
        self.result: Result | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._target, args=(run,), daemon=True)
        self._thread.start()

    def _target(self, run: Callable[[], Result]) -> None:
        try:
            self.result = run()
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float = 120) -> Background:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the run did not finish"
        return self

    def is_alive(self) -> bool:
        return self._thread.is_alive()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def execute(url: URL, sql: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


def ledger(url: URL) -> Counter[str]:
    return Counter(str(r[0]) for r in rows(url, "SELECT revision FROM ledger"))


def history_up(url: URL) -> Counter[str]:
    # A step killed mid-run leaves its row `running` (repair reports it), not `applied`.
    found = rows(
        url,
        "SELECT revision FROM aurora_migrations_history WHERE direction = 'up'"
        " AND status = 'applied'",
    )
    return Counter(str(r[0]) for r in found)


def test_terminating_the_lock_backend_stops_the_run(database_url: URL, tmp_path: Path) -> None:
    chain = ledger_chain(30, extra="op.execute('SELECT pg_sleep(0.1)')")
    ini = write_tree(tmp_path, chain)
    settings = settings_for(database_url, alembic_config=str(ini), lock_wait_s=60)
    first = Background(lambda: engine_for(settings).run(Request("upgrade")))
    wait_for(lambda: versions(database_url) >= ["0005"], "the first run to reach 0005")
    holder = scalar(database_url, LOCK_HOLDER)
    assert holder is not None
    scalar(database_url, f"SELECT pg_terminate_backend({holder})")
    second = Background(lambda: engine_for(settings).run(Request("upgrade")))
    first.join()
    second.join()

    assert first.result is None, "a run that lost its lock must never report success"
    assert isinstance(first.error, LockLost), first.error
    assert isinstance(first.error, ConnectionLost)
    assert second.error is None and second.result is not None
    everything = [r.revision for r in chain]
    assert versions(database_url) == ["0030"]
    assert ledger(database_url) == Counter(everything[1:]), "no revision body ran twice"
    assert history_up(database_url) == Counter(everything), "each revision recorded once"
    kept = first.error.details["applied"]
    again = [a.revision for a in second.result.applied]
    assert kept + again == everything, "the two runs split the chain, in order"


def test_idle_timeouts_cannot_close_the_lock(database_url: URL, tmp_path: Path) -> None:
    """Revisions that spend time in Python leave the session idle; the server must not end it."""
    chain = ledger_chain(3, extra="time.sleep(1.5)")
    ini = write_tree(tmp_path, chain)
    database = f'"{database_url.database}"'
    execute(database_url, f"ALTER DATABASE {database} SET idle_session_timeout = '1s'")
    execute(
        database_url, f"ALTER DATABASE {database} SET idle_in_transaction_session_timeout = '1s'"
    )
    settings = settings_for(database_url, alembic_config=str(ini))
    run = Background(lambda: engine_for(settings).run(Request("upgrade")))
    wait_for(lambda: versions(database_url) == ["0002"], "the run to reach 0002", timeout=30)
    probe = scalar(database_url, f"SELECT pg_try_advisory_lock({LOCK_KEY})")
    run.join()

    assert probe is False, "while the run works, nobody else can take the migration lock"
    assert run.error is None, run.error
    assert versions(database_url) == ["0003"]


KILLED_RUN = """
import sys
from runner.core.database import UrlCredentials
from runner.core.engine import MigrationEngine
from runner.core.results import Request
from runner.core.settings import Settings
settings = Settings(database_url=sys.argv[1], alembic_config=sys.argv[2])
MigrationEngine(settings, UrlCredentials(sys.argv[1])).run(Request("upgrade"))
"""


def test_a_killed_client_keeps_the_lock_until_its_statement_is_gone(
    database_url: URL, tmp_path: Path
) -> None:
    revs = [
        Rev("0001", None, "op.execute('CREATE TABLE ledger (revision TEXT NOT NULL)')"),
        Rev(
            "0002",
            "0001",
            """
            op.execute("INSERT INTO ledger VALUES ('0002')")
            op.execute("SELECT pg_sleep(5)")
            """,
        ),
    ]
    ini = write_tree(tmp_path, revs)
    url = database_url.render_as_string(hide_password=False)
    client = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, url, str(ini)], cwd=REPO, stderr=subprocess.DEVNULL
    )
    try:
        dead_pid = wait_for(
            lambda: scalar(
                database_url,
                "SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%'"
                " AND state = 'active' AND pid <> pg_backend_pid()",
            ),
            "the client's 5-second statement",
        )
    finally:
        os.kill(client.pid, signal.SIGKILL)
        client.wait()

    seen_at_lock: list[object] = []

    class AtLock(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "event", None) == "lock.acquired":
                seen_at_lock.append(
                    scalar(
                        database_url,
                        f"SELECT count(*) FROM pg_stat_activity WHERE pid = {dead_pid}",
                    )
                )

    watcher = AtLock()
    logging.getLogger(LOGGER_NAME).addHandler(watcher)
    try:
        rerun = engine_for(settings_for(database_url, alembic_config=str(ini))).run(
            Request("upgrade")
        )
    finally:
        logging.getLogger(LOGGER_NAME).removeHandler(watcher)

    assert seen_at_lock == [0], "the rerun took the lock while the killed run's statement ran"
    assert [a.revision for a in rerun.applied] == ["0002"]
    assert ledger(database_url) == Counter(["0002"])
    assert versions(database_url) == ["0002"]


def test_a_revision_that_releases_the_lock_stops_the_run(database_url: URL, tmp_path: Path) -> None:
    revs = ledger_chain(3)
    revs[1] = Rev(
        "0002",
        "0001",
        "op.execute(\"INSERT INTO ledger VALUES ('0002')\")\n"
        "op.execute('SELECT pg_advisory_unlock_all()')",
    )
    ini = write_tree(tmp_path, revs)
    engine = engine_for(settings_for(database_url, alembic_config=str(ini)))
    with pytest.raises(LockLost) as lost:
        engine.run(Request("upgrade"))
    assert not isinstance(lost.value, ConnectionLost)
    assert versions(database_url) == ["0002"], "stopped before 0003's first statement"
    assert lost.value.details["applied"] == ["0001", "0002"]
    assert isinstance(lost.value, AuroraMigrationsError)

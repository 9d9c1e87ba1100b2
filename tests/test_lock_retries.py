"""Lock-aware DDL: a revision that hits lock_timeout is retried, and writers keep flowing.

Three measurements on real PostgreSQL. A session of the "application" holds a lock on the
table a revision alters (an open transaction that read from it). The runner's `ALTER TABLE`
waits at most `lock_timeout` per try, backs off, and succeeds once the holder lets go; a
writer inserting into the same table all along is stalled at most about `lock_timeout` at a
time, while a plain `ALTER TABLE` without a timeout stalls it for as long as the holder
holds on; and when the holder never lets go, the run gives up after the configured retries
with a typed error that names the blocking session, and nothing half-applied.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.core.engine import MigrationEngine
from runner.core.errors import LockTimeout
from runner.core.results import Request
from tests.conftest import LogCapture, engine_for, settings_for
from tests.revision_factory import Rev, write_tree
from tests.test_engine import scalar, versions

HOLDER_APP = "report-job"
TREE = [
    Rev(
        "0001",
        None,
        "op.execute('CREATE TABLE items (id SERIAL PRIMARY KEY, v TEXT)')\n"
        "op.execute(\"INSERT INTO items (v) SELECT 'x' FROM generate_series(1, 10)\")",
    ),
    Rev("0002", "0001", "op.execute('ALTER TABLE items ADD COLUMN extra INT')"),
]
LOCK_TIMEOUT_MS = 300


@contextmanager
def holder(url: URL, *, release_after_s: float | None) -> Iterator[None]:
    """An application session that read from `items` in a transaction it keeps open."""
    engine = sa.create_engine(url, connect_args={"application_name": HOLDER_APP})
    conn = engine.connect()
    conn.exec_driver_sql("SELECT count(*) FROM items").scalar()  # ACCESS SHARE until commit
    release = threading.Timer(release_after_s or 0, conn.rollback)
    if release_after_s is not None:
        release.start()
    try:
        yield
    finally:
        release.cancel()
        if release.is_alive():
            release.join()
        conn.close()
        engine.dispose()


class Writer:
    """Inserts into `items` in a tight loop and keeps the worst latency it saw."""

    def __init__(self, url: URL) -> None:
        self._engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self._stop = threading.Event()
        self.latencies: list[float] = []
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self._engine.dispose()

    def _loop(self) -> None:
        with self._engine.connect() as conn:
            conn.exec_driver_sql("SET statement_timeout = '30s'")
            while not self._stop.is_set():
                started = time.monotonic()
                conn.exec_driver_sql("INSERT INTO items (v) VALUES ('w')")
                self.latencies.append(time.monotonic() - started)
                time.sleep(0.005)

    @property
    def worst_ms(self) -> int:
        return int(max(self.latencies) * 1000)


def engine_with_retries(
    url: URL, tmp_path: Path, *, lock_retries: int, lock_retry_max_s: float = 0.5
) -> MigrationEngine:
    ini = write_tree(tmp_path, TREE)
    settings = settings_for(
        url,
        alembic_config=str(ini),
        lock_timeout_ms=LOCK_TIMEOUT_MS,
        lock_retries=lock_retries,
        lock_retry_max_s=lock_retry_max_s,
    )
    engine = engine_for(settings)
    engine.run(Request("upgrade", "0001"))
    return engine


def column_exists(url: URL) -> bool:
    return bool(
        scalar(
            url,
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'items' AND column_name = 'extra'",
        )
    )


def test_the_revision_waits_per_try_retries_and_succeeds_once_the_holder_lets_go(
    database_url: URL, tmp_path: Path, logs: LogCapture
) -> None:
    engine = engine_with_retries(database_url, tmp_path, lock_retries=20)
    with holder(database_url, release_after_s=1.5):
        result = engine.run(Request("upgrade"))

    retries = logs.events("step.retry")
    assert [a.revision for a in result.applied] == ["0002"]
    assert retries and all(r["revision"] == "0002" for r in retries)
    assert [r["attempt"] for r in retries] == list(range(1, len(retries) + 1))
    assert any(HOLDER_APP in b for r in retries for b in r["blockers"]), retries
    assert versions(database_url) == ["0002"] and column_exists(database_url)


def test_writers_keep_flowing_while_a_plain_alter_stalls_them(
    database_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held_s = 3.0
    engine = engine_with_retries(database_url, tmp_path, lock_retries=30)
    with Writer(database_url) as writer, holder(database_url, release_after_s=held_s):
        engine.run(Request("upgrade"))
    with_runner = writer.worst_ms

    plain = sa.create_engine(database_url)
    with Writer(database_url) as baseline, holder(database_url, release_after_s=held_s):
        time.sleep(0.2)
        with plain.begin() as conn:  # what a revision does without lock_timeout
            conn.exec_driver_sql("ALTER TABLE items ADD COLUMN plain INT")
    plain.dispose()

    with capsys.disabled():
        print(
            f"\n[lock-aware DDL] holder {held_s:.1f} s, lock_timeout {LOCK_TIMEOUT_MS} ms: "
            f"worst insert latency {with_runner} ms through the runner "
            f"({len(writer.latencies)} inserts), {baseline.worst_ms} ms behind a plain "
            f"ALTER TABLE ({len(baseline.latencies)} inserts)"
        )
    assert with_runner < held_s * 1000 / 2, "the runner let writers through between tries"
    assert baseline.worst_ms > held_s * 1000 / 2, "the plain ALTER stalled them (the control)"


def test_a_holder_that_never_lets_go_fails_typed_naming_it(
    database_url: URL, tmp_path: Path
) -> None:
    engine = engine_with_retries(database_url, tmp_path, lock_retries=2, lock_retry_max_s=0.2)
    with holder(database_url, release_after_s=None), pytest.raises(LockTimeout) as failed:
        engine.run(Request("upgrade"))

    error = failed.value
    assert error.details["attempts"] == 3, "the first try and two retries"
    assert HOLDER_APP in error.message and "SELECT count(*) FROM items" in error.message
    assert "tried 3 time(s)" in error.message
    assert versions(database_url) == ["0001"] and not column_exists(database_url)

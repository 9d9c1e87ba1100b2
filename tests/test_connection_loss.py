"""A connection lost mid-run is one typed error: `ConnectionLost`, exit 1, advice to retry.

It names the revision in flight and the driver's own words, and reports the state read
afresh (or says plainly that it is unknown and which command shows it). These tests restart
a server of their own, so they never disturb the suite's shared cluster.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from runner.core.errors import ConnectionLost, MigrationFailed
from runner.core.lock import LOCK_KEY
from runner.core.results import Request
from runner.local.localpg import LocalCluster
from tests.conftest import engine_for, settings_for, throwaway_cluster
from tests.locks import LockHolder
from tests.test_engine import scalar, versions
from tests.test_lock_loss import Background, wait_for

SLEEPING = (
    "SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND state = 'active'"
    " AND pid <> pg_backend_pid()"
)


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[LocalCluster]:
    root = Path(tempfile.mkdtemp(prefix="aurora-restart-pg-"))
    root.chmod(0o755)
    with throwaway_cluster(root, password="Restart-pw-2718") as cluster:
        cluster.start()
        yield cluster


@pytest.fixture
def own_database(own_cluster: LocalCluster) -> URL:
    if not own_cluster.is_running():
        own_cluster.start()
    name = f"r_{time.monotonic_ns()}"
    return own_cluster.create_database(name)


def assert_original_error(error: ConnectionLost) -> None:
    """The driver's own words for the lost connection, not a failed reconnect's."""
    said = error.details["database_error"]
    assert said in error.message
    assert said.startswith(
        ("terminating connection due to administrator command", "server closed the connection")
    ), said


def restart(cluster: LocalCluster) -> None:
    """`pg_ctl restart -m fast`: every backend is terminated, the server comes back at once."""
    cluster._run(
        [
            "pg_ctl",
            "restart",
            "-w",
            "-m",
            "fast",
            "-D",
            str(cluster.data),
            "-l",
            str(cluster.log_file),
        ]
    )


def test_a_killed_migration_connection_is_connection_lost(
    database_url: URL, tmp_path: Path
) -> None:
    engine = engine_for(settings_for(database_url, "slow", tmp_path))
    run = Background(lambda: engine.run(Request("upgrade")))
    pid = wait_for(lambda: scalar(database_url, SLEEPING), "revision 0002's statement")
    scalar(database_url, f"SELECT pg_terminate_backend({pid})")
    run.join()

    error = run.error
    assert isinstance(error, ConnectionLost), error
    assert not isinstance(error, MigrationFailed)
    assert error.details["revision"] == "0002"
    assert_original_error(error)
    assert error.details["state"] == ["0001"] and error.details["state_known"] is True
    assert error.details["applied"] == ["0001"]
    assert "Fix the revision" not in error.message
    assert "run the same command again" in error.message
    assert versions(database_url) == ["0001"]


def test_a_server_restart_mid_run_names_the_revision_and_the_original_error(
    own_cluster: LocalCluster, own_database: URL, tmp_path: Path
) -> None:
    engine = engine_for(settings_for(own_database, "slow", tmp_path))
    run = Background(lambda: engine.run(Request("upgrade")))
    wait_for(lambda: scalar(own_database, SLEEPING), "revision 0002's statement")
    restart(own_cluster)
    run.join()

    error = run.error
    assert isinstance(error, ConnectionLost), error
    assert error.details["revision"] == "0002"
    assert_original_error(error)
    if error.details["state_known"]:
        assert error.details["state"] == ["0001"]
    else:
        assert "aurora-migrate current" in error.message
    assert versions(own_database) == ["0001"], "the revision in flight was rolled back"


def test_a_restart_while_waiting_for_the_lock_is_connection_lost(
    own_cluster: LocalCluster, own_database: URL
) -> None:
    engine = engine_for(settings_for(own_database, lock_wait_s=60))
    with LockHolder(own_database, f"SELECT pg_advisory_lock({LOCK_KEY})"):
        run = Background(lambda: engine.run(Request("upgrade")))
        wait_for(
            lambda: scalar(
                own_database,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE '%pg_advisory_lock%'",
            ),
            "the run to wait for the migration lock",
        )
        restart(own_cluster)
        run.join()

    error = run.error
    assert isinstance(error, ConnectionLost), repr(error)
    assert "waiting for the migration lock" in error.message
    assert "revision" not in error.details
    assert versions(own_database) == []

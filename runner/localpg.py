"""A throwaway PostgreSQL cluster started from the server binaries.

Used by the development database (`aurora-migrate devdb`) and by the test suite, so both
run real PostgreSQL with no AWS account and no server someone else left running. `initdb`
refuses to run as root, so when we are root the server runs as the `postgres` user.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from runner.errors import LocalDatabaseError

SERVER_USER = "postgres"


def find_bindir() -> Path:
    """Where the server binaries live: $PG_BINDIR, then `pg_config --bindir`, then PATH."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(out.stdout.strip()))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    # Debian and Ubuntu keep server binaries out of PATH, one folder per major version.
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for candidate in candidates:
        if all((candidate / tool).exists() for tool in _TOOLS):
            return candidate
    raise LocalDatabaseError(
        "PostgreSQL server binaries (initdb, pg_ctl, pg_isready, psql) were not found. "
        "Install the PostgreSQL server package, or set PG_BINDIR to the folder that holds them."
    )


_TOOLS = ("initdb", "pg_ctl", "pg_isready", "psql", "postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> list[str]:
    """Command prefix that runs a server binary as a non-root user when we are root."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", SERVER_USER, "--"]


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVER_USER)
        for item in [path, *path.rglob("*")]:
            os.chown(item, entry.pw_uid, entry.pw_gid)


@dataclass(frozen=True)
class LocalCluster:
    """A cluster in `root`: data in `root/data`, its superuser password in `root/password`."""

    root: Path
    bindir: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def port_file(self) -> Path:
        return self.root / "port"

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def port(self) -> int:
        return int(self.port_file.read_text().strip())

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    def exists(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.exists():
            return False
        result = self._run(["pg_ctl", "status", "-D", str(self.data)], check=False)
        return result.returncode == 0

    def url(self, database: str = "postgres") -> URL:
        return URL.create(
            "postgresql+psycopg2",
            username=SERVER_USER,
            password=self.password,
            host="127.0.0.1",
            port=self.port,
            database=database,
        )

    def init(self, *, password: str | None = None) -> None:
        """Create the cluster with password (scram) authentication over TCP."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.password_file.write_text(password or secrets.token_urlsafe(18))
        self.password_file.chmod(0o644 if os.geteuid() == 0 else 0o600)
        self.port_file.write_text(str(free_port()))
        _give_to_server_user(self.root)
        self._check_reachable()
        self._run(
            [
                "initdb",
                "-D",
                str(self.data),
                "-U",
                SERVER_USER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={self.password_file}",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )
        if os.geteuid() == 0:
            self.password_file.chmod(0o600)

    def _check_reachable(self) -> None:
        """As root the server runs as `postgres`, which must be able to reach our folder."""
        prefix = _as_server_user()
        if prefix and subprocess.run([*prefix, "test", "-r", str(self.password_file)]).returncode:
            raise LocalDatabaseError(
                f"The {SERVER_USER} user cannot reach {self.root} (a parent folder is private). "
                "Choose a folder it can traverse, e.g. with AURORA_MIGRATE_DEVDB_DIR."
            )

    def start(self, *, extra_conf: dict[str, str] | None = None) -> None:
        """Start the server on 127.0.0.1 at the recorded port and wait until it answers."""
        if self.is_running():
            return
        if self.port_file.exists() and not _port_is_free(self.port):
            self.port_file.write_text(str(free_port()))
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.data}",
            "-c max_connections=100",
            "-c fsync=off",
        ]
        for key, value in (extra_conf or {}).items():
            options.append(f"-c {key}={value}")
        self._run(
            [
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data),
                "-l",
                str(self.log_file),
                "-o",
                " ".join(options),
            ]
        )
        self._wait_ready()

    def stop(self) -> None:
        if self.is_running():
            self._run(["pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data)], check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> URL:
        self._psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _psql(self, sql: str) -> None:
        self._run(
            [
                "psql",
                "-h",
                str(self.data),
                "-p",
                str(self.port),
                "-U",
                SERVER_USER,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                sql,
            ]
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            result = self._run(["pg_isready", "-h", "127.0.0.1", "-p", str(self.port)], check=False)
            if result.returncode == 0:
                return
            time.sleep(0.1)
        raise LocalDatabaseError(f"PostgreSQL did not become ready; see {self.log_file}.")

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*_as_server_user(), str(self.bindir / argv[0]), *argv[1:]]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
        if check and result.returncode != 0:
            raise LocalDatabaseError(
                f"{argv[0]} failed (exit {result.returncode}): {result.stderr.strip()}"
            )
        return result


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def cluster_at(root: Path) -> LocalCluster:
    return LocalCluster(root=root.resolve(), bindir=find_bindir())

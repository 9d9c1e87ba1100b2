"""The project-local development database: real PostgreSQL, started on demand.

When no DATABASE_URL is set, the CLI runs against this cluster, kept in the git-ignored
`.devdb/` folder (or AURORA_MIGRATE_DEVDB_DIR). It starts at the first connection a command
opens, so commands that need no database (`heads`) never start it. Its port is picked once
and kept in `.devdb/port`, so a saved URL keeps working across restarts and resets.
`aurora-migrate devdb start|stop|url|reset|psql`.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

from sqlalchemy.engine import URL

from runner.core.logs import log_event
from runner.core.redact import register, safe_url
from runner.core.settings import Settings
from runner.local.localpg import SERVER_USER, LocalCluster, cluster_at, reserve_port, server_version

DATABASE = "aurora_dev"


def cluster(settings: Settings) -> LocalCluster:
    return cluster_at(settings.devdb_path)


def target(settings: Settings) -> URL:
    """The database's URL, without its password, known before it exists: nothing starts."""
    return URL.create(
        "postgresql+psycopg2",
        username=SERVER_USER,
        host="127.0.0.1",
        port=reserve_port(settings.devdb_path.resolve()),
        database=DATABASE,
    )


def start(settings: Settings, *, port: int | None = None) -> URL:
    """Create the cluster and database if needed, start it, and return its URL."""
    pg = cluster(settings)
    created = not pg.exists()
    if created:
        pg.init(port=port)
    pg.start()
    if created:
        pg.create_database(DATABASE)
    url = pg.url(DATABASE)
    register(pg.password)
    log_event(
        "devdb.started",
        url=safe_url(url),
        initialized=created,
        data=str(pg.root),
        postgresql=server_version(pg.bindir),
    )
    return url


def stop(settings: Settings) -> None:
    cluster(settings).stop()


def reset(settings: Settings) -> URL:
    """Drop everything: a fresh, empty development database, on the same port."""
    port = reserve_port(settings.devdb_path.resolve())
    cluster(settings).destroy()
    return start(settings, port=port)


def running_url(settings: Settings) -> URL | None:
    pg = cluster_at(settings.devdb_path) if settings.devdb_path.exists() else None
    if pg is None or not pg.is_running():
        return None
    register(pg.password)
    return pg.url(DATABASE)


def shown_url(url: URL, *, libpq: bool = False, show_password: bool = False) -> str:
    """The URL as `devdb url` prints it: SQLAlchemy's form (password as ***) by default;
    with `libpq`, the postgresql:// form that psql and other libpq tools accept, which has
    no password at all unless asked for (psql then prompts, or reads PGPASSWORD)."""
    if not libpq:
        return url.render_as_string(hide_password=not show_password)
    plain = URL.create(
        "postgresql",
        username=url.username,
        password=url.password if show_password else None,  # URL.set() cannot drop it
        host=url.host,
        port=url.port,
        database=url.database,
    )
    return plain.render_as_string(hide_password=False)


def psql(settings: Settings) -> int:
    """Open psql on the database (starting it if needed); psql's exit code.

    The password goes to psql in PGPASSWORD, not on its command line, where `ps` shows it.
    Ctrl-C belongs to psql (it cancels the running query): we ignore it while psql runs.
    """
    url = start(settings)
    client = cluster(settings).bindir / "psql"
    env = {**os.environ, "PGPASSWORD": str(url.password)}
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        done = subprocess.run(
            [str(client), shown_url(url, libpq=True)],
            env=env,
            check=False,
            preexec_fn=_default_sigint,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    return done.returncode


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class DevDatabase:
    """The development database as a `CredentialSource`: its URL is known without starting
    it, and the first connection starts it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._password: str | None = None

    def url(self) -> URL:
        return target(self._settings)

    def password(self) -> str | None:
        if self._password is None:
            self._password = str(start(self._settings).password)
        return self._password

    def refresh(self) -> bool:
        return False

    def connect_args(self) -> dict[str, Any]:
        return {}

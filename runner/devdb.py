"""The project-local development database: real PostgreSQL, started on demand.

When no DATABASE_URL is set, the CLI runs against this cluster, kept in the git-ignored
`.devdb/` folder (or AURORA_MIGRATE_DEVDB_DIR). `aurora-migrate devdb start|stop|url|reset`.
"""

from __future__ import annotations

from sqlalchemy.engine import URL

from runner.localpg import LocalCluster, cluster_at
from runner.logs import log_event
from runner.redact import register, safe_url
from runner.settings import Settings

DATABASE = "aurora_dev"


def cluster(settings: Settings) -> LocalCluster:
    return cluster_at(settings.devdb_path)


def start(settings: Settings) -> URL:
    """Create the cluster and database if needed, start it, and return its URL."""
    pg = cluster(settings)
    created = not pg.exists()
    if created:
        pg.init()
    pg.start()
    if created:
        pg.create_database(DATABASE)
    url = pg.url(DATABASE)
    register(pg.password)
    log_event("devdb.started", url=safe_url(url), initialized=created, data=str(pg.root))
    return url


def stop(settings: Settings) -> None:
    cluster(settings).stop()


def reset(settings: Settings) -> URL:
    """Drop everything: a fresh, empty development database."""
    cluster(settings).destroy()
    return start(settings)


def running_url(settings: Settings) -> URL | None:
    pg = cluster_at(settings.devdb_path) if settings.devdb_path.exists() else None
    if pg is None or not pg.is_running():
        return None
    register(pg.password)
    return pg.url(DATABASE)

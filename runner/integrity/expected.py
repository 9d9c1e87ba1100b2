"""The expected schema: every revision applied in order to an empty database, and the schema
captured after each (plus `base`, before any). Built at bundle time on a throwaway PostgreSQL
(`build_on_throwaway`) and shipped beside `manifest.json` as `expected_schema.json`, with the
revision files' digests as `checksums.json`; tests build it on their own database (`build`).

The revisions run through the engine itself, one `upgrade` per revision, so the schema is the
one the runner really produces. A tree with branches is applied in the engine's order; the
schema recorded at a revision then also has whatever sorted before it on another branch.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from runner.core import revisions
from runner.core.database import UrlCredentials
from runner.core.engine import MigrationEngine
from runner.core.errors import AuroraMigrationsError, ExpectedSchemaUnavailable, LocalDatabaseError
from runner.core.results import Request
from runner.core.settings import Settings
from runner.integrity import checksums, schema


def build(url: URL, alembic_ini: Path) -> dict[str, Any]:
    """Apply every revision of the project to the empty database at `url`, one at a time."""
    rendered = url.render_as_string(hide_password=False)
    settings = Settings(database_url=rendered, alembic_config=str(alembic_ini))
    engine = MigrationEngine(settings, UrlCredentials(rendered))
    inspect = sa.create_engine(url, poolclass=NullPool)
    captured: dict[str, Any] = {}
    try:
        with inspect.connect() as conn:
            captured["base"] = schema.capture(conn)
        for rev in revisions.ordered(engine.script):
            try:
                engine.run(Request("upgrade", rev))
            except AuroraMigrationsError as exc:
                raise ExpectedSchemaUnavailable(
                    f"Revision {rev} failed on the empty throwaway database, so the expected "
                    f"schema cannot be built: {exc.message}"
                ) from None
            with inspect.connect() as conn:
                captured[rev] = schema.capture(conn)
        with inspect.connect() as conn:
            server = str(conn.exec_driver_sql("SHOW server_version").scalar())
    finally:
        engine.dispose()
        inspect.dispose()
    return {
        "format": schema.FORMAT,
        "runner_version": checksums.runner_version(),
        "server_version": server,
        "revisions": captured,
    }


def build_on_throwaway(alembic_ini: Path) -> dict[str, Any]:
    """`build` on a new local cluster, deleted afterwards. Needs the PostgreSQL server binaries."""
    from runner.local.localpg import cluster_at

    root = Path(tempfile.mkdtemp(prefix="aurora-expected-schema-"))
    try:
        cluster = cluster_at(root)
        cluster.init()
        cluster.start()
        try:
            return build(cluster.create_database("expected"), alembic_ini)
        finally:
            cluster.destroy()
    except LocalDatabaseError as exc:
        raise ExpectedSchemaUnavailable(
            f"Cannot build the expected schema: {exc.message} It needs the PostgreSQL server "
            "binaries (initdb, pg_ctl) to run every revision on a throwaway database. Install "
            "them (e.g. the postgresql package), or build without it (--no-schema: drift and "
            "baseline will then refuse to run)."
        ) from None


def checksums_of(alembic_ini: Path) -> dict[str, Any]:
    script = ScriptDirectory.from_config(Config(str(alembic_ini)))
    return {
        "algorithm": "sha256",
        "revisions": {
            sc.revision: {"file": Path(sc.path).name, "sha256": checksums.file_sha256(sc.path)}
            for sc in script.walk_revisions()
        },
    }


def write(folder: Path, alembic_ini: Path, expected: dict[str, Any] | None) -> list[Path]:
    """Write `expected_schema.json` (if built) and `checksums.json` into `folder`."""
    written = [folder / schema.CHECKSUMS_FILE]
    written[0].write_text(json.dumps(checksums_of(alembic_ini), indent=2, sort_keys=True) + "\n")
    if expected is not None:
        path = folder / schema.EXPECTED_FILE
        path.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written

"""The no-op fast path: answer `upgrade` (and `current`) at head from the bundle manifest.

Most invocations find nothing to do. When the bundle carries a `manifest.json` (written by
`runner.bundle.build` next to `alembic.ini`, with the heads and the sha256 of every revision file),
one `psycopg2` connection and one query tell whether the database is exactly at the bundle's
heads and, for `upgrade`, whether every applied revision's last recorded checksum is the one
its file has now (the check `integrity.validate.refuse_changed` makes under the lock). If both
hold, the answer is the engine's own no-op result, without importing Alembic or SQLAlchemy or
loading a single revision script. In every other case (no manifest, a manifest that does not
match the files, a database behind, ahead, empty, on other heads, an edited revision, a history
table that is missing or older than the checksums, `allow_changed` in the request, any error at
all) `try_fast` returns None and the caller runs the engine, which takes the lock and does the
full work. The fast path never writes.

Seam for validation ([integrity]): `SLOW_PATH_CHECKS` holds callables that get the manifest and
the request and return True when the full engine must run (e.g. validation that needs more
than the version row). Add to it; the fast path stays correct by falling back.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.core.results import Request, Result
from runner.core.settings import Settings

FAST_COMMANDS = frozenset({"upgrade", "current"})
VERSION_SQL = "SELECT version_num FROM alembic_version"
# `integrity.validate`: the rows that say "this file, with this checksum, is what the database
# has", and what counts as applied (`core.history_table.APPLIED`). Spelled out here, not
# imported, because those modules import SQLAlchemy; tests/perf/test_fastpath.py keeps them equal.
HISTORY_TABLE = "aurora_migrations_history"
CHECKSUMMED = ("up", "stamp", "baseline", "accept")
APPLIED = "status = 'applied'"
# `upgrade`: the version rows and the last recorded checksum of every revision, in one round
# trip. A missing or older history table (no status, no checksum) fails it: the engine answers.
STATE_SQL = (
    "SELECT 'version', version_num, NULL FROM alembic_version UNION ALL"
    " (SELECT DISTINCT ON (revision) 'checksum', revision, checksum"
    f" FROM {HISTORY_TABLE} WHERE {APPLIED} AND checksum IS NOT NULL"
    f" AND direction IN ({', '.join(repr(d) for d in CHECKSUMMED)})"
    " ORDER BY revision, id DESC)"
)
# A database that does not answer within this long is left to the engine, which waits its own
# (longer) connect timeout and names the failure: an unreachable database then costs the
# engine's timeout plus this, not twice the engine's. libpq's connect_timeout minimum is 2 s.
FAST_CONNECT_TIMEOUT_S = 2
NO_OP_MESSAGE = "Nothing to do: the database is already there."  # the engine's `_summary`
# (manifest, request) -> True when the full engine must run. See the module docstring.
SLOW_PATH_CHECKS: list[Callable[[Manifest, Request], bool]] = []

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Manifest:
    """What the bundle knows about its revisions, checked against the files once per process."""

    heads: tuple[str, ...]
    revisions: tuple[str, ...]
    path: Path
    # revision id -> sha256 of its file (`integrity.checksums.file_sha256`), to compare with
    # the checksums the history recorded; a manifest without them is not used.
    checksums: dict[str, str]


_manifests: dict[Path, Manifest | None] = {}
_connection: Any = None  # a psycopg2 connection kept for warm invocations (autocommit)
_source: Any = None  # the credential source, kept with it


def load_manifest(alembic_ini: Path) -> Manifest | None:
    """The manifest next to `alembic_ini`, or None if it is missing, unreadable or stale.

    Stale means: the revision files on disk are not exactly the ones the manifest hashed. The
    result is cached per process (a Lambda bundle's files do not change while it runs).
    """
    alembic_ini = Path(alembic_ini)
    if alembic_ini not in _manifests:
        _manifests[alembic_ini] = _read_manifest(alembic_ini)
    return _manifests[alembic_ini]


def _read_manifest(alembic_ini: Path) -> Manifest | None:
    path = alembic_ini.parent / "manifest.json"
    try:
        data = json.loads(path.read_text())
        heads = tuple(str(h) for h in data["heads"])
        revisions = tuple(str(r) for r in data["revisions"])
        hashes = {str(k): str(v) for k, v in data["revision_files"].items()}
        by_revision = {str(k): str(v) for k, v in data["revision_checksums"].items()}
        versions = _versions_folder(alembic_ini)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, configparser.Error):
        return None
    if not heads or versions is None or set(by_revision) != set(revisions):
        return None
    on_disk = {p.name: p for p in versions.glob("*.py")}
    if set(on_disk) != set(hashes):
        _log.warning("manifest.json does not list the revision files on disk; not using it")
        return None
    from runner.integrity.checksums import file_sha256

    for name, digest in hashes.items():
        if file_sha256(on_disk[name]) != digest:
            _log.warning("manifest.json does not match %s; not using it", name)
            return None
    if set(by_revision.values()) - set(hashes.values()):
        _log.warning("manifest.json's revision checksums are not its files'; not using it")
        return None
    return Manifest(heads=heads, revisions=revisions, path=path, checksums=by_revision)


def _versions_folder(alembic_ini: Path) -> Path | None:
    parser = configparser.ConfigParser(defaults={"here": str(alembic_ini.parent)})
    if not parser.read(alembic_ini):
        return None
    location = parser.get("alembic", "script_location", fallback=None)
    if not location:
        return None
    folder = Path(location) / "versions"
    return folder if folder.is_dir() else None


def try_fast(
    request: Request,
    settings: Settings,
    source_factory: Callable[[], Any],
    manifest: Manifest | None = None,
) -> Result | None:
    """The engine's result for a no-op `upgrade`/`current` at head, or None: run the engine.

    `manifest` is the bundle's (read next to alembic.ini when not given) or, for the CLI, one
    built from its cached revision graph."""
    if request.command not in FAST_COMMANDS:
        return None
    manifest = manifest or load_manifest(settings.alembic_ini)
    if manifest is None:
        return None
    if request.command == "upgrade" and not _means_heads(request.revision, manifest):
        return None
    if request.allow_changed:  # accepting an edit writes an `accept` row: the engine's job
        return None
    if any(check(manifest, request) for check in SLOW_PATH_CHECKS):
        return None
    started = time.monotonic()
    upgrade = request.command == "upgrade"
    rows = _query(STATE_SQL if upgrade else VERSION_SQL, settings, source_factory)
    if rows is None:
        return None
    if upgrade:
        current = [str(rev) for kind, rev, _ in rows if kind == "version"]
        recorded = {str(rev): str(digest) for kind, rev, digest in rows if kind == "checksum"}
    else:
        current, recorded = [str(row[0]) for row in rows], {}
    if sorted(current) != sorted(manifest.heads) or edited(recorded, manifest):
        return None
    return _result(request, sorted(current), list(manifest.heads), started)


def edited(recorded: dict[str, str], manifest: Manifest) -> list[str]:
    """Revisions whose last recorded checksum is not their file's (`validate.changed`).

    At the heads every revision of the manifest is applied; recorded revisions the code does
    not have are `validate`'s business, not upgrade's, as in the engine."""
    return sorted(
        rev for rev, digest in recorded.items() if manifest.checksums.get(rev, digest) != digest
    )


def _means_heads(revision: str | None, manifest: Manifest) -> bool:
    """`head` with one head, or `heads`: the only targets the manifest alone can resolve."""
    expression = revision or "head"
    return expression == "heads" or (expression == "head" and len(manifest.heads) == 1)


def _query(
    sql: str, settings: Settings, source_factory: Callable[[], Any]
) -> list[tuple[Any, ...]] | None:
    """`sql`'s rows on the kept (or a new) connection; None on any failure (the engine decides).

    A kept connection that fails gets one fresh retry (it may have died while the function was
    frozen); a statement error (no history table, an older one) keeps it and falls back."""
    global _connection
    import psycopg2

    attempts = (True, False) if _usable(_connection) else (False,)
    for reuse in attempts:
        try:
            if not reuse:
                forget_connection()
                _connection = _connect(settings, source_factory)
            with _connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            forget_connection()
        except psycopg2.Error:
            return None
        except Exception:  # anything unexpected: the engine runs and reports it properly
            _log.debug("fast path failed", exc_info=True)
            forget_connection()
            return None
    return None


def _usable(connection: Any) -> bool:
    """Open and idle: never reuse a connection inside a transaction (or a broken one)."""
    if connection is None or connection.closed:
        return False
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE

    return bool(connection.info.transaction_status == TRANSACTION_STATUS_IDLE)


def _connect(settings: Settings, source_factory: Callable[[], Any]) -> Any:
    """One psycopg2 connection with the engine's parameters (`runner.core.database.make_engine`).

    The target comes from the source's `target()` (no SQLAlchemy); a source without one (none
    the handler makes) gives its SQLAlchemy `url()`, which has the same parts."""
    global _source
    import psycopg2

    from runner.core import redact
    from runner.core.database import APPLICATION_NAME, KEEPALIVES

    if _source is None:
        _source = source_factory()
    target = _source.target() if hasattr(_source, "target") else _source.url()
    if any(not isinstance(value, str) for value in target.query.values()):
        raise ValueError("a repeated query parameter: left to the engine")
    password = _source.password()
    redact.register(password)
    params: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "dbname": target.database,
        "user": target.username,
        "connect_timeout": min(settings.connect_timeout_s, FAST_CONNECT_TIMEOUT_S),
        "application_name": APPLICATION_NAME,
        **KEEPALIVES,
        **target.query,
        **_source.connect_args(),
    }
    if password is not None:
        params["password"] = password
    connection = psycopg2.connect(**{k: v for k, v in params.items() if v is not None})
    connection.autocommit = True  # never idle in a transaction between invocations
    return connection


def forget_connection() -> None:
    """Close the kept connection (tests, or after configuration changes)."""
    global _connection
    if _connection is not None:
        with contextlib.suppress(Exception):  # already gone; nothing to release
            _connection.close()
    _connection = None


def reset() -> None:
    """Forget the connection, the credential source and the manifests."""
    global _source
    forget_connection()
    _source = None
    _manifests.clear()


def _result(request: Request, current: list[str], heads: list[str], started: float) -> Result:
    """The same Result the engine returns for these requests when nothing is to be done."""
    duration = int((time.monotonic() - started) * 1000)
    if request.command == "current":
        return Result(
            command="current", before=current, after=current, heads=heads, duration_ms=duration
        )
    expression = request.revision or "head"
    return Result(
        command="upgrade",
        before=current,
        after=current,
        target=",".join(heads),
        target_expression=expression,
        heads=heads,
        lock_wait_ms=0,  # no lock was needed: nothing is written
        message=NO_OP_MESSAGE,
        duration_ms=duration,
    )


def log_answer(
    command: str, revision: str | None, result: Result, duration_ms: int, **context: Any
) -> None:
    """The engine's `run.start` and `run.finish` for a fast answer, marked `fast_path`, so the
    Lambda's and the CLI's logs read the same whichever path answered."""
    from runner.core.logs import log_event

    run_id = str(uuid.uuid4())
    log_event("run.start", command=command, revision=revision, run_id=run_id, **context)
    log_event(
        "run.finish",
        command=command,
        run_id=run_id,
        before=result.before,
        after=result.after,
        applied=[],
        pending=result.pending,
        complete=True,
        duration_ms=duration_ms,
        fast_path=True,
    )

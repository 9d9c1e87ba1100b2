"""The bootstrap itself: lock, refuse, run the script, set the password, record, commit.

Everything that changes the database happens in one transaction, so a failure anywhere
leaves the database exactly as it was, and the migration lock keeps runs out meanwhile. A
run that finds everything in place rolls back and records nothing. The password is never in
a statement's text: it is hashed (SCRAM) on this side and sent as a bound literal, so not
even the server's statement log sees it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection

from runner.bootstrap import script
from runner.bootstrap.options import BootstrapOptions
from runner.bootstrap.result import BootstrapResult, parse_notices
from runner.core import driver_errors, lock, redact, session
from runner.core.database import (
    CredentialSource,
    connect,
    make_engine,
)
from runner.core.errors import (
    AuroraMigrationsError,
    BootstrapFailed,
    BootstrapRefused,
    ConfigurationError,
)
from runner.core.logs import log_event
from runner.core.settings import Settings


def bootstrap(
    options: BootstrapOptions,
    admin: CredentialSource,
    settings: Settings,
    *,
    password: str | None = None,
) -> BootstrapResult:
    """Make `options.role` the least-privileged owner of `options.schema`, once.

    `admin` is the master user's source, for this call only. Without IAM, `password` is the
    migrator's password (required). Raises `BootstrapRefused` (nothing touched) when the role
    exists with rights a migrator must not have, `BootstrapFailed` when a statement fails.
    """
    if not options.iam and not password:
        raise ConfigurationError(
            f"Without --iam the role {options.role} logs in with a password: give it "
            "(MIGRATOR_PASSWORD), or bootstrap with --iam for IAM authentication."
        )
    redact.register(password)
    started = time.monotonic()
    run_id = str(uuid.uuid4())
    log_event("bootstrap.start", role=options.role, schema=options.schema, run_id=run_id)
    engine = make_engine(admin, settings)
    try:
        with closing(connect(engine, admin)) as conn:
            session.apply(conn, settings)
            conn.commit()
            lock.acquire(conn, wait_s=settings.lock_wait_s)
            try:
                result = _bootstrap(conn, options, admin, settings, password, run_id)
            finally:
                _release(conn)
    finally:
        engine.dispose()
    result.duration_ms = int((time.monotonic() - started) * 1000)
    log_event(
        "bootstrap.finish",
        role=options.role,
        schema=options.schema,
        run_id=run_id,
        changed=result.changed,
        changes=[f"{kind}: {what}" for kind, what in result.changes()],
        duration_ms=result.duration_ms,
    )
    return result


def _bootstrap(
    conn: Connection,
    options: BootstrapOptions,
    admin: CredentialSource,
    settings: Settings,
    password: str | None,
    run_id: str,
) -> BootstrapResult:
    url = admin.url()
    result = BootstrapResult(
        role=options.role,
        schema=options.schema,
        login="iam" if options.iam else "password",
        database=redact.safe_url(url),
        admin=str(url.username),
        run_id=run_id,
    )
    phase = "checking the role"
    try:
        _refuse_unsafe(conn, options)
        can_log_in = conn.exec_driver_sql(
            "SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = %(role)s",
            {"role": options.role},
        ).scalar()
        conn.rollback()
        password_works = bool(
            password and can_log_in and _password_works(admin, settings, options.role, password)
        )
        phase = "running the bootstrap script"
        conn.exec_driver_sql(
            "SELECT set_config(%(name)s, %(value)s, true)",
            {"name": script.RUN_ID_SETTING, "value": run_id},
        )
        notices = _run(conn, script.body(options))
        if password is not None and not options.iam:
            phase = "setting the password"
            notices += _set_password(conn, options.role, password, already=password_works)
        phase = "recording the bootstrap"
        notices += _run(conn, script.tail(options))
        for kind, what in parse_notices(notices):
            result.add(kind, what)
        phase = "committing"
        if result.changed:
            conn.commit()
        else:
            conn.rollback()
    except AuroraMigrationsError:
        raise
    except (sa.exc.DBAPIError, psycopg2.Error) as exc:
        _rollback(conn)
        raise _failed(options, phase, exc) from None
    result.message = (
        f"Role {options.role} now owns schema {options.schema}: "
        f"{len(result.changes())} change(s), recorded {result.recorded}."
        if result.changed
        else f"Nothing to do: role {options.role} already owns schema {options.schema} with "
        "exactly the rights it needs. Nothing was changed or recorded."
    )
    return result


def _refuse_unsafe(conn: Connection, options: BootstrapOptions) -> None:
    """The script refuses too; refusing here first gives a typed error that exits 2."""
    problems = [row[0] for row in _no_params(conn).exec_driver_sql(script.guard_query(options))]
    if problems:
        conn.rollback()
        raise BootstrapRefused(
            f"bootstrap-migrator refused: {'; '.join(problems)}. A migrator must not have "
            "these rights, and the bootstrap does not take them away from an existing role: "
            f"remove them (ALTER ROLE {options.role} NOCREATEROLE ..., REVOKE <role> FROM "
            f"{options.role}), or choose another --role. Nothing was changed.",
            role=options.role,
            problems=problems,
        )


def _password_works(admin: CredentialSource, settings: Settings, role: str, password: str) -> bool:
    """Whether `role` can already log in with `password` (so setting it would change nothing).

    The only way to tell: Aurora does not let the master user read password hashes.
    """
    probe = _RoleLogin(admin, role, password)
    engine = make_engine(probe, settings)
    try:
        with closing(connect(engine, probe)):
            return True
    except AuroraMigrationsError:
        return False
    finally:
        engine.dispose()


class _RoleLogin:
    """The admin's target and TLS settings, with the migrator's name and password."""

    def __init__(self, admin: CredentialSource, role: str, password: str) -> None:
        self._admin, self._role, self._password = admin, role, password

    def url(self) -> URL:
        return self._admin.url().set(username=self._role)

    def password(self) -> str:
        return self._password

    def refresh(self) -> bool:
        return False

    def connect_args(self) -> dict[str, Any]:
        return self._admin.connect_args()


def _set_password(conn: Connection, role: str, password: str, *, already: bool) -> list[str]:
    what = f"password of {role}"
    if already:
        return [f"bootstrap in_place: {what} (it already logs in with the one given)"]
    raw: Any = conn.connection.dbapi_connection
    verifier = psycopg2.extensions.encrypt_password(password, role, raw, "scram-sha-256")
    redact.register(verifier)
    with raw.cursor() as cursor:
        cursor.execute(f"ALTER ROLE {role} PASSWORD %s", (verifier,))
        cursor.execute(f"SELECT {script.note_change(script.literal(what))}")
    return [f"bootstrap configured: {what} (sent as a SCRAM verifier, never in clear)"]


@contextmanager
def _collecting_notices(conn: Connection) -> Iterator[list[str]]:
    """Every NOTICE the server sends meanwhile (psycopg2 keeps only the last 50)."""
    raw: Any = conn.connection.dbapi_connection
    lines: list[str] = []

    class _Sink:
        def append(self, line: str) -> None:
            lines.append(line)

    saved, raw.notices = raw.notices, _Sink()
    try:
        yield lines
    finally:
        raw.notices = saved


def _run(conn: Connection, sql: str) -> list[str]:
    """Run script text as it is (no parameter markers), returning its NOTICE lines."""
    conn.exec_driver_sql("SELECT 1")  # make sure the connection's transaction has begun
    raw: Any = conn.connection.dbapi_connection
    with _collecting_notices(conn) as lines, raw.cursor() as cursor:
        cursor.execute(sql)
    return lines


def _no_params(conn: Connection) -> Connection:
    return conn.execution_options(no_parameters=True)


def _release(conn: Connection) -> None:
    with suppress(sa.exc.DBAPIError):  # if the connection is gone, the lock went with it
        if not lock.release(conn):
            log_event("bootstrap.lock_not_held", level=logging.WARNING)


def _rollback(conn: Connection) -> None:
    with suppress(sa.exc.DBAPIError):
        conn.rollback()


_HINTS = (
    (
        psycopg2.errors.LockNotAvailable,
        "An object in the schema was in use, so its owner could not be changed in time "
        "(MIGRATION_LOCK_TIMEOUT_MS). Run again when it is quiet.",
    ),
    (
        psycopg2.errors.InsufficientPrivilege,
        "Run it as the cluster's master user, who must own (or be a member of the owner of) "
        "the schema and every object in it. On clusters created before PostgreSQL 15 the "
        "public schema may belong to rdsadmin: bootstrap a schema of your own (--schema).",
    ),
    (
        psycopg2.errors.RaiseException,
        "The script's own check failed (see the message): fix what it names.",
    ),
)


def _failed(options: BootstrapOptions, phase: str, exc: BaseException) -> BootstrapFailed:
    error = driver_errors.message(exc)
    orig = getattr(exc, "orig", None) or exc
    if (
        phase == "committing"
        and driver_errors.classify(exc) is driver_errors.Failure.CONNECTION_LOST
    ):
        outcome = (
            "The connection was lost while committing, so the outcome is unknown: run the "
            "command again, which finishes the job or reports that everything is in place."
        )
    else:
        outcome = "Its transaction was rolled back: nothing was changed. It is safe to run again."
    hint = next((text for kind, text in _HINTS if isinstance(orig, kind)), "")
    return BootstrapFailed(
        f"bootstrap-migrator failed while {phase} (role {options.role}, schema "
        f"{options.schema}): {error}. {outcome} {hint}".strip(),
        role=options.role,
        schema=options.schema,
        database_error=error,
    )

"""What a database driver error means: the one place that reads psycopg2 classes and SQLSTATEs.

`classify` sorts any exception into a `Failure` kind; the connection code and the engine
decide what to do from the kind alone. At connect time an error without a SQLSTATE means the
server could not be reached; once connected, it means the connection was lost. The errors
for a failed connection are built here too (`connect_error`), since they are nothing but the
kind and its advice; a failed run's message needs the run's state, so the engine assembles it.
"""

from __future__ import annotations

import enum

import psycopg2
import psycopg2.errors
import sqlalchemy as sa

from runner.core import redact
from runner.core.errors import (
    AuthenticationFailed,
    DatabaseUnavailable,
    LockTimeout,
    MigrationFailed,
    StatementTimeout,
    TlsError,
)


class Failure(enum.Enum):
    """The kinds of driver failure the runner treats differently."""

    CONNECTION_LOST = "connection lost"
    STATEMENT_TIMEOUT = "statement timeout"
    LOCK_TIMEOUT = "lock timeout"
    AUTH = "auth failed"
    TLS = "TLS failed"
    UNREACHABLE = "host unreachable"
    OTHER = "database error"


def classify(exc: BaseException, *, connecting: bool = False) -> Failure:
    """The kind of `exc`; `connecting` when it came from opening a connection."""
    if connecting:
        if _is_auth_failure(exc):
            return Failure.AUTH
        if tls_problem(exc) is not None:
            return Failure.TLS
        return Failure.UNREACHABLE
    if _is_connection_lost(exc):
        return Failure.CONNECTION_LOST
    orig = _orig(exc)
    if isinstance(orig, psycopg2.errors.QueryCanceled):
        return Failure.STATEMENT_TIMEOUT
    if isinstance(orig, psycopg2.errors.LockNotAvailable):
        return Failure.LOCK_TIMEOUT
    return Failure.OTHER


def message(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's wrapping (which can echo parameters)."""
    orig = _orig(exc)
    text = str(orig).strip()
    return redact.scrub(text.splitlines()[0] if text else repr(orig))


# What a failed revision is called, and what to do about it, by kind.
REVISION_FAILURES: dict[Failure, tuple[type[MigrationFailed], str]] = {
    Failure.STATEMENT_TIMEOUT: (
        StatementTimeout,
        "Raise MIGRATION_STATEMENT_TIMEOUT_MS, or split the revision.",
    ),
    Failure.LOCK_TIMEOUT: (
        LockTimeout,
        "Another session holds a lock on the table: let it finish (or end it) and run the "
        "command again, or raise MIGRATION_LOCK_RETRIES / MIGRATION_LOCK_TIMEOUT_MS.",
    ),
}
REVISION_FAILED = (MigrationFailed, "Fix the revision and run the command again.")


def connect_error(
    exc: BaseException, where: str, *, refreshed: bool = False
) -> DatabaseUnavailable:
    """The typed error for a connection that could not be opened to `where` (a safe URL)."""
    kind = classify(exc, connecting=True)
    said = message(exc)
    if kind is Failure.AUTH:
        prefix = "auth failed after refresh" if refreshed else "auth failed"
        return AuthenticationFailed(
            f"{prefix}: the database at {where} refused the credentials: {said}. Check the "
            "user, the password in the secret (or DATABASE_URL) and, with IAM auth, the "
            "rds-db:connect permission.",
            database=where,
        )
    if kind is Failure.TLS:
        return TlsError(
            f"TLS failed: could not connect securely to {where}: {said}. {tls_problem(exc)}",
            database=where,
        )
    return DatabaseUnavailable(
        f"host unreachable: could not connect to {where}: {said}. Check the host, port and "
        "network path (security groups, VPC endpoint), that the cluster is not paused, and "
        "the TLS settings.",
        database=where,
    )


# libpq's words for a TLS failure -> what to check. First match wins.
_TLS_PROBLEMS = (
    (
        "certificate verify failed",
        "The server's certificate is not signed by a CA in the root certificate file "
        "(DB_SSL_ROOT_CERT; default: the bundled Amazon RDS CAs). Check that DB_HOST is the "
        "cluster's (or proxy's) endpoint and that the CA bundle is current.",
    ),
    (
        "does not match host name",
        "The server's certificate was issued for another host name. Connect with the endpoint "
        "name the certificate names (the cluster or proxy endpoint, not an IP address or a "
        "private DNS alias).",
    ),
    (
        "does not support ssl",
        "The server does not offer TLS. Enable TLS on the server, or weaken the connection "
        "explicitly with DB_SSL_MODE (not recommended).",
    ),
    (
        "root certificate file",
        "The CA file could not be read. Check DB_SSL_ROOT_CERT.",
    ),
)


def tls_problem(exc: BaseException) -> str | None:
    """What to check, when libpq's message says TLS could not be set up."""
    text = str(_orig(exc)).lower()
    return next((hint for sign, hint in _TLS_PROBLEMS if sign in text), None)


def _orig(exc: BaseException) -> BaseException:
    """The driver's exception inside SQLAlchemy's wrapper (or `exc` itself)."""
    return getattr(exc, "orig", None) or exc


def _is_auth_failure(exc: BaseException) -> bool:
    orig = _orig(exc)
    if isinstance(orig, psycopg2.Error) and orig.pgcode in ("28P01", "28000"):
        return True
    text = str(orig).lower()
    return "authentication failed" in text or "no password supplied" in text


def _is_connection_lost(exc: BaseException) -> bool:
    """The connection itself is gone (killed, restarted, network cut)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa.exc.PendingRollbackError | sa.exc.ResourceClosedError):
        return True
    orig = _orig(exc)
    code = getattr(orig, "pgcode", None) or ""
    if code.startswith(("08", "57P")):  # connection exception; operator intervention
        return True
    # libpq's own errors have no SQLSTATE: "server closed the connection unexpectedly", ...
    return isinstance(orig, psycopg2.InterfaceError | psycopg2.OperationalError) and not code

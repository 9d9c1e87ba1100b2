"""Connections: where credentials come from, and turning driver failures into our errors.

`CredentialSource` is the seam between the engine and the places a password can come from:
a plain `DATABASE_URL` here, Secrets Manager or IAM tokens in `runner.aws`. The engine asks
for a connection; this module asks the source for a password on every new connection (IAM
tokens expire), and on an authentication failure asks it to refresh once and retries.
"""

from __future__ import annotations

from typing import Any, Protocol

import psycopg2
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool

from runner import redact
from runner.errors import (
    AuthenticationFailed,
    ConfigurationError,
    DatabaseUnavailable,
    TlsError,
)
from runner.session import KEEPALIVES
from runner.settings import Settings

APPLICATION_NAME = "aurora-migrate"


class CredentialSource(Protocol):
    """Supplies the connection target and a password per connection."""

    def url(self) -> URL:
        """The target (driver, user, host, port, database); its password is ignored."""
        ...

    def password(self) -> str | None:
        """The password for one new connection; called for every connection."""
        ...

    def refresh(self) -> bool:
        """Forget cached credentials. True if retrying may now succeed."""
        ...

    def connect_args(self) -> dict[str, Any]:
        """Extra libpq parameters, e.g. sslmode and sslrootcert."""
        ...


class UrlCredentials:
    """Credentials taken from one SQLAlchemy URL (`DATABASE_URL`, the dev database, tests)."""

    def __init__(self, url: URL | str) -> None:
        try:
            parsed = sa.make_url(url) if isinstance(url, str) else url
        except (sa.exc.ArgumentError, ValueError):  # ValueError: e.g. a port that is no number
            raise ConfigurationError(
                "DATABASE_URL is not a valid SQLAlchemy URL; expected "
                "postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DBNAME."
            ) from None
        if parsed.get_backend_name() != "postgresql":
            raise ConfigurationError(
                f"DATABASE_URL must point at PostgreSQL, not {parsed.get_backend_name()!r}."
            )
        self._url = parsed.set(drivername="postgresql+psycopg2")
        redact.register_url(self._url)  # the password, and ?password= / ?sslpassword=

    def url(self) -> URL:
        return self._url

    def password(self) -> str | None:
        password = self._url.password
        return password if isinstance(password, str) else None

    def refresh(self) -> bool:
        return False

    def connect_args(self) -> dict[str, Any]:
        return {}


def make_engine(source: CredentialSource, settings: Settings) -> Engine:
    """An engine with no pool: a migration run opens two connections and closes them."""
    target = source.url().set(password=None)
    connect_args: dict[str, Any] = {
        "connect_timeout": settings.connect_timeout_s,
        "application_name": APPLICATION_NAME,
        **KEEPALIVES,
        **source.connect_args(),
    }
    engine = sa.create_engine(target, poolclass=NullPool, connect_args=connect_args)

    @sa.event.listens_for(engine, "do_connect")
    def _inject_password(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        password = source.password()
        redact.register(password)
        if password is not None:
            cparams["password"] = password

    return engine


def connect(engine: Engine, source: CredentialSource) -> Connection:
    """Open a connection; on an authentication failure refresh the credentials once and retry."""
    try:
        return engine.connect()
    except sa.exc.OperationalError as exc:
        if not _is_auth_failure(exc):
            raise _unavailable(engine, exc) from None
        if not source.refresh():
            raise _auth_failed(engine, exc, refreshed=False) from None
    try:
        return engine.connect()
    except sa.exc.OperationalError as exc:
        if _is_auth_failure(exc):
            raise _auth_failed(engine, exc, refreshed=True) from None
        raise _unavailable(engine, exc) from None


def is_connection_lost(exc: BaseException) -> bool:
    """True when `exc` means the connection itself is gone (killed, restarted, network cut)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa.exc.PendingRollbackError | sa.exc.ResourceClosedError):
        return True
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "pgcode", None) or ""
    if code.startswith(("08", "57P")):  # connection exception; operator intervention
        return True
    # libpq's own errors have no SQLSTATE: "server closed the connection unexpectedly", ...
    return isinstance(orig, psycopg2.InterfaceError | psycopg2.OperationalError) and not code


def driver_message(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's wrapping (which can echo parameters)."""
    orig = getattr(exc, "orig", None) or exc
    return redact.scrub(str(orig).strip().splitlines()[0] if str(orig).strip() else repr(orig))


def _is_auth_failure(exc: sa.exc.OperationalError) -> bool:
    orig = exc.orig
    if isinstance(orig, psycopg2.Error) and orig.pgcode in ("28P01", "28000"):
        return True
    text = str(orig).lower()
    return "authentication failed" in text or "no password supplied" in text


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


def _tls_problem(exc: sa.exc.OperationalError) -> str | None:
    text = str(exc.orig).lower()
    return next((hint for sign, hint in _TLS_PROBLEMS if sign in text), None)


def _unavailable(engine: Engine, exc: sa.exc.OperationalError) -> DatabaseUnavailable:
    where = redact.safe_url(engine.url)
    tls_hint = _tls_problem(exc)
    if tls_hint is not None:
        return TlsError(
            f"TLS failed: could not connect securely to {where}: {driver_message(exc)}. "
            + tls_hint,
            database=where,
        )
    return DatabaseUnavailable(
        f"host unreachable: could not connect to {where}: {driver_message(exc)}. "
        "Check the host, port and network path (security groups, VPC endpoint), that the "
        "cluster is not paused, and the TLS settings.",
        database=where,
    )


def _auth_failed(
    engine: Engine, exc: sa.exc.OperationalError, *, refreshed: bool
) -> AuthenticationFailed:
    where = redact.safe_url(engine.url)
    prefix = "auth failed after refresh" if refreshed else "auth failed"
    return AuthenticationFailed(
        f"{prefix}: the database at {where} refused the credentials: {driver_message(exc)}. "
        "Check the user, the password in the secret (or DATABASE_URL) and, with IAM auth, "
        "the rds-db:connect permission.",
        database=where,
    )

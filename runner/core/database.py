"""Connections: where credentials come from, and how a connection is opened.

`CredentialSource` is the seam between the engine and the places a password can come from:
a plain `DATABASE_URL` here, Secrets Manager or IAM tokens in `runner.aws`. The engine asks
for a connection; this module asks the source for a password on every new connection (IAM
tokens expire), and on an authentication failure asks it to refresh once and retries.

Importing this module does not import SQLAlchemy (the no-op fast path uses `UrlCredentials`
and the sources' `target()`, a `runner.core.dburl.DbUrl`); the engine's functions import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from runner.core import dburl, redact
from runner.core.dburl import DbUrl
from runner.core.errors import ConfigurationError
from runner.core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Engine

APPLICATION_NAME = "aurora-migrate"
# libpq TCP keepalives for every runner connection: a dead peer is noticed within ~1 minute.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
DRIVER = "postgresql+psycopg2"
POSTGRESQL_SCHEMES = ("postgresql", "postgres")  # `postgres://`: Heroku, RDS consoles, libpq
ACCEPTED_FORMS = (
    "postgresql://USER:PASSWORD@HOST:PORT/DBNAME (postgres:// and postgresql+psycopg2:// work too)"
)


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
    """Credentials taken from one SQLAlchemy URL (`DATABASE_URL`, the dev database, tests).

    The URL may be spelled as Heroku and RDS consoles (`postgres://`), libpq
    (`postgresql://`) or SQLAlchemy (`postgresql+psycopg2://`) spell it: all are normalised
    to the driver the runner uses.
    """

    def __init__(self, url: URL | DbUrl | str) -> None:
        try:
            if isinstance(url, str):
                parsed = dburl.parse(url)
            elif isinstance(url, DbUrl):
                parsed = url
            else:
                parsed = DbUrl.from_sqlalchemy(url)
        except ValueError:  # e.g. a port that is no number
            raise ConfigurationError(
                f"DATABASE_URL is not a valid database URL; expected {ACCEPTED_FORMS}."
            ) from None
        backend = parsed.drivername.partition("+")[0]
        if backend not in POSTGRESQL_SCHEMES:
            raise ConfigurationError(
                f"DATABASE_URL must point at PostgreSQL, not {backend[:40]!r}; expected "
                f"{ACCEPTED_FORMS}."
            )
        self._target = parsed.set(drivername=DRIVER)
        self._url: URL | None = None
        # the password, and ?password= / ?sslpassword= (`register_url` reads only those parts)
        redact.register_url(cast("URL", self._target))

    def url(self) -> URL:
        if self._url is None:
            self._url = self._target.to_sqlalchemy()
        return self._url

    def target(self) -> DbUrl:
        """The same target without SQLAlchemy (the fast path)."""
        return self._target

    def password(self) -> str | None:
        return self._target.password

    def refresh(self) -> bool:
        return False

    def connect_args(self) -> dict[str, Any]:
        return {}


def make_engine(source: CredentialSource, settings: Settings) -> Engine:
    """An engine with no pool: a migration run opens two connections and closes them.

    `hide_parameters`: a failed statement's error text (and so any logged traceback) does not
    carry its bound values (history rows, values in revisions).
    """
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    target = source.url().set(password=None)
    connect_args: dict[str, Any] = {
        "connect_timeout": settings.connect_timeout_s,
        "application_name": APPLICATION_NAME,
        **KEEPALIVES,
        **source.connect_args(),
    }
    engine = sa.create_engine(
        target, poolclass=NullPool, connect_args=connect_args, hide_parameters=True
    )

    @sa.event.listens_for(engine, "do_connect")
    def _inject_password(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        password = source.password()
        redact.register(password)
        if password is not None:
            cparams["password"] = password

    return engine


def connect(engine: Engine, source: CredentialSource) -> Connection:
    """Open a connection; on an authentication failure refresh the credentials once and retry.

    Raises `AuthenticationFailed`, `TlsError` or `DatabaseUnavailable` (`core.driver_errors`).
    """
    import sqlalchemy as sa

    from runner.core.driver_errors import Failure, classify, connect_error

    where = redact.safe_url(engine.url)
    try:
        return engine.connect()
    except sa.exc.OperationalError as exc:
        if classify(exc, connecting=True) is not Failure.AUTH or not source.refresh():
            raise connect_error(exc, where) from None
    try:
        return engine.connect()
    except sa.exc.OperationalError as exc:
        raise connect_error(exc, where, refreshed=True) from None

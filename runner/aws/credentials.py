"""The AWS `CredentialSource`s: a Secrets Manager secret, or IAM tokens, over verified TLS.

Both sources are cached with the engine across warm invocations: the secret is read once and
re-read only when the database refuses it (`refresh()`, e.g. after a password rotation);
IAM tokens are made fresh for every connection. `DB_HOST`, `DB_PORT` and `DB_NAME` override
the secret's fields (e.g. to go through an RDS Proxy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.aws import clients
from runner.aws.iam import auth_token
from runner.aws.secrets import DatabaseSecret, read_secret
from runner.aws.tls import tls_connect_args
from runner.core.database import CredentialSource
from runner.core.dburl import DbUrl
from runner.core.errors import ConfigurationError, SecretUnreadable
from runner.core.logs import log_event, protect_root
from runner.core.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from sqlalchemy.engine import URL

DEFAULT_PORT = 5432
DRIVER = "postgresql+psycopg2"


def aws_credential_source(
    settings: Settings,
    *,
    secrets_client: SecretsManagerClient | None = None,
    rds_client: RDSClient | None = None,
) -> CredentialSource:
    """The source for DB_SECRET_ARN and/or DB_IAM_AUTH. Checks TLS settings before any AWS call.

    Before any AWS call, too: the AWS SDK's loggers go to WARNING (`protect_root`), since at
    DEBUG botocore logs the secret's response body and the token's signature.
    """
    protect_root()
    tls = tls_connect_args(settings, iam=settings.iam_auth)
    secret = None
    if settings.secret_arn:
        secret = SecretCredentials(
            settings,
            secrets_client or clients.secrets_manager(),
            tls,
            need_password=not settings.iam_auth,
        )
    if settings.iam_auth:
        return IamCredentials(settings, rds_client or clients.rds(), tls, secret=secret)
    assert secret is not None, "credential_source only calls us with a secret or IAM auth"
    return secret


class SecretCredentials:
    """User and password from the secret; host, port and database from the secret or DB_*."""

    def __init__(
        self,
        settings: Settings,
        client: SecretsManagerClient,
        tls: dict[str, str],
        *,
        need_password: bool = True,
    ) -> None:
        assert settings.secret_arn
        self.arn = settings.secret_arn
        self._settings = settings
        self._client = client
        self._tls = tls
        self._need_password = need_password
        self._secret: DatabaseSecret | None = None

    def secret(self) -> DatabaseSecret:
        """The cached secret, read on first use."""
        if self._secret is None:
            self._secret = read_secret(self._client, self.arn, need_password=self._need_password)
        return self._secret

    def url(self) -> URL:
        return self.target().to_sqlalchemy()

    def target(self) -> DbUrl:
        """The connection target without SQLAlchemy (the fast path); `url()` is the same."""
        secret = self.secret()
        host = self._settings.db_host or secret.host
        port = self._settings.db_port or secret.port or DEFAULT_PORT
        dbname = self._settings.db_name or secret.dbname
        missing = [
            f"{key!r} (or {variable})"
            for key, variable, value in (("host", "DB_HOST", host), ("dbname", "DB_NAME", dbname))
            if not value
        ]
        if missing:
            raise SecretUnreadable(
                f"secret unreadable: {self.arn} has no {' or '.join(missing)}. Add the field "
                "to the secret or set the variable.",
                secret_arn=self.arn,
            )
        return DbUrl(DRIVER, username=secret.username, host=host, port=port, database=dbname)

    def password(self) -> str | None:
        return self.secret().password

    def refresh(self) -> bool:
        """Re-read the secret (its password may have been rotated). Raises if unreadable."""
        old = self._secret.version_id if self._secret else None
        self._secret = None
        new = self.secret().version_id
        log_event("secret.refreshed", secret_arn=self.arn, changed=new != old)
        return True

    def connect_args(self) -> dict[str, Any]:
        return dict(self._tls)


class IamCredentials:
    """A fresh IAM token per connection; the target from DB_* or from the secret."""

    def __init__(
        self,
        settings: Settings,
        client: RDSClient,
        tls: dict[str, str],
        *,
        secret: SecretCredentials | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._tls = tls
        self._secret = secret
        self._url: DbUrl | None = None

    def url(self) -> URL:
        return self.target().to_sqlalchemy()

    def target(self) -> DbUrl:
        """The connection target without SQLAlchemy (the fast path); `url()` is the same."""
        if self._url is None:
            self._url = self._target()
        return self._url

    def password(self) -> str:
        url = self.target()
        assert url.host and url.username and url.port
        return auth_token(self._client, host=url.host, port=url.port, user=url.username)

    def refresh(self) -> bool:
        """A new token is made anyway; only a secret (host, user) can have changed."""
        if self._secret is None:
            return False
        self._url = None
        return self._secret.refresh()

    def connect_args(self) -> dict[str, Any]:
        return dict(self._tls)

    def _target(self) -> DbUrl:
        settings = self._settings
        if self._secret is not None:
            base = self._secret.target()
            return base.set(username=settings.db_user or base.username)
        missing = [
            name
            for name, value in (
                ("DB_HOST", settings.db_host),
                ("DB_NAME", settings.db_name),
                ("DB_USER", settings.db_user),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(
                f"DB_IAM_AUTH=true needs {', '.join(missing)} (and DB_PORT unless it is "
                f"{DEFAULT_PORT}), or DB_SECRET_ARN naming a secret with host, port, dbname "
                "and username.",
                variables=missing,
            )
        return DbUrl(
            DRIVER,
            username=settings.db_user,
            host=settings.db_host,
            port=settings.db_port or DEFAULT_PORT,
            database=settings.db_name,
        )

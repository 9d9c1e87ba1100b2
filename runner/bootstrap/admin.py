"""The master credentials, for one bootstrap call only, and never from the command line.

A URL on the command line would land in the shell history and the process list, so the
credentials come from an environment variable (`BOOTSTRAP_DATABASE_URL`, or one the caller
names) or from a Secrets Manager secret read once for this call (`--admin-secret-arn`). The
runner's own variables (`DATABASE_URL`, `DB_SECRET_ARN`) are never used here: they name the
migrator. Precedence: the secret ARN given as an argument, then the environment variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import sqlalchemy as sa

from runner.core.database import POSTGRESQL_SCHEMES, CredentialSource, UrlCredentials
from runner.core.errors import ConfigurationError
from runner.core.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def admin_credentials(
    settings: Settings,
    *,
    secret_arn: str | None,
    url_variable: str,
    environ: Mapping[str, str],
    secrets_client: SecretsManagerClient | None = None,
) -> CredentialSource:
    """Where the master user's password comes from for this one call."""
    if secret_arn:
        from runner.aws import clients
        from runner.aws.credentials import SecretCredentials
        from runner.aws.tls import tls_connect_args

        admin = settings.with_overrides(secret_arn=secret_arn, iam_auth=False)
        return SecretCredentials(
            admin, secrets_client or clients.secrets_manager(), tls_connect_args(admin, iam=False)
        )
    raw = environ.get(url_variable, "")
    if not raw:
        raise ConfigurationError(
            "bootstrap-migrator needs the master user's credentials for this one call: set "
            f"{url_variable} to a SQLAlchemy URL (postgresql://USER:PASSWORD@HOST:PORT/DB), or "
            "pass --admin-secret-arn with the cluster's master secret. DATABASE_URL and "
            "DB_SECRET_ARN are not used: they are the migrator's own credentials.",
            variable=url_variable,
        )
    try:
        url = sa.make_url(raw)
    except sa.exc.ArgumentError:
        raise ConfigurationError(
            f"{url_variable} is not a valid SQLAlchemy URL; expected "
            "postgresql://USER:PASSWORD@HOST:PORT/DB.",
            variable=url_variable,
        ) from None
    if url.drivername.partition("+")[0] not in POSTGRESQL_SCHEMES:  # postgres:// is fine too
        raise ConfigurationError(
            f"{url_variable} must point at PostgreSQL, not {url.get_backend_name()!r}.",
            variable=url_variable,
        )
    return UrlCredentials(url)

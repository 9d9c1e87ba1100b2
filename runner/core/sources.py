"""Which credentials to use, in a fixed order: DATABASE_URL, then AWS, then (CLI) dev database.

The AWS sources (Secrets Manager, IAM tokens) live in `runner.aws` and are imported only when
configured, so local runs never touch boto3.
"""

from __future__ import annotations

from typing import Any

from runner.core.database import CredentialSource, UrlCredentials
from runner.core.errors import ConfigurationError
from runner.core.settings import Settings


def credential_source(
    settings: Settings, *, use_devdb: bool = False, **aws_clients: Any
) -> CredentialSource:
    """DATABASE_URL wins; then DB_SECRET_ARN / DB_IAM_AUTH; then the local dev database."""
    if settings.database_url:
        return UrlCredentials(settings.database_url)
    if settings.secret_arn or settings.iam_auth:
        from runner.aws.credentials import aws_credential_source

        return aws_credential_source(settings, **aws_clients)
    if use_devdb:
        from runner.local import devdb

        return devdb.DevDatabase(settings)  # starts at the first connection, not before
    raise ConfigurationError(
        "No database is configured. Set DATABASE_URL (a SQLAlchemy URL), or DB_SECRET_ARN "
        "(a Secrets Manager secret with username, password, host, port and dbname), or "
        "DB_IAM_AUTH=true with DB_HOST, DB_PORT, DB_NAME and DB_USER."
    )

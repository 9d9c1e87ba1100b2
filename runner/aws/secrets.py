"""Read the database secret from Secrets Manager, or say exactly why it could not be read.

The secret has the shape RDS and CDK give it: a JSON object with `username`, `password`,
`host`, `port`, `dbname` and `engine`. Every foreign error is wrapped once, here, into
`SecretUnreadable`, whose message names the secret's ARN and what to do, and never its value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from runner.core import redact
from runner.core.errors import SecretUnreadable
from runner.core.logs import log_event

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

SHAPE = (
    '{"username": ..., "password": ..., "host": ..., "port": 5432, "dbname": ..., '
    '"engine": "postgres"}'
)


@dataclass(frozen=True)
class DatabaseSecret:
    """The fields of the secret the runner uses; `password` is left out of `repr`."""

    arn: str
    username: str
    password: str | None = field(repr=False)
    host: str | None
    port: int | None
    dbname: str | None
    version_id: str | None = None


def read_secret(
    client: SecretsManagerClient, arn: str, *, need_password: bool = True
) -> DatabaseSecret:
    """GetSecretValue, then check the JSON shape. Raises `SecretUnreadable`."""
    try:
        response = client.get_secret_value(SecretId=arn)
    except ClientError as exc:
        raise _client_error(arn, exc) from exc
    except BotoCoreError as exc:
        raise SecretUnreadable(
            f"secret unreadable: could not reach Secrets Manager to read {arn} "
            f"({type(exc).__name__}). From private subnets the function needs a Secrets "
            "Manager VPC endpoint (or a NAT gateway) and a security group that allows HTTPS to it.",
            secret_arn=arn,
        ) from exc
    text = response.get("SecretString")
    if text is None:
        raise _unreadable(arn, "has no SecretString (it is a binary secret)")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise _unreadable(arn, "is not a JSON object")
    secret = _parse(arn, data, need_password=need_password, version_id=response.get("VersionId"))
    redact.register(secret.password)
    log_event("secret.read", secret_arn=arn, version_id=secret.version_id)
    return secret


def _parse(
    arn: str, data: dict[str, Any], *, need_password: bool, version_id: str | None
) -> DatabaseSecret:
    required = ["username", "password"] if need_password else ["username"]
    missing = [key for key in required if not isinstance(data.get(key), str) or not data[key]]
    if missing:
        raise _unreadable(arn, f"has no {_keys(missing)}")
    engine = data.get("engine")
    if isinstance(engine, str) and "postgres" not in engine.lower():
        raise SecretUnreadable(
            f"secret unreadable: {arn} is for the engine {engine!r}, not PostgreSQL. "
            "Point DB_SECRET_ARN at the Aurora PostgreSQL cluster's secret.",
            secret_arn=arn,
        )
    port = data.get("port")
    if port is not None:
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise _unreadable(arn, "has a 'port' that is not a number") from None
    return DatabaseSecret(
        arn=arn,
        username=data["username"],
        password=data.get("password") if isinstance(data.get("password"), str) else None,
        host=data.get("host") if isinstance(data.get("host"), str) else None,
        port=port,
        dbname=data.get("dbname") if isinstance(data.get("dbname"), str) else None,
        version_id=version_id,
    )


def _keys(names: list[str]) -> str:
    return " or ".join(repr(name) for name in names)


def _unreadable(arn: str, problem: str) -> SecretUnreadable:
    return SecretUnreadable(
        f"secret unreadable: {arn} {problem}. Store the RDS shape as the secret's JSON "
        f"string: {SHAPE}.",
        secret_arn=arn,
    )


_CODES = {
    "ResourceNotFoundException": "does not exist (or has no current version). Check "
    "DB_SECRET_ARN: the full ARN, in the function's region and account",
    "AccessDeniedException": "may not be read by the function's role. Grant it "
    "secretsmanager:GetSecretValue on the secret (and kms:Decrypt on the secret's key when it "
    "is a customer managed key)",
    "DecryptionFailure": "could not be decrypted. Grant the function's role kms:Decrypt on "
    "the secret's KMS key",
    "InvalidRequestException": "cannot be read now (it may be scheduled for deletion). "
    "Restore it or point DB_SECRET_ARN at a live secret",
}


def _client_error(arn: str, exc: ClientError) -> SecretUnreadable:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    problem = _CODES.get(code, "could not be read. See the error code and retry")
    return SecretUnreadable(
        f"secret unreadable: {arn} {problem} ({code}).", secret_arn=arn, error_code=code
    )

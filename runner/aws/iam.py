"""IAM database authentication: a short-lived token instead of a stored password.

A token is valid for 15 minutes and only for opening a connection, so one is made for every
new connection. botocore signs it locally (no API call); it is registered with `redact` so it
can never show up in a log line or an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner import redact

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient


def auth_token(client: RDSClient, *, host: str, port: int, user: str) -> str:
    token = client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user)
    redact.register(token)
    return token

"""IAM database authentication: a short-lived token instead of a stored password.

A token is valid for 15 minutes and only for opening a connection, so one is made for every
new connection. botocore signs it locally (no API call); it is registered with `redact`, and
so are its signature and session token on their own, so that none of them can show up in a
log line or an error. Registrations lapse after the token has expired: a warm Lambda makes a
token per connection, and the set of secrets must not grow without bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from runner.core import redact

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient


TOKEN_LIFETIME_S = 15 * 60
_SECRET_PARTS = ("X-Amz-Signature", "X-Amz-Security-Token")


def auth_token(client: RDSClient, *, host: str, port: int, user: str) -> str:
    token = client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user)
    query = parse_qs(urlsplit(f"//{token}").query)
    for secret in [token, *(v for part in _SECRET_PARTS for v in query.get(part, []))]:
        redact.register(secret, forget_after_s=2 * TOKEN_LIFETIME_S)
    return token

"""IAM database authentication: a fresh token for every connection, and only over TLS.

botocore signs the token locally (moto's rds client is used for the endpoint and fake
credentials). PostgreSQL cannot check an IAM token the way RDS does, so the test cluster lets
members of `rds_iam` in over TLS without a password, as RDS does after checking the token.
"""

from __future__ import annotations

from typing import Any

import pytest

from runner.aws import IamCredentials, aws_credential_source
from runner.core import redact
from runner.core.engine import MigrationEngine
from runner.core.errors import AuthenticationFailed, ConfigurationError
from runner.core.results import Request
from runner.core.settings import Settings
from tests.aws.conftest import Aws, CallCounter, TlsDatabase
from tests.conftest import LogCapture

CURRENT = Request(command="current")
UPGRADE = Request(command="upgrade", revision="head")


def iam_settings(db: TlsDatabase, user: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "iam_auth": True,
        "db_host": "localhost",
        "db_port": db.pg.port,
        "db_name": db.dbname,
        "db_user": user,
        "ssl_root_cert": str(db.pg.ca_file),
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def rds_client(aws: Aws) -> Any:
    return aws.client("rds")


def count_tokens(rds_client: Any) -> CallCounter:
    return CallCounter(rds_client, "before-sign.rds.connect")


def test_every_new_connection_gets_a_fresh_token(
    rds_client: Any, tls_db: TlsDatabase, logs: LogCapture
) -> None:
    """Tokens expire after 15 minutes, so none is kept: one per connection, warm or not."""
    settings = iam_settings(tls_db, tls_db.add_iam_user())
    engine = MigrationEngine(settings, aws_credential_source(settings, rds_client=rds_client))
    tokens = count_tokens(rds_client)

    engine.run(CURRENT)  # one connection
    engine.run(CURRENT)  # one more
    assert tokens.count == 2
    result = engine.run(UPGRADE)  # one connection holds the lock and runs the revisions

    assert result.after == ["0017"]
    assert tokens.count == 3
    assert "X-Amz-Signature" not in logs.text


def test_the_token_is_for_the_host_port_and_user_and_is_never_shown(
    rds_client: Any, tls_db: TlsDatabase
) -> None:
    settings = iam_settings(tls_db, "migrator")
    source = aws_credential_source(settings, rds_client=rds_client)

    token = source.password()

    assert token is not None
    assert token.startswith(f"localhost:{tls_db.pg.port}/?Action=connect&DBUser=migrator&")
    assert "X-Amz-Expires=900" in token
    assert redact.scrub(f"password={token}") == f"password={redact.MASK}"


def test_the_target_can_come_from_the_secret_without_a_password(
    aws: Aws, secrets_client: Any, rds_client: Any, tls_db: TlsDatabase
) -> None:
    """DB_SECRET_ARN with IAM: host, port, dbname and username from the secret; DB_USER wins."""
    user = tls_db.add_iam_user()
    value = tls_db.secret_value(username="someone-else")
    del value["password"]
    arn = aws.create_secret(value)
    settings = Settings(
        iam_auth=True, secret_arn=arn, db_user=user, ssl_root_cert=str(tls_db.pg.ca_file)
    )
    source = aws_credential_source(settings, secrets_client=secrets_client, rds_client=rds_client)

    result = MigrationEngine(settings, source).run(UPGRADE)

    assert isinstance(source, IamCredentials)
    assert result.after == ["0017"]
    assert source.url().username == user


def test_a_user_the_database_does_not_let_in_by_iam_fails_as_auth_failed(
    rds_client: Any, tls_db: TlsDatabase, logs: LogCapture
) -> None:
    """Not a member of rds_iam: the token is checked as a password and refused. A new token
    would not help, so there is no refresh; the message points at the IAM permission."""
    settings = iam_settings(tls_db, tls_db.user)
    engine = MigrationEngine(settings, aws_credential_source(settings, rds_client=rds_client))

    with pytest.raises(AuthenticationFailed) as caught:
        engine.run(CURRENT)

    assert caught.value.message.startswith("auth failed:")
    assert "rds-db:connect" in caught.value.message
    assert "X-Amz-Signature" not in caught.value.message + logs.text


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
def test_iam_refuses_an_sslmode_weaker_than_require(mode: str, rds_client: Any) -> None:
    settings = Settings(iam_auth=True, db_host="h", db_name="d", db_user="u", ssl_mode=mode)

    with pytest.raises(ConfigurationError) as caught:
        aws_credential_source(settings, rds_client=rds_client)

    assert "DB_IAM_AUTH" in caught.value.message
    assert "verify-full" in caught.value.message


def test_iam_with_require_is_allowed_but_warns(rds_client: Any, logs: LogCapture) -> None:
    settings = Settings(iam_auth=True, db_host="h", db_name="d", db_user="u", ssl_mode="require")

    source = aws_credential_source(settings, rds_client=rds_client)

    assert source.connect_args() == {"sslmode": "require"}
    assert logs.events("tls.weakened")[0]["sslmode"] == "require"


def test_iam_without_a_target_names_the_missing_variables(rds_client: Any) -> None:
    source = aws_credential_source(Settings(iam_auth=True, db_host="h"), rds_client=rds_client)

    with pytest.raises(ConfigurationError) as caught:
        source.url()

    assert "DB_NAME" in caught.value.message
    assert "DB_USER" in caught.value.message
    assert "DB_SECRET_ARN" in caught.value.message

"""Credentials from Secrets Manager (moto) against real PostgreSQL over verified TLS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runner.aws import SecretCredentials, aws_credential_source
from runner.core.database import UrlCredentials
from runner.core.engine import MigrationEngine
from runner.core.errors import AuthenticationFailed, ConfigurationError, SecretUnreadable
from runner.core.results import Request
from runner.core.settings import Settings
from runner.core.sources import credential_source
from tests.aws.conftest import REGION, Aws, CallCounter, TlsDatabase
from tests.conftest import LogCapture

UPGRADE = Request(command="upgrade", revision="head")
CURRENT = Request(command="current")


def settings_for(db: TlsDatabase, arn: str, **overrides: Any) -> Settings:
    return Settings(secret_arn=arn, ssl_root_cert=str(db.pg.ca_file), **overrides)


def engine_for(settings: Settings, client: Any) -> MigrationEngine:
    return MigrationEngine(settings, aws_credential_source(settings, secrets_client=client))


def test_the_secret_gives_user_password_host_port_and_database(
    aws: Aws, secrets_client: Any, tls_db: TlsDatabase
) -> None:
    """An RDS-shaped secret is all it takes to migrate, over verify-full TLS."""
    arn = aws.create_secret(tls_db.secret_value())
    source = aws_credential_source(settings_for(tls_db, arn), secrets_client=secrets_client)

    result = MigrationEngine(settings_for(tls_db, arn), source).run(UPGRADE)

    assert result.after == ["0017"]
    assert source.connect_args()["sslmode"] == "verify-full"
    url = source.url()
    assert (url.username, url.host, url.port, url.database) == (
        tls_db.user, "localhost", tls_db.pg.port, tls_db.dbname,
    )  # fmt: skip


def test_db_host_port_and_name_override_the_secret(
    aws: Aws, secrets_client: Any, tls_db: TlsDatabase
) -> None:
    """DB_HOST / DB_PORT / DB_NAME win over the secret's fields (e.g. an RDS Proxy endpoint)."""
    arn = aws.create_secret(tls_db.secret_value(host="cluster.invalid", port=1, dbname="other"))
    settings = settings_for(
        tls_db, arn, db_host="localhost", db_port=tls_db.pg.port, db_name=tls_db.dbname
    )

    result = engine_for(settings, secrets_client).run(UPGRADE)

    assert result.after == ["0017"]


def test_the_secret_is_read_once_across_warm_invocations(
    aws: Aws,
    secrets_client: Any,
    tls_db: TlsDatabase,
    count_reads: Callable[[Any], CallCounter],
) -> None:
    """The handler caches the engine and its source; the secret is not read per invocation."""
    reads = count_reads(secrets_client)
    arn = aws.create_secret(tls_db.secret_value())
    engine = engine_for(settings_for(tls_db, arn), secrets_client)

    engine.run(UPGRADE)
    engine.run(CURRENT)
    engine.run(UPGRADE)

    assert reads.count == 1


def test_a_rotated_password_is_picked_up_by_re_reading_the_secret_once(
    aws: Aws,
    secrets_client: Any,
    tls_db: TlsDatabase,
    count_reads: Callable[[Any], CallCounter],
    logs: LogCapture,
) -> None:
    """Rotation changes the password on the server and in the secret; the cached copy is stale.

    The next run's connection is refused once, the secret is re-read, and the run succeeds.
    """
    reads = count_reads(secrets_client)
    arn = aws.create_secret(tls_db.secret_value())
    engine = engine_for(settings_for(tls_db, arn), secrets_client)
    engine.run(CURRENT)
    old_password = tls_db.password

    tls_db.set_password("rotated-pw-after-first-run")
    aws.put_secret(arn, tls_db.secret_value())
    result = engine.run(UPGRADE)

    assert result.after == ["0017"]
    assert reads.count == 2
    assert logs.events("secret.refreshed")[0]["changed"] is True
    assert old_password not in logs.text
    assert "rotated-pw-after-first-run" not in logs.text


def test_a_wrong_password_in_the_secret_fails_as_auth_failed_after_refresh(
    aws: Aws, secrets_client: Any, tls_db: TlsDatabase, logs: LogCapture
) -> None:
    """Re-reading does not help when the secret itself is wrong; the error says both happened."""
    arn = aws.create_secret(tls_db.secret_value(password="not-the-password-123"))
    engine = engine_for(settings_for(tls_db, arn), secrets_client)

    with pytest.raises(AuthenticationFailed) as caught:
        engine.run(CURRENT)

    message = caught.value.message
    assert message.startswith("auth failed after refresh")
    assert tls_db.user in message
    assert "not-the-password-123" not in message + logs.text


def test_a_missing_secret_is_unreadable_and_named(aws: Aws, secrets_client: Any) -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:aurora/none-AbCdEf"
    source = aws_credential_source(Settings(secret_arn=arn), secrets_client=secrets_client)

    with pytest.raises(SecretUnreadable) as caught:
        source.url()

    assert caught.value.message.startswith("secret unreadable")
    assert arn in caught.value.message
    assert "ResourceNotFoundException" in caught.value.message
    assert "DB_SECRET_ARN" in caught.value.message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("user=app password=hunter2-plain", "is not a JSON object"),
        ('["hunter2-in-a-list"]', "is not a JSON object"),
        ({"username": "app", "host": "h", "dbname": "d"}, "has no 'password'"),
        ({"password": "hunter2-no-user", "host": "h", "dbname": "d"}, "has no 'username'"),
        ({"username": "app", "password": "hunter2-no-host", "dbname": "d"}, "'host' (or DB_HOST)"),
        ({"username": "a", "password": "hunter2-bad-port", "host": "h", "port": "x"}, "'port'"),
        ({"username": "a", "password": "hunter2-mysql", "engine": "mysql"}, "'mysql'"),
    ],
)
def test_a_secret_of_the_wrong_shape_is_unreadable_without_echoing_it(
    aws: Aws, secrets_client: Any, value: Any, says: str
) -> None:
    arn = aws.create_secret(value)
    source = aws_credential_source(Settings(secret_arn=arn), secrets_client=secrets_client)

    with pytest.raises(SecretUnreadable) as caught:
        source.url()

    assert caught.value.message.startswith(f"secret unreadable: {arn}")
    assert says in caught.value.message
    assert "hunter2" not in caught.value.message


def test_secrets_manager_out_of_reach_is_unreadable_and_says_why() -> None:
    """No VPC endpoint: the call cannot connect. Said quickly, as a secret problem."""
    import boto3
    from botocore.config import Config

    from runner.local.localpg import free_port

    client = boto3.client(
        "secretsmanager",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:aurora/x-AbCdEf"
    source = SecretCredentials(Settings(secret_arn=arn), client, {"sslmode": "verify-full"})

    with pytest.raises(SecretUnreadable) as caught:
        source.url()

    assert "could not reach Secrets Manager" in caught.value.message
    assert "VPC endpoint" in caught.value.message


def test_database_url_wins_over_the_secret(
    aws: Aws, secrets_client: Any, count_reads: Callable[[Any], CallCounter]
) -> None:
    reads = count_reads(secrets_client)
    settings = Settings(
        database_url="postgresql://u:pw-url-1234@localhost/db", secret_arn="arn:unused"
    )

    source = credential_source(settings, secrets_client=secrets_client)

    assert isinstance(source, UrlCredentials)
    assert reads.count == 0


def test_without_any_source_the_error_names_every_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        credential_source(Settings())

    for variable in ("DATABASE_URL", "DB_SECRET_ARN", "DB_IAM_AUTH"):
        assert variable in caught.value.message


def test_default_client_follows_the_standard_aws_environment(
    aws: Aws, tls_db: TlsDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no injected client, boto3's own configuration (region, endpoint) is used."""
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    arn = aws.create_secret(tls_db.secret_value())

    source = credential_source(settings_for(tls_db, arn))

    assert source.url().database == tls_db.dbname

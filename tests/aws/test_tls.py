"""TLS in AWS mode: verify-full by default, clear errors when verification fails, and
weakening only on purpose, with a warning. Against a real PostgreSQL with TLS on."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from sqlalchemy.engine import URL

from runner.aws import aws_credential_source
from runner.aws.tls import DEFAULT_ROOT_CERT
from runner.core.engine import MigrationEngine
from runner.core.errors import ConfigurationError, TlsError
from runner.core.results import Request
from runner.core.settings import Settings
from tests.aws.conftest import Aws, TlsDatabase
from tests.conftest import LogCapture

CURRENT = Request(command="current")


def run_current(settings: Settings, client: Any) -> list[str]:
    source = aws_credential_source(settings, secrets_client=client)
    return MigrationEngine(settings, source).run(CURRENT).after


def test_verify_full_with_the_right_ca_and_host_name_connects(
    aws: Aws, secrets_client: Any, tls_db: TlsDatabase, logs: LogCapture
) -> None:
    arn = aws.create_secret(tls_db.secret_value())
    settings = Settings(secret_arn=arn, ssl_root_cert=str(tls_db.pg.ca_file))

    assert run_current(settings, secrets_client) == []
    assert logs.events("tls.weakened") == []


def test_a_certificate_from_another_ca_is_refused(
    aws: Aws, secrets_client: Any, tls_db: TlsDatabase
) -> None:
    arn = aws.create_secret(tls_db.secret_value())
    settings = Settings(secret_arn=arn, ssl_root_cert=str(tls_db.pg.other_ca_file))

    with pytest.raises(TlsError) as caught:
        run_current(settings, secrets_client)

    assert caught.value.message.startswith("TLS failed")
    assert "certificate verify failed" in caught.value.message
    assert "DB_SSL_ROOT_CERT" in caught.value.message


def test_a_certificate_for_another_host_name_is_refused(
    aws: Aws, secrets_client: Any, tls_db: TlsDatabase
) -> None:
    """The certificate names `localhost`; dialling 127.0.0.1 must not be accepted."""
    arn = aws.create_secret(tls_db.secret_value(host="127.0.0.1"))
    settings = Settings(secret_arn=arn, ssl_root_cert=str(tls_db.pg.ca_file))

    with pytest.raises(TlsError) as caught:
        run_current(settings, secrets_client)

    assert "does not match host name" in caught.value.message
    assert "endpoint name" in caught.value.message


def test_by_default_the_server_must_be_signed_by_an_amazon_rds_ca(
    aws: Aws, secrets_client: Any, tls_db: TlsDatabase
) -> None:
    """Without DB_SSL_ROOT_CERT the bundled RDS CAs are the only ones trusted."""
    arn = aws.create_secret(tls_db.secret_value())
    settings = Settings(secret_arn=arn)
    source = aws_credential_source(settings, secrets_client=secrets_client)

    assert source.connect_args() == {
        "sslmode": "verify-full",
        "sslrootcert": str(DEFAULT_ROOT_CERT),
    }
    with pytest.raises(TlsError):
        MigrationEngine(settings, source).run(CURRENT)


def test_the_bundled_ca_file_holds_the_rds_global_bundle() -> None:
    context = ssl.create_default_context(cafile=str(DEFAULT_ROOT_CERT))
    subjects = [str(ca["subject"]) for ca in context.get_ca_certs()]

    assert len(subjects) > 80
    assert any("'Amazon RDS us-east-1 Root CA RSA2048 G1'" in s for s in subjects)
    assert any("'Amazon Root CA 1'" in s for s in subjects)  # RDS Proxy


def plain_secret(aws: Aws, url: URL) -> str:
    """A secret for the suite's ordinary cluster, which has TLS off."""
    return aws.create_secret(
        {
            "engine": "postgres",
            "host": url.host,
            "port": url.port,
            "dbname": url.database,
            "username": url.username,
            "password": url.password,
        }
    )


def test_a_server_without_tls_is_refused_under_verify_full(
    aws: Aws, secrets_client: Any, database_url: URL
) -> None:
    settings = Settings(secret_arn=plain_secret(aws, database_url))

    with pytest.raises(TlsError) as caught:
        run_current(settings, secrets_client)

    assert "does not offer TLS" in caught.value.message
    assert "DB_SSL_MODE" in caught.value.message


def test_weakening_to_disable_is_explicit_and_logged_as_a_warning(
    aws: Aws, secrets_client: Any, database_url: URL, logs: LogCapture
) -> None:
    settings = Settings(secret_arn=plain_secret(aws, database_url), ssl_mode="disable")

    assert run_current(settings, secrets_client) == []

    (warning,) = logs.events("tls.weakened")
    assert warning["level"] == "WARNING"
    assert warning["sslmode"] == "disable"
    assert "plain text" in warning["consequence"]


def test_require_encrypts_without_checking_the_certificate_and_warns(
    aws: Aws, secrets_client: Any, tls_db: TlsDatabase, logs: LogCapture
) -> None:
    """`require` accepts the certificate for `localhost` at 127.0.0.1: that is what it gives up."""
    arn = aws.create_secret(tls_db.secret_value(host="127.0.0.1"))
    settings = Settings(secret_arn=arn, ssl_mode="require")

    assert run_current(settings, secrets_client) == []
    assert logs.events("tls.weakened")[0]["sslmode"] == "require"


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"ssl_mode": "verify"}, "DB_SSL_MODE"),
        ({"ssl_root_cert": "/nonexistent/ca.pem"}, "DB_SSL_ROOT_CERT"),
    ],
)
def test_bad_tls_settings_are_configuration_errors_before_any_aws_call(
    overrides: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        aws_credential_source(Settings(secret_arn="arn:unused", **overrides))  # type: ignore[arg-type]

    assert variable in caught.value.message

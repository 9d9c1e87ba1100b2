"""An unreachable or unanswering database is a typed DatabaseUnavailable, reported after
DB_CONNECT_TIMEOUT_SECONDS rather than when Lambda kills the function."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from runner.aws import aws_credential_source
from runner.core.engine import MigrationEngine
from runner.core.errors import AuthenticationFailed, DatabaseUnavailable, TlsError
from runner.core.results import Request
from runner.core.settings import Settings
from runner.local.localpg import free_port
from tests.aws.conftest import Aws


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections (the kernel does) but never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def secret_for(aws: Aws, port: int) -> str:
    return aws.create_secret(
        {
            "host": "127.0.0.1",
            "port": port,
            "dbname": "app",
            "username": "app",
            "password": "pw-x-123",
        }
    )


def run_current(settings: Settings, client: Any) -> None:
    source = aws_credential_source(settings, secrets_client=client)
    MigrationEngine(settings, source).run(Request(command="current"))


def assert_unreachable(error: DatabaseUnavailable) -> None:
    assert type(error) is DatabaseUnavailable
    assert not isinstance(error, TlsError | AuthenticationFailed)
    assert error.message.startswith("host unreachable")
    assert "security groups" in error.message


def test_nobody_listening_is_host_unreachable(aws: Aws, secrets_client: Any) -> None:
    settings = Settings(secret_arn=secret_for(aws, free_port()), connect_timeout_s=2)

    with pytest.raises(DatabaseUnavailable) as caught:
        run_current(settings, secrets_client)

    assert_unreachable(caught.value)


def test_a_server_that_never_answers_times_out_as_host_unreachable(
    aws: Aws, secrets_client: Any, silent_port: int
) -> None:
    """Like a paused cluster or a blackholed route: connect_timeout ends the wait."""
    settings = Settings(secret_arn=secret_for(aws, silent_port), connect_timeout_s=2)

    with pytest.raises(DatabaseUnavailable) as caught:
        run_current(settings, secrets_client)

    assert_unreachable(caught.value)
    assert "timeout" in caught.value.message

"""No AWS-sourced secret reaches a log, even with the root logger at DEBUG.

Lambda's `ApplicationLogLevel=DEBUG` puts the root logger at DEBUG. At DEBUG botocore logs the
whole `GetSecretValue` response body and, for IAM tokens, the SigV4 canonical request and
signature, before the runner has seen (let alone registered) any of them. So the runner sets
the AWS SDK's loggers to WARNING and the root handlers withhold the SDK's lower records.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from runner.adapters import handler
from runner.aws import credentials
from runner.core.logs import AWS_SDK_LOGGERS
from tests.aws.conftest import Aws, TlsDatabase
from tests.aws.test_lambda_runtime import (  # noqa: F401 (fixtures)
    MakeFunction,
    make_function,
    runtime_site,
)
from tests.conftest import LogCapture
from tests.leaks import assert_clean
from tests.test_handler import LambdaContext

AWS_PASSWORD = "Aws-Dist1nct!ve:P@ss/wd"
SERVER_SIDE = ("moto", "werkzeug")  # the moto server runs in this process; its logs are not ours


class _FunctionSide(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(SERVER_SIDE)


@pytest.fixture
def root_at_debug() -> Iterator[io.StringIO]:
    """What the Lambda runtime does with ApplicationLogLevel=DEBUG: root at DEBUG, a handler.

    The AWS SDK's loggers start at NOTSET, as in a fresh process (earlier tests may have set
    them), and are put back afterwards.
    """
    root, stream = logging.getLogger(), io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    capture.addFilter(_FunctionSide())
    saved = {name: logging.getLogger(name).level for name in (*AWS_SDK_LOGGERS, "")}
    for name in AWS_SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    root.setLevel(logging.DEBUG)
    root.addHandler(capture)
    try:
        yield stream
    finally:
        root.removeHandler(capture)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
def lambda_env(aws: Aws, tls_db: TlsDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DB_SSL_ROOT_CERT", str(tls_db.pg.ca_file))
    handler.reset_engine()
    yield
    handler.reset_engine()


def test_the_secret_read_at_debug_never_reaches_a_log(
    aws: Aws,
    tls_db: TlsDatabase,
    lambda_env: None,
    root_at_debug: io.StringIO,
    logs: LogCapture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tls_db.set_password(AWS_PASSWORD)
    monkeypatch.setenv("DB_SECRET_ARN", aws.create_secret(tls_db.secret_value()))

    result = handler.handler({"command": "upgrade"}, LambdaContext())

    assert result["after"] == ["0017"]
    logging.getLogger("some.library").debug("other DEBUG lines still get through")
    captured = root_at_debug.getvalue()
    assert "other DEBUG lines still get through" in captured
    assert_clean(AWS_PASSWORD, captured, logs.text, json.dumps(result))


def test_iam_tokens_and_signatures_at_debug_never_reach_a_log(
    tls_db: TlsDatabase,
    lambda_env: None,
    root_at_debug: io.StringIO,
    logs: LogCapture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens: list[str] = []

    def recorded(*args: Any, **kwargs: Any) -> str:
        tokens.append(make_token(*args, **kwargs))
        return tokens[-1]

    make_token = credentials.auth_token  # type: ignore[attr-defined]
    monkeypatch.setattr(credentials, "auth_token", recorded)
    env = {"DB_IAM_AUTH": "true", "DB_HOST": "localhost", "DB_PORT": str(tls_db.pg.port)}
    env |= {"DB_NAME": tls_db.dbname, "DB_USER": tls_db.add_iam_user()}
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    result = handler.handler({"command": "upgrade"}, LambdaContext())

    assert result["after"] == ["0017"] and len(tokens) == 1  # one connection per upgrade
    texts = (root_at_debug.getvalue(), logs.text, json.dumps(result))
    for token in tokens:
        (signature,) = parse_qs(urlsplit(f"//{token}").query)["X-Amz-Signature"]
        assert_clean(token, *texts)
        assert_clean(signature, *texts)


def test_the_real_runtime_at_debug_prints_no_password(
    make_function: MakeFunction,  # noqa: F811 (the imported fixture)
    tls_db: TlsDatabase,
) -> None:
    """The bundle under awslambdaric with AWS_LAMBDA_LOG_LEVEL=DEBUG (JSON log format)."""
    function = make_function(AWS_LAMBDA_LOG_LEVEL="DEBUG", AWS_LAMBDA_LOG_FORMAT="JSON")

    done = function.invoke({"command": "upgrade"})

    assert done.ok, done.body
    assert_clean(tls_db.password, function.output(), json.dumps(done.body))

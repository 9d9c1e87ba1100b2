"""The guard on every log record: scrubbed on the root's handlers, AWS SDK kept at WARNING,
every line under 64 KiB."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from awslambdaric.lambda_runtime_log_utils import JsonFormatter

from runner.core import redact
from runner.core.logs import AWS_SDK_LOGGERS, configure_logging, log_event, protect_root
from tests.conftest import LogCapture
from tests.leaks import assert_clean, lowercase_escapes

PASSWORD = "Dist1nct!ve-P@ss:w0rd/%zq"


@pytest.fixture
def lambda_root() -> Iterator[io.StringIO]:
    """The root logger as the Lambda runtime leaves it: DEBUG, its JSON formatter, no guard.

    Every other root handler (pytest's) is taken off meanwhile, and all is put back after.
    """
    root, stream = logging.getLogger(), io.StringIO()
    saved = (root.level, list(root.handlers))
    sdk_levels = {name: logging.getLogger(name).level for name in AWS_SDK_LOGGERS}
    for old in saved[1]:
        root.removeHandler(old)
    for name in AWS_SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    runtime = logging.StreamHandler(stream)
    runtime.setFormatter(JsonFormatter())  # prints str(exc_info[1]) and extras itself
    root.addHandler(runtime)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(runtime)
        for old in saved[1]:
            root.addHandler(old)
        root.setLevel(saved[0])
        for name, level in sdk_levels.items():
            logging.getLogger(name).setLevel(level)


def test_root_handlers_scrub_messages_exceptions_and_extras(lambda_root: io.StringIO) -> None:
    protect_root()
    redact.register(PASSWORD)
    url = f"postgresql+psycopg2://m:{lowercase_escapes(PASSWORD)}@h/db"
    try:
        raise RuntimeError(f"could not use {url}")
    except RuntimeError:
        logging.getLogger("some.driver").debug("connecting to %s", url, exc_info=True)
    logging.getLogger("some.driver").info("extras", extra={"dsn": url, "parts": [PASSWORD]})

    out = lambda_root.getvalue()
    assert out.count("***") >= 4 and "could not use" in out and "connecting to" in out
    assert_clean(PASSWORD, out)


def test_protect_root_puts_the_aws_sdk_at_warning(lambda_root: io.StringIO) -> None:
    protect_root()
    assert {logging.getLogger(n).level for n in AWS_SDK_LOGGERS} == {logging.WARNING}


def test_aws_sdk_records_below_warning_are_withheld_even_if_its_level_is_lowered(
    lambda_root: io.StringIO,
) -> None:
    """The body is logged before the runner could register the secret in it: drop, not scrub."""
    protect_root()
    logging.getLogger("botocore").setLevel(logging.DEBUG)  # someone turns it back on
    body = json.dumps({"SecretString": json.dumps({"password": "Unregistered-Pw-77"})})
    logging.getLogger("botocore.parsers").debug("Response body:\n%r", body.encode())
    logging.getLogger("urllib3.connectionpool").debug("https://x:443 POST / 200")
    logging.getLogger("botocore.credentials").warning("a botocore warning stays")

    out = lambda_root.getvalue()
    assert "Unregistered-Pw-77" not in out and "POST /" not in out
    assert "a botocore warning stays" in out


def test_without_a_root_handler_the_cli_gets_a_scrubbing_one(lambda_root: io.StringIO) -> None:
    """Else other libraries' warnings would go to logging.lastResort, unscrubbed."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    stream = io.StringIO()
    configure_logging(stream)
    redact.register(PASSWORD)
    try:
        logging.getLogger("some.library").warning("retrying %s", PASSWORD)
        line = json.loads(stream.getvalue())
        assert line["level"] == "WARNING" and line["message"] == "retrying ***"
    finally:
        configure_logging()  # our logger back to stderr; then the root handler off again
        for ours in list(root.handlers):
            root.removeHandler(ours)


def test_every_log_line_stays_under_64_kib_and_stays_json(logs: LogCapture) -> None:
    log_event("big", blob="x" * 2**20, words="word " * 2**18, items=list(range(100_000)))
    log_event("small", revision="0017")

    lines = logs.text.splitlines()
    assert len(lines) == 2 and all(len(line) <= redact.LINE_LIMIT for line in lines)
    big, small = (json.loads(line) for line in lines)
    assert big["event"] == "big" and "characters" in big["blob"] and len(big["items"]) < 100
    assert small["revision"] == "0017"

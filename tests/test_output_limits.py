"""Echoes of user input are capped: a 1 MB field gives a short message and short log lines."""

from __future__ import annotations

import json

import pytest

from runner.adapters import handler
from runner.core import errors, redact
from tests.conftest import LogCapture
from tests.test_handler import LambdaContext, lambda_env  # noqa: F401 (fixture)


@pytest.mark.usefixtures("lambda_env")
@pytest.mark.parametrize("filler", ["a", "\x00", "é"], ids=["ascii", "nul", "non-ascii"])
def test_a_huge_confirm_gives_a_capped_message_and_capped_log_lines(
    filler: str, logs: LogCapture
) -> None:
    """A 1 MB `confirm` once made a 4 MB message and a 5 MB log line (CloudWatch: 256 KB)."""
    handler.handler({"command": "upgrade"}, LambdaContext())
    event = {"command": "downgrade", "revision": "base", "confirm": filler * 2**20}

    with pytest.raises(errors.BadRequest) as refused:
        handler.handler(event, LambdaContext())

    message = refused.value.message
    assert len(message) <= redact.MESSAGE_LIMIT and "confirm" in message
    assert len(json.dumps(refused.value.to_dict())) <= 2 * redact.MESSAGE_LIMIT
    assert all(len(line) <= redact.LINE_LIMIT for line in logs.text.splitlines())
    assert logs.events("run.refused")[-1]["error_type"] == "FieldTooLong"

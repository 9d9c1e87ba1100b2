"""An exception the runner did not foresee reaches the Lambda caller as `InternalError`.

The fixture tree `unloadable` has a revision file that raises a plain KeyError while Python
loads it: outside any step, so no code of ours translates it. The handler must still answer
with our error type (a bug report: what happened and that the logs have the traceback),
and nothing in the database changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from runner.adapters import handler
from runner.core import errors
from tests.conftest import LogCapture, write_alembic_ini
from tests.test_engine import scalar
from tests.test_handler import LambdaContext


@pytest.fixture
def unloadable_lambda(
    database_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[URL]:
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("ALEMBIC_CONFIG", str(write_alembic_ini("unloadable", tmp_path)))
    handler.reset_engine()
    yield database_url
    handler.reset_engine()


def test_an_unexpected_exception_is_an_internal_error(
    unloadable_lambda: URL, logs: LogCapture
) -> None:
    with pytest.raises(errors.InternalError) as caught:
        handler.handler({"command": "upgrade"}, LambdaContext())

    assert type(caught.value) is errors.InternalError
    assert caught.value.message.startswith("Unexpected KeyError: 'batch_size'.")
    assert "the logs have the (scrubbed) traceback" in caught.value.message
    assert caught.value.to_dict()["errorType"] == "InternalError"
    crashed = logs.events("run.crashed")
    assert crashed and "KeyError" in crashed[0]["exception"], "the traceback is logged"
    assert scalar(unloadable_lambda, "SELECT to_regclass('alembic_version') IS NULL")
    assert scalar(unloadable_lambda, "SELECT to_regclass('chunks') IS NULL")

"""The CLI's catch-all: an unexpected exception is `FAILED: InternalError: ...`, exit 1,
scrubbed; the traceback only with --traceback, and scrubbed too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.engine import URL

from runner.adapters import cli
from runner.core.engine import MigrationEngine
from tests.leaks import assert_clean, lowercase_escapes

PASSWORD = "Dist1nct!ve-P@ss:w0rd/%zq"
URL_TEXT = f"postgresql+psycopg2://m:{lowercase_escapes(PASSWORD)}@127.0.0.1:1/db"


@pytest.fixture
def crashing_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """DATABASE_URL carries the password; the engine blows up with the URL in the message."""

    def crash(self: MigrationEngine, *args: Any, **kwargs: Any) -> None:
        raise KeyError(f"no luck with {URL_TEXT}")

    monkeypatch.setenv("DATABASE_URL", URL_TEXT)
    monkeypatch.setattr(MigrationEngine, "run", crash)


def test_an_unexpected_exception_is_an_internal_error_without_traceback(
    crashing_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["current"]) == cli.EXIT_FAILED
    out, err = capsys.readouterr()
    assert "FAILED: InternalError: Unexpected KeyError: " in err and "--traceback" in err
    assert "Traceback" not in err and "***" in err
    assert_clean(PASSWORD, out, err)


def test_json_gives_the_internal_error_as_json(
    crashing_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["current", "--json"]) == cli.EXIT_FAILED
    out, err = capsys.readouterr()
    error = json.loads(out)
    assert error["ok"] is False and error["errorType"] == "InternalError"
    assert "KeyError" in error["message"]
    assert_clean(PASSWORD, out, err)


def test_traceback_on_request_and_scrubbed(
    crashing_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["current", "--traceback"]) == cli.EXIT_FAILED
    out, err = capsys.readouterr()
    assert "Traceback (most recent call last)" in err and "in crash" in err
    assert "FAILED: InternalError" in err
    assert_clean(PASSWORD, out, err)


def test_expected_errors_keep_their_type_and_exit_code(
    database_url: URL, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    assert cli.main(["upgrade", "0999"]) == cli.EXIT_USAGE
    assert "FAILED: UnknownRevision" in capsys.readouterr().err

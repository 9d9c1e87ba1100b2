"""Parsing the command line imports nothing heavy, and the lazy parts say what they said."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from runner.adapters import cli_args
from runner.adapters.remote import resolve
from runner.bootstrap import script
from tests.conftest import REPO

HEAVY = ("alembic", "sqlalchemy", "rich", "boto3", "botocore", "runner.core.engine")


def test_the_copied_names_equal_their_sources() -> None:
    assert cli_args.ENVIRONMENTS == resolve.ENVIRONMENTS
    assert cli_args.BOOTSTRAP == script.COMMAND


def test_parsing_imports_nothing_heavy() -> None:
    code = (
        "import json, sys\n"
        "from runner.adapters.cli_args import build_parser\n"
        "build_parser().parse_args(['upgrade', '--json'])\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_the_bootstrap_command_is_built_when_chosen() -> None:
    args = cli_args.build_parser().parse_args(["bootstrap-migrator", "--role", "runner"])
    assert args.command == "bootstrap-migrator" and args.role == "runner"


def test_the_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_args.build_parser().parse_args(["--help"])
    listed = capsys.readouterr().out
    assert "bootstrap-migrator" in listed and "create the migrator role" in listed
    assert "heads" in listed and "review" in listed


def test_version_names_the_packages(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli_args.build_parser().parse_args(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("aurora-migrate ") and "alembic" in out and "SQLAlchemy" in out

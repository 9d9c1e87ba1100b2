"""The command line's contract with people and pipelines: flags, help, noise, exit codes.

Invariants: the global flags work before or after the subcommand; a terminal gets answers,
not JSON log lines (those go to a piped stderr, or anywhere with --log-format json); a
refusal is said once and in CLI words (`--confirm 0017`); every option has help, and the
help lists REV forms, exit codes and environment variables; `current --check` exits 3 while
revisions are pending, for CI gates.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from runner.adapters import cli as cli_module
from runner.core.settings import ENVIRONMENT
from tests.conftest import write_alembic_ini
from tests.terminal import in_terminal
from tests.test_cli import cli
from tests.test_engine import versions


@pytest.fixture
def env(database_url: URL) -> dict[str, str]:
    return {"DATABASE_URL": database_url.render_as_string(hide_password=False)}


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# --- flags in either place -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["-q", "--json", "current"],
        ["current", "-q", "--json"],
        ["--json", "current", "-q"],
        ["--log-format", "json", "--json", "current"],
        ["-v", "current", "--json"],
    ],
)
def test_global_flags_work_before_or_after_the_subcommand(
    args: list[str], env: dict[str, str]
) -> None:
    done = cli(*args, env=env)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["command"] == "current"


def test_quiet_before_the_subcommand_silences_the_logs(env: dict[str, str]) -> None:
    loud, quiet = cli("current", env=env), cli("-q", "current", env=env)

    assert json_lines(loud.stderr), "piped stderr gets JSON log lines by default"
    assert quiet.stderr == ""


# --- noise -----------------------------------------------------------------------------------


def test_a_terminal_gets_the_answer_without_json_log_lines(env: dict[str, str]) -> None:
    screen = in_terminal("current", env=env)

    assert screen.returncode == 0, screen.text
    assert not any(line.lstrip().startswith("{") for line in screen.lines), screen.text
    assert any(line.startswith("database: base") for line in screen.lines)


def test_log_format_json_brings_the_log_lines_to_a_terminal(env: dict[str, str]) -> None:
    screen = in_terminal("--log-format", "json", "current", env=env)

    events = [json.loads(line)["event"] for line in screen.lines if line.startswith("{")]
    assert "run.start" in events and "run.finish" in events


def test_a_quiet_refusal_is_said_once(env: dict[str, str], database_url: URL) -> None:
    assert cli("upgrade", env=env).returncode == 0

    refused = cli("downgrade", "base", "-q", env=env)

    assert refused.returncode == 2
    assert refused.stderr.count("ConfirmationRequired") == 1, refused.stderr
    assert refused.stderr.startswith("FAILED: ConfirmationRequired: ")
    assert versions(database_url) == ["0017"]


def test_a_refusal_on_a_terminal_is_one_line(env: dict[str, str]) -> None:
    assert cli("upgrade", env=env).returncode == 0

    screen = in_terminal("stamp", "base", env=env)

    assert screen.returncode == 2
    assert [line for line in screen.lines if line] == [
        "FAILED: ConfirmationRequired: stamp is destructive and was refused (no --confirm). "
        "The database is at 0017; to proceed, run it again with --confirm 0017. Nothing "
        "was changed."
    ]


# --- confirmation in CLI words ---------------------------------------------------------------


def test_refusals_name_the_flag_not_the_lambda_field(env: dict[str, str]) -> None:
    assert cli("upgrade", env=env).returncode == 0

    missing = cli("downgrade", "base", env=env)
    wrong = cli("stamp", "base", "--confirm", "0001", "--json", env=env)

    failed = [line for line in missing.stderr.splitlines() if line.startswith("FAILED: ")]
    assert "--confirm 0017" in failed[0] and "confirm=" not in failed[0]
    error = json.loads(wrong.stdout)
    assert error["errorType"] == "ConfirmationRequired" and error["expected"] == "0017"
    assert "(--confirm 0001)" in error["message"] and "--confirm 0017" in error["message"]


# --- help ------------------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            getattr(action, "build_all", lambda: None)()  # the parsers built only when chosen
            return dict(action.choices)
    raise AssertionError("no subcommands")


def test_every_subcommand_and_argument_has_help() -> None:
    parser = cli_module.build_parser()
    missing = []
    for name, sub in _subparsers(parser).items():
        if not sub.description:
            missing.append(f"{name}: no description")
        for action in sub._actions:
            if action.help is None or action.help == "":
                missing.append(f"{name}: {action.dest}")
    assert missing == []


def test_help_explains_rev_exit_codes_and_environment() -> None:
    done = cli("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for rev in ("head", "base", "-1", "+2", "head-1"):
        assert f" {rev} " in text or f" {rev}," in text, rev
    for code in ("0 ", "1 ", "2 ", "3 "):
        assert f"\n  {code}" in done.stdout, f"exit code {code}"
    for variable in ENVIRONMENT:
        assert variable in text, variable


@pytest.mark.parametrize("command", ["downgrade", "stamp"])
def test_help_says_confirm_is_required(command: str) -> None:
    done = cli(command, "--help")
    text = " ".join(done.stdout.split())
    assert "--confirm CURRENT" in text and "required" in text
    assert "head-1" in text, "REV forms are explained on the subcommand too"


def test_version() -> None:
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("aurora-migrate ") and "alembic" in done.stdout


# --- CI gate ---------------------------------------------------------------------------------


def test_current_check_exits_3_while_revisions_are_pending(
    database_url: URL, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "ALEMBIC_CONFIG": str(write_alembic_ini("chain", tmp_path)),
    }
    assert cli("upgrade", "0002", env=env).returncode == 0

    pending = cli("current", "--check", env=env)
    as_json = cli("current", "--check", "--json", env=env)
    assert cli("upgrade", env=env).returncode == 0
    at_head = cli("current", "--check", env=env)

    assert pending.returncode == 3, pending.stderr
    assert "2 revision(s) pending: 0003, 0004" in pending.stderr
    assert as_json.returncode == 3 and json.loads(as_json.stdout)["pending"] == ["0003", "0004"]
    assert at_head.returncode == 0, at_head.stderr
    assert cli("current", env={**env}).returncode == 0, "without --check, pending is no failure"

"""The `aurora-migrate` argument parser: every command, flag and help text, in one place.

The global flags (`--json`, `-q`, `-v`, `--log-format`, `--traceback`) are accepted before
or after the subcommand: the top-level parser owns their defaults, and each subcommand
accepts them again with `SUPPRESS` defaults, so a flag given before the subcommand is not
reset by the subcommand's parser.

Building the parser imports nothing heavy (no boto3, rich, SQLAlchemy or Alembic): the
bootstrap command's parser (which needs SQLAlchemy) is built only when that command is chosen
or the help lists every command, and `--version` asks the installed packages only when given.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from runner.core.settings import ENVIRONMENT

PROG = "aurora-migrate"
# `runner.adapters.remote.resolve.ENVIRONMENTS`, spelled here so parsing does not import
# botocore; tests/test_cli_parser_lazy.py keeps the two equal.
ENVIRONMENTS = ("dev", "staging", "prod")
BOOTSTRAP = "bootstrap-migrator"  # `runner.bootstrap.script.COMMAND`, kept equal by the same test
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PENDING = 0, 1, 2, 3
LOG_FORMATS = ("auto", "human", "json")
LINT_FORMATS = ("text", "json", "markdown")
DESCRIPTION_WIDTH = 78

REV_FORMS = """\
REV, wherever a command takes one:
  0017            that revision (a unique prefix of 4+ characters works too)
  head            the single head of the tree; heads: every head
  base            no revision at all
  -1, +2          steps down or up from the database's current revision
  head-1, 0017+1  steps from a revision (base+2 too)
  It is resolved to exact revision ids before anything runs; see `history`."""

EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}  success (with current --check: the database is at head)
  {EXIT_FAILED}  a run failed; the message says where the database stopped
  {EXIT_USAGE}  bad usage, a refused request or a bad configuration; nothing was changed
  {EXIT_PENDING}  current --check: revisions are pending"""

CONFIRM_HELP = (
    "required: the database's current revision exactly as `current` shows it (base when "
    "none is applied, comma-joined heads if several), e.g. --confirm 0017. Without it, or "
    "with another value, the command is refused, changes nothing and says the value"
)


def _environment() -> str:
    width = max(len(name) for name in ENVIRONMENT)
    lines = [f"  {name:<{width}}  {text}" for name, (_attr, text) in ENVIRONMENT.items()]
    return "environment (without DATABASE_URL or DB_SECRET_ARN: the local dev database):\n" + (
        "\n".join(lines)
    )


def version_text() -> str:
    import platform
    from importlib import metadata  # slow to import; only --version needs it

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"

    return (
        f"{PROG} {installed('aurora-migrations')} (alembic {installed('alembic')}, "
        f"SQLAlchemy {installed('sqlalchemy')}, Python {platform.python_version()})"
    )


def _global_flags(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The flags every command takes; `defaults=False` for the copy on each subcommand."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("output (before or after the command)")
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print the result, or the error, as JSON on stdout",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="only the answer and errors: no progress lines, log lines only for warnings",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="also show the informational log lines",
    )
    group.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=default("auto"),
        help="log lines on stderr: human (live progress, warnings), json (one JSON object a "
        "line, as in Lambda) or auto: human on a terminal, json otherwise (default)",
    )
    group.add_argument(
        "--traceback",
        "--debug",
        action="store_true",
        default=default(False),
        help="on an unexpected error, also print the traceback (scrubbed; credentials never "
        "appear, --debug is the same flag)",
    )
    remote = parser.add_argument_group(
        "remote mode: run the command in the deployed function (before or after the command)"
    )
    remote.add_argument(
        "--function",
        metavar="NAME",
        default=default(None),
        help="the migrations function's name or ARN: send the request to it instead of "
        "connecting to a database",
    )
    remote.add_argument(
        "--env",
        action="append",
        choices=ENVIRONMENTS,
        default=default(None),
        help="the environment whose function to invoke (the runner stack's FunctionName "
        "output, else aurora-migrations-ENV); status takes it several times",
    )
    remote.add_argument(
        "--envs",
        type=_comma_list,
        metavar="ENV,ENV",
        default=default(None),
        help="status: several environments at once, e.g. dev,staging,prod",
    )
    remote.add_argument(
        "--region", default=default(None), help="the AWS region (default: AWS_REGION, profile)"
    )
    remote.add_argument(
        "--profile", default=default(None), help="the AWS profile (default: the environment's)"
    )
    remote.add_argument(
        "--logs",
        action="store_true",
        default=default(False),
        help="also print the tail of the function's log for this invocation (on stderr)",
    )


def _comma_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENVIRONMENTS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give environments among {', '.join(ENVIRONMENTS)}, comma-separated"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=textwrap.fill(
            "Apply Alembic revisions to the Aurora PostgreSQL schema, safely: each revision "
            "once, in its own transaction, under a migration lock. The same engine runs in "
            "the Lambda.",
            DESCRIPTION_WIDTH,
        ),
        epilog="\n\n".join([REV_FORMS, EXIT_CODES, _environment()]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="show program's version number and exit")
    _global_flags(parser, defaults=True)
    common = argparse.ArgumentParser(add_help=False)
    _global_flags(common, defaults=False)
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        action=_LazyCommands,
        parser_class=argparse.ArgumentParser,
    )

    def command(
        name: str, summary: str, description: str, *, rev: bool = False
    ) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            parents=[common],
            help=summary,
            description=textwrap.fill(description, DESCRIPTION_WIDTH),
            epilog="\n\n".join([REV_FORMS, EXIT_CODES] if rev else [EXIT_CODES]),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    up = command(
        "upgrade",
        "apply revisions up to REV (default head)",
        "Apply every revision between the database and REV, oldest first, each in its own "
        "transaction. On a terminal each revision gets a line as it runs.",
        rev=True,
    )
    up.add_argument(
        "revision", nargs="?", default="head", metavar="REV", help="target (default: head)"
    )
    up.add_argument(
        "--snapshot",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="remote mode: take an Aurora cluster snapshot and wait until it is available "
        "before sending the upgrade (default: on for --env prod, off elsewhere; "
        "--no-snapshot to skip it on prod)",
    )
    up.add_argument(
        "--cluster",
        metavar="ID",
        help="the cluster to snapshot (default: the one the environment's database stack names)",
    )
    up.add_argument(
        "--allow-changed",
        action="append",
        metavar="REV",
        help="accept that the applied revision REV's file was edited since (validate's "
        "checksum-mismatch); recorded in the history. Repeat for several",
    )

    down = command(
        "downgrade",
        "revert revisions down to REV (needs --confirm)",
        "Revert revisions, newest first, until the database is at exactly REV. Destructive: "
        "refused unless --confirm names the database's current revision.",
        rev=True,
    )
    down.add_argument("revision", metavar="REV", help="target, e.g. -1, 0017 or base")
    down.add_argument("--confirm", metavar="CURRENT", help=CONFIRM_HELP)

    stamp = command(
        "stamp",
        "record REV as applied without running it (needs --confirm)",
        "Set the recorded version to exactly REV and run nothing, for a database whose schema "
        "was changed by hand. Refused unless --confirm names the current revision.",
        rev=True,
    )
    stamp.add_argument("revision", metavar="REV", help="the revision to record, e.g. 0017")
    stamp.add_argument("--confirm", metavar="CURRENT", help=CONFIRM_HELP)

    sql = command(
        "sql",
        "print the SQL moving to REV would run, without running it",
        "A dry run: the complete SQL that moving the database to REV would run (downgrade "
        "SQL when REV is behind it), with the history-table writes a real run makes, so it "
        "can be reviewed and applied by hand (psql -v ON_ERROR_STOP=1 -f plan.sql). Piped "
        "or with --output, stdout is pure SQL and the summary goes to stderr.",
        rev=True,
    )
    sql.add_argument(
        "revision", nargs="?", default="head", metavar="REV", help="target (default: head)"
    )
    sql.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write the SQL to FILE (replaced if it exists) instead of stdout",
    )

    current = command(
        "current",
        "the database's revision and what is pending",
        "Show the database's current revision(s) and the revisions not yet applied.",
    )
    current.add_argument(
        "--check",
        action="store_true",
        help=f"exit {EXIT_PENDING} if revisions are pending, {EXIT_OK} at head (a CI gate)",
    )
    command(
        "validate",
        "check the revision files against what the database recorded",
        "Report revisions edited after they were applied (checksum mismatch), revisions the "
        "database records but the code lacks, duplicate ids, several heads, and pending "
        "revisions that sort before applied ones. Exit 2 with findings, 0 without.",
    )
    command(
        "drift",
        "compare the live schema with what the revisions create",
        "Compare the live schema with the expected schema at the database's revision (shipped "
        "with the bundle) and report each object added, removed or changed. Exit 2 with "
        "findings, 0 without.",
    )
    baseline = command(
        "baseline",
        "adopt a database built by hand: record REV as applied without running it",
        "Compare the live schema with the expected schema at REV; if they match, record REV as "
        "applied without running anything. Refused, with the differences, if not.",
        rev=True,
    )
    baseline.add_argument("revision", metavar="REV", help="the revision the database matches")
    baseline.add_argument("--confirm", metavar="CURRENT", help=CONFIRM_HELP)
    baseline.add_argument(
        "--force",
        action="store_true",
        help="baseline even if the schema differs; the differences are recorded in the history",
    )
    repair = command(
        "repair",
        "report (and with --confirm clear) what an interrupted run left",
        "Report history rows left running by a dead session, invalid indexes left by a failed "
        "CREATE INDEX CONCURRENTLY, and a version that disagrees with the history. With "
        "--confirm, clear what is safe to clear; never marks a revision applied.",
    )
    repair.add_argument("--confirm", metavar="CURRENT", help=CONFIRM_HELP)
    import_sql = command(
        "import-sql",
        "turn a folder of numbered .sql files into revisions",
        "Turn 001_...sql .. NNN_...sql (with optional .down.sql) into revisions 0001.., one per "
        "file, SQL kept verbatim, and rewire the first Alembic revision onto the last one. "
        "Connects to nothing.",
    )
    import_sql.add_argument("folder", type=Path, metavar="DIR", help="the folder of .sql files")
    history = command(
        "history",
        "every revision, applied (with when) or pending",
        "List every revision of the project, oldest first: applied (and when) or pending.",
    )
    history.add_argument(
        "--offline",
        action="store_true",
        help="list the revisions from the files alone: connects to nothing (and never starts "
        "the dev database), so applied or pending is not shown",
    )
    command(
        "status",
        "each environment's revision, head, pending and health, side by side (remote)",
        "Ask each environment's function for its history, all at once, and show one row per "
        "environment: current revision, head, pending count, last applied and health. "
        "Needs --env (several times) or --envs dev,staging,prod, or --function. Exit 1 if "
        "an environment could not answer.",
    )
    lint = command(
        "lint",
        "find revisions that would block live traffic; needs no database",
        "Render each revision's upgrade as SQL offline and check it (squawk and this "
        "project's own rules). A revision opts out of one rule with lint_ignore and a "
        "reason. Exit 2 while a finding is not opted out.",
    )
    lint.add_argument("revisions", nargs="*", metavar="REV", help="default: every revision")
    lint.add_argument(
        "--format",
        choices=LINT_FORMATS,
        default=None,
        help="text (default), json (also with --json) or markdown (a PR comment)",
    )
    command(
        "heads",
        "the project's head revision(s); needs no database",
        "Show the head revision(s) of the revision files. Connects to nothing.",
    )

    dev = command(
        "devdb",
        "the local development database",
        "Manage the project-local PostgreSQL used when neither DATABASE_URL nor "
        "DB_SECRET_ARN is set.",
    )
    dev.add_argument(
        "action",
        choices=["start", "stop", "url", "reset", "psql"],
        help="start it, stop it, print its URL, reset it to an empty database, or open psql on it",
    )
    dev.add_argument(
        "--show-password", action="store_true", help="url: print the URL with its password"
    )
    dev.add_argument(
        "--libpq", action="store_true", help="url: the postgresql:// form that psql accepts"
    )

    renumber = command(
        "renumber",
        "give a revision the next free number",
        "After two branches each added the same revision number: give the revision in FILE "
        "the next free number and make it revise the other's head. No database.",
    )
    renumber.add_argument("revision", metavar="REV", help="the duplicated revision id")
    renumber.add_argument(
        "--file", type=Path, required=True, help="the revision file that lost the race"
    )

    bundle = command(
        "bundle",
        "build the Lambda deployment folder",
        "Build the folder the Lambda runs from: the runner, the revisions and their "
        "dependencies for the Lambda's architecture and Python.",
    )
    bundle.add_argument(
        "--arch",
        choices=["arm64", "x86_64"],
        default="arm64",
        help="the Lambda's architecture (default: arm64)",
    )
    bundle.add_argument(
        "--python",
        default="3.12",
        dest="python_version",
        metavar="X.Y",
        help="the Lambda's Python version (default: 3.12)",
    )
    bundle.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="the folder to build into"
    )
    bundle.add_argument(
        "--allow-lint-findings",
        action="store_true",
        help="build even though `lint` finds risky DDL no revision opted out of (the manifest "
        "records the findings); without it such a bundle is refused",
    )
    bundle.add_argument(
        "--no-schema",
        dest="expected_schema",
        action="store_false",
        help="skip building the expected schema (needs PostgreSQL binaries); drift and "
        "baseline then have nothing to compare with. The manifest records it",
    )
    command(
        "review",
        "the pull-request review: new revisions, their SQL and findings, as Markdown or JSON",
        "aurora-migrate review --base origin/main [--format markdown|json] [--output FILE] "
        "[--fail-on-findings]: list the revision files the branch adds, each with the SQL of "
        "its upgrade, and the findings of the review, lint and duplicate checks. No database. "
        "See `aurora-migrate review --help`.",
    )
    assert isinstance(sub, _LazyCommands)
    sub.add_lazy(BOOTSTRAP, lambda into: _bootstrap_parser(into, common))
    return parser


def _bootstrap_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    from runner.bootstrap import command_line as bootstrap_cli

    bootstrap_cli.add_parser(sub, common)


class _LazyCommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands whose parser is built only when chosen, or when the help lists them all."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy: dict[str, Callable[[argparse._SubParsersAction], None]] = {}  # type: ignore[type-arg]

    def add_lazy(self, name: str, build: Callable[[argparse._SubParsersAction], None]) -> None:  # type: ignore[type-arg]
        """`name` is a choice now; `build(self)` adds its real parser when it is needed."""
        self.add_parser(name)  # no help line: the real parser adds it
        self._lazy[name] = build

    def build(self, name: str) -> None:
        build = self._lazy.pop(name, None)
        if build is not None:
            del self._name_parser_map[name]
            build(self)

    def build_all(self) -> None:
        for name in list(self._lazy):
            self.build(name)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if isinstance(values, list | tuple) and values:
            self.build(str(values[0]))
        super().__call__(parser, namespace, values, option_string)


class _Parser(argparse.ArgumentParser):
    """The top-level parser: its help lists every command, so it builds the lazy ones first."""

    def format_help(self) -> str:
        for action in self._actions:
            if isinstance(action, _LazyCommands):
                action.build_all()
        return super().format_help()


class _Version(argparse.Action):
    """`--version`: the installed versions are looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> NoReturn:
        formatter = parser._get_formatter()
        formatter.add_text(version_text())
        parser._print_message(formatter.format_help(), sys.stdout)
        parser.exit()


SHOWN_CONFIRM = 80  # characters of a --confirm value repeated back


def confirm_refusal(command: str, expected: str, given: str | None) -> str:
    """A refused confirmation in the CLI's words, local or remote: the flag to type, quoted
    for the shell (the engine and the Lambda say `confirm='0017'`, the event's field)."""
    got = "no --confirm" if given is None else f"--confirm {_shell(given)}"
    return (
        f"{command} is destructive and was refused ({got}). The database is at "
        f"{expected}; to proceed, run it again with --confirm {_shell(expected)}."
    )


def _shell(value: str) -> str:
    import shlex

    return shlex.quote(value if len(value) <= SHOWN_CONFIRM else value[:SHOWN_CONFIRM] + "...")

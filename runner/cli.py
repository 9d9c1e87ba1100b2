"""`aurora-migrate`: the command line, a thin adapter over the same engine as the Lambda.

Arguments become the same event dict the handler receives, go through the same validation,
and the engine's result is printed as a table (or raw JSON with --json). Exit codes:
0 success, 1 a migration or runtime failure, 2 bad usage, a bad request or configuration.
Everything it prints goes through `runner.redact` (only `devdb url --show-password` asks
for a password on purpose); an unexpected exception is `FAILED: InternalError: ...`, with its
traceback, scrubbed, only under --traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from runner import devdb, render
from runner.bootstrap import command_line as bootstrap_cli
from runner.engine import MigrationEngine
from runner.errors import AuroraMigrationsError, BadRequest, ConfigurationError, InternalError
from runner.events import parse_event
from runner.logs import configure_logging
from runner.redact import scrub, scrub_data, scrubbed
from runner.settings import Settings
from runner.sources import credential_source

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aurora-migrate",
        description="Apply Alembic revisions to the Aurora schema, safely. Without "
        "DATABASE_URL or DB_SECRET_ARN it uses the local development database.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the raw result as JSON")
    common.add_argument(
        "-q", "--quiet", action="store_true", help="log only warnings and errors (stderr)"
    )
    common.add_argument(
        "--traceback", action="store_true", help="on an unexpected error, show the traceback"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("upgrade", parents=[common], help="apply revisions up to REV (head)")
    up.add_argument("revision", nargs="?", default="head", metavar="REV")
    down = sub.add_parser("downgrade", parents=[common], help="revert revisions down to REV")
    down.add_argument("revision", metavar="REV")
    down.add_argument("--confirm", metavar="CURRENT", help="the database's current revision")
    stamp = sub.add_parser("stamp", parents=[common], help="set the version without running")
    stamp.add_argument("revision", metavar="REV")
    stamp.add_argument("--confirm", metavar="CURRENT", help="the database's current revision")
    sql = sub.add_parser("sql", parents=[common], help="print the SQL an upgrade/downgrade runs")
    sql.add_argument("revision", nargs="?", default="head", metavar="REV")
    sub.add_parser("current", parents=[common], help="the database's current revision")
    sub.add_parser("history", parents=[common], help="every revision, applied or pending")
    sub.add_parser("heads", parents=[common], help="the head revision(s) of the project")

    dev = sub.add_parser("devdb", parents=[common], help="the local development database")
    dev.add_argument("action", choices=["start", "stop", "url", "reset", "psql"])
    dev.add_argument("--show-password", action="store_true", help="print the URL with its password")
    dev.add_argument("--libpq", action="store_true", help="url: the postgresql:// form psql takes")

    renumber = sub.add_parser("renumber", parents=[common], help="give a revision the next number")
    renumber.add_argument("revision", metavar="REV", help="the duplicated revision id")
    renumber.add_argument("--file", type=Path, required=True, help="the file that lost the race")

    bundle = sub.add_parser("bundle", parents=[common], help="build the Lambda deployment folder")
    bundle.add_argument("--arch", choices=["arm64", "x86_64"], default="arm64")
    bundle.add_argument("--python", default="3.12", dest="python_version", metavar="X.Y")
    bundle.add_argument("--out", type=Path, required=True, metavar="DIR")
    bootstrap_cli.add_parser(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Console(file=scrubbed(sys.stdout), soft_wrap=True)
    err = Console(file=scrubbed(sys.stderr), soft_wrap=True)
    configure_logging(sys.stderr, level="WARNING" if args.quiet else "INFO")
    try:
        if args.command == "devdb":
            return _devdb(args, out)
        if args.command == "bundle":
            return _bundle(args, out)
        if args.command == "renumber":
            return _renumber(args, out)
        if args.command == bootstrap_cli.COMMAND:
            return bootstrap_cli.run(args, out)
        return _migrate(args, out)
    except AuroraMigrationsError as exc:
        return _failed(args, out, err, exc)
    except Exception as exc:
        if args.traceback:
            err.out(scrub("".join(traceback.format_exception(exc))), highlight=False)
        hint = "" if args.traceback else "; run again with --traceback to see where"
        internal = InternalError(
            f"Unexpected {type(exc).__name__}: {exc}. This is a bug in the runner or in a "
            f"revision{hint}."
        )
        return _failed(args, out, err, internal)


def _failed(
    args: argparse.Namespace, out: Console, err: Console, exc: AuroraMigrationsError
) -> int:
    if args.json:
        _print_json(out, exc.to_dict())
    err.print(f"[bold red]FAILED[/]: {type(exc).__name__}: ", end="", markup=True)
    err.out(exc.message, highlight=False)
    return EXIT_USAGE if isinstance(exc, BadRequest | ConfigurationError) else EXIT_FAILED


def _print_json(out: Console, data: dict[str, Any]) -> None:
    out.file.write(json.dumps(scrub_data(data), indent=2) + "\n")


def _migrate(args: argparse.Namespace, out: Console) -> int:
    event: dict[str, Any] = {"command": args.command}
    for name in ("revision", "confirm"):
        value = getattr(args, name, None)
        if value is not None:
            event[name] = value
    request = parse_event(event)
    settings = Settings.from_env()
    engine = MigrationEngine(settings, credential_source(settings, use_devdb=True))
    try:
        result = engine.run(request)
    finally:
        engine.dispose()
    if args.json:
        _print_json(out, result.to_dict())
    else:
        render.result(out, scrub_data(result), database=engine.describe_database())
    return EXIT_OK


def _devdb(args: argparse.Namespace, out: Console) -> int:
    settings = Settings.from_env()
    if args.action == "psql":
        return devdb.psql(settings)
    if args.action == "stop":
        devdb.stop(settings)
        url = None
    elif args.action == "reset":
        url = devdb.reset(settings)
    elif args.action == "start":
        url = devdb.start(settings)
    else:
        url = devdb.running_url(settings)
        if url is None:
            raise ConfigurationError(
                "The development database is not running; start it with "
                "`aurora-migrate devdb start`."
            )
    show = args.show_password
    shown = devdb.shown_url(url, libpq=args.libpq, show_password=show) if url else None
    if args.show_password:  # asked for explicitly: the one output that is not scrubbed
        out = Console(soft_wrap=True)
    if args.json:
        out.file.write(json.dumps({"ok": True, "action": args.action, "url": shown}) + "\n")
    else:
        out.print(shown if shown else "development database stopped", highlight=False)
    return EXIT_OK


def _bundle(args: argparse.Namespace, out: Console) -> int:
    from runner.bundle import build_bundle

    report = build_bundle(args.out, arch=args.arch, python_version=args.python_version)
    data = report.to_dict()
    if args.json:
        _print_json(out, data)
    else:
        render.mapping(out, "bundle", data)
    return EXIT_OK


def _renumber(args: argparse.Namespace, out: Console) -> int:
    from runner.renumber import renumber, script_directory

    done = renumber(script_directory(Settings.from_env()), args.revision, args.file)
    if args.json:
        print(json.dumps(done.to_dict(), indent=2))
    else:
        out.print(
            f"renumbered {done.old_revision} -> {done.new_revision}: {done.new_file} "
            f"(revises {done.down_revision or 'base'})",
            highlight=False,
        )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

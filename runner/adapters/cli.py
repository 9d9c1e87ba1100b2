"""`aurora-migrate`: the command line, a thin adapter over the same engine as the Lambda.

Arguments become the same event dict the handler receives, go through the same validation,
and the engine's result is printed as a table (or raw JSON with --json). On a terminal each
revision gets a live line as it runs (`runner.adapters.live`); log lines are JSON when stderr is not
a terminal (`runner.adapters.cli_logs`). `sql` writes pure SQL to stdout or --output, its summary to
stderr. Exit codes: 0 success, 1 a failure, 2 bad usage, a refused request or configuration,
3 revisions pending (`current --check`). The parser and help live in `runner.adapters.cli_args`.

`heads`, `history --offline` and a no-op `upgrade`/`current` are answered from the cached
revision graph when it is fresh (`runner.adapters.cli_fast`), without Alembic; everything
else, and any doubt, goes to the engine, which then refreshes the cache. Imports are made
where they are used, so a command pays only for what it runs.

Everything it prints goes through `runner.core.redact` (only `devdb url --show-password` asks
for a password on purpose); an unexpected exception is `FAILED: InternalError: ...`, with its
traceback, scrubbed, only under --traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.adapters.cli_args import (
    BOOTSTRAP,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PENDING,
    EXIT_USAGE,
    build_parser,
    confirm_refusal,
)
from runner.core.errors import (
    AuroraMigrationsError,
    BadRequest,
    ConfigurationError,
    ConfirmationRequired,
    InternalError,
    OutputUnwritable,
)

if TYPE_CHECKING:  # imported where used: a no-op pays only for what it runs
    from rich.console import Console

    from runner.adapters import cli_fast
    from runner.adapters.live import LiveReporter
    from runner.core.engine import MigrationEngine
    from runner.core.results import Result

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_PENDING", "EXIT_USAGE", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["review"]:  # the pull-request review has its own options (runner.review)
        from runner.review.__main__ import main as review

        return review(given[1:])
    args = build_parser().parse_args(given)
    from runner.adapters import cli_logs
    from runner.core.redact import scrub, scrubbed

    human = cli_logs.human_format(args.log_format, sys.stderr.isatty())
    answer = None if human else _plain_answer(args)
    if isinstance(answer, int):
        return answer
    from rich.console import Console

    out = Console(file=scrubbed(sys.stdout), soft_wrap=True)
    err = Console(file=scrubbed(sys.stderr), soft_wrap=True)
    cli_logs.setup(err, human=human, quiet=args.quiet, verbose=args.verbose)
    try:
        answered = _answer_fast(args, out, err, answer)
        if answered is not None:
            return answered
        from runner.adapters import cli_remote

        cli_remote.refuse_stray_flags(args)
        if cli_remote.wanted(args):
            return _remote(args, out, err)
        if args.command == "lint":
            return _lint(args, out)
        if args.command == "devdb":
            return _devdb(args, out)
        if args.command == "bundle":
            return _bundle(args, out)
        if args.command == "renumber":
            return _renumber(args, out)
        if args.command == "import-sql":
            return _import_sql(args, out)
        if args.command == BOOTSTRAP:
            from runner.bootstrap import command_line as bootstrap_cli

            return bootstrap_cli.run(args, out)
        from runner.adapters.live import LiveReporter

        return _migrate(args, out, err, LiveReporter(err, show=human and not args.quiet))
    except AuroraMigrationsError as exc:
        return _failed(args, out, err, exc)
    except Exception as exc:
        if args.traceback:
            import traceback

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
    from runner.adapters import render

    log_tail = exc.details.pop("log_tail", None)
    if args.json:
        _print_json(out, {**exc.to_dict(), **({"log_tail": log_tail} if log_tail else {})})
    elif log_tail:
        render.log_tail(err, log_tail)
    err.print("[bold red]FAILED[/]: ", end="", markup=True)
    err.out(f"{type(exc).__name__}: {exc.message}", highlight=False)
    return EXIT_USAGE if isinstance(exc, BadRequest | ConfigurationError) else EXIT_FAILED


def _print_json(out: Console, data: dict[str, Any]) -> None:
    from runner.core.redact import scrub_data

    out.file.write(json.dumps(scrub_data(data), indent=2) + "\n")


# --- the engine's commands ---------------------------------------------------------------------


def _import_sql(args: argparse.Namespace, out: Console) -> int:
    from runner.core.settings import Settings
    from runner.integrity.import_sql import import_folder

    versions = Settings.from_env().alembic_ini.parent / "alembic" / "versions"
    written = import_folder(args.folder, versions)
    if args.json:
        _print_json(
            out, {"ok": True, "command": "import-sql", "written": [str(p) for p in written]}
        )
    else:
        for path in written:
            out.print(f"wrote {path}", highlight=False)
    return EXIT_OK


def _event(args: argparse.Namespace) -> dict[str, Any]:
    """The Lambda event for the command line: the same one in local and in remote mode."""
    event: dict[str, Any] = {"command": args.command}
    for name in ("revision", "confirm"):
        value = getattr(args, name, None)
        if value is not None:
            event[name] = value
    if getattr(args, "allow_changed", None):
        event["allow_changed"] = list(args.allow_changed)
    if getattr(args, "force", False):
        event["force"] = True
    return event


def _answer_fast(
    args: argparse.Namespace, out: Console, err: Console, answer: cli_fast.Answer | None
) -> int | None:
    """`heads`, `history --offline` and a no-op `upgrade`/`current` from the cached revision
    graph, without Alembic (`runner.adapters.cli_fast`); None: the engine answers. `answer`
    is one `_plain_answer` found but could not print without rich."""
    from runner.adapters import cli_fast

    if answer is None:
        if not cli_fast.eligible(args):
            return None
        from runner.core.settings import Settings

        answer = cli_fast.answer(args, _event(args), Settings.from_env())
        if answer is None:
            return None
    answer.log()
    return _report(args, out, err, answer.result, database=answer.database, known=answer.known)


class _PlainStream:
    """What `cli_logs.setup` and `_print_json` need of a console: the (scrubbed) stream."""

    def __init__(self, file: Any) -> None:
        self.file = file


def _plain_answer(args: argparse.Namespace) -> int | cli_fast.Answer | None:
    """heads and a no-op, printed without importing rich when neither stream is a terminal
    (JSON log lines): the exit code; or the answer, for the caller to print with rich; or
    None. Any error is left to the full path, which reports it (nothing was written)."""
    from runner.adapters import cli_fast

    if args.command not in ("heads", "upgrade", "current") or not cli_fast.eligible(args):
        return None
    if not cli_fast.plain_streams():
        return None
    from runner.adapters import cli_logs
    from runner.core.redact import scrub_data, scrubbed
    from runner.core.settings import Settings

    out, err = _PlainStream(scrubbed(sys.stdout)), _PlainStream(scrubbed(sys.stderr))
    cli_logs.setup(err, human=False, quiet=args.quiet, verbose=args.verbose)
    try:
        answer = cli_fast.answer(args, _event(args), Settings.from_env())
    except AuroraMigrationsError:
        return None
    if answer is None or answer.result.pending:
        return answer
    shown = scrub_data(answer.result)
    text = None if args.json else cli_fast.plain_summary(shown, answer.database)
    if not args.json and text is None:
        return answer
    answer.log()
    if args.json:
        out.file.write(json.dumps(scrub_data(answer.result.to_dict()), indent=2) + "\n")
    else:
        out.file.write(text or "")
    return EXIT_OK


def _migrate(args: argparse.Namespace, out: Console, err: Console, live: LiveReporter) -> int:
    from runner.adapters import render
    from runner.adapters.events import parse_event
    from runner.core import graph_cache
    from runner.core.engine import MigrationEngine
    from runner.core.settings import Settings
    from runner.core.sources import credential_source

    request = parse_event(_event(args))
    settings = Settings.from_env()
    files = graph_cache.snapshot(settings.alembic_ini)  # before Alembic reads them
    engine = MigrationEngine(settings, credential_source(settings, use_devdb=True))
    if getattr(args, "offline", False):  # history --offline: no connection, no dev database
        result = engine.offline_history()
        graph_cache.refresh(files, engine.script)
        return _report(args, out, err, result, database="(offline)", known=False)
    try:
        with live:
            result = engine.run(request, progress=live)
    except ConfirmationRequired as exc:
        raise _in_cli_words(exc, request.command) from None
    except AuroraMigrationsError as exc:
        applied = exc.details.get("applied")
        if applied and not args.json:
            render.applied_before_failure(
                out, request.command, applied, live.finished, _describer(engine)
            )
        raise
    finally:
        engine.dispose()
    if request.command != "validate":  # validate reports duplicate ids instead of refusing
        graph_cache.refresh(files, engine.script)
    return _report(args, out, err, result, database=engine.describe_database())


def _report(
    args: argparse.Namespace,
    out: Console,
    err: Console,
    result: Result,
    *,
    database: str,
    raw: dict[str, Any] | None = None,
    known: bool = True,
) -> int:
    """Print the result; `raw` is what --json prints instead of the result (remote mode).
    `known=False`: the database was not read (history --offline)."""
    from runner.adapters import render
    from runner.core.redact import scrub_data
    from runner.core.results import REPORTING

    shown = scrub_data(result)
    output: Path | None = getattr(args, "output", None)
    if output is not None:  # sql --output: the file gets the SQL, --json or not
        _write(output, shown.sql or render.NOTHING_TO_RUN)
    if args.json:
        _print_json(out, raw if raw is not None else result.to_dict())
    elif result.command == "sql":  # stdout is the SQL alone; the summary goes to stderr
        if output is None:
            render.sql(out, shown.sql or "")
        render.result(err, shown, database=database)
        if output is not None:
            err.print(f"SQL written to {output}", highlight=False, markup=False)
    else:
        render.result(out, shown, database=database, known=known)
        render.findings(out, shown.findings or [])
    if result.command in REPORTING and result.findings:
        return EXIT_USAGE  # validate, drift, repair: findings exit 2, as documented
    if getattr(args, "check", False) and result.pending:
        err.print(
            f"{len(result.pending)} revision(s) pending: {', '.join(result.pending)}",
            highlight=False,
        )
        return EXIT_PENDING
    return EXIT_OK


def _write(path: Path, text: str) -> None:
    """Write the whole file or nothing: a half-written plan is a wrong plan."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise OutputUnwritable(
            f"Could not write the SQL to {path}: {exc.strerror or exc}. Nothing was run; "
            "choose a path in a folder that exists and is writable, and run again.",
            path=str(path),
        ) from None


def _in_cli_words(exc: ConfirmationRequired, command: str) -> ConfirmationRequired:
    """The engine says `confirm='0017'` (the Lambda's field); here it is a flag."""
    expected = exc.details.get("expected")
    if not isinstance(expected, str):
        return exc
    given = exc.details.get("given")
    return ConfirmationRequired(
        confirm_refusal(command, expected, given) + " Nothing was changed.",
        **exc.details,
    )


def _describer(engine: MigrationEngine) -> Callable[[str], str]:
    def describe(revision: str) -> str:
        script = engine.script.get_revision(revision)
        return script.doc if script is not None else ""

    return describe


# --- remote mode: the same requests, in the deployed function ----------------------------------


def _remote(args: argparse.Namespace, out: Console, err: Console) -> int:
    from dataclasses import asdict

    from runner.adapters import cli_remote, render
    from runner.adapters.events import parse_event

    if args.command == "status":
        rows = cli_remote.status(cli_remote.Remote.open(args), args)
        if args.json:
            _print_json(out, render.status_data(rows))
        else:
            render.status(out, rows)
        return EXIT_OK if all(row.healthy for row in rows) else EXIT_FAILED
    request = parse_event(_event(args))  # a bad request is refused here, before anything is sent
    remote = cli_remote.Remote.open(args)
    target = remote.target(args)
    talk = not (args.quiet or args.json)

    def on_snapshot(cluster: str) -> None:
        if talk:
            err.print(f"snapshotting {cluster}, waiting until it is available...", highlight=False)

    try:
        done = cli_remote.run(remote, args, target, request, on_snapshot=on_snapshot)
    except ConfirmationRequired as exc:
        raise _in_cli_words(exc, request.command) from None
    except AuroraMigrationsError as exc:
        applied = exc.details.get("applied")
        if applied and isinstance(applied, list) and not args.json:
            render.applied_before_failure(out, request.command, applied, [], lambda _: "")
        raise
    outcome = done.outcome
    raw = dict(outcome.payload)
    if done.snapshot is not None:
        raw["snapshot"] = asdict(done.snapshot)
        if talk:
            err.print(
                f"snapshot {done.snapshot.identifier} of {done.snapshot.cluster} is available",
                highlight=False,
            )
    if outcome.log_tail:
        if args.json:
            raw["log_tail"] = outcome.log_tail
        else:
            render.log_tail(err, outcome.log_tail)
    if talk:
        err.print(
            f"invoked {target.name} once ({target.source}), request id {outcome.request_id}",
            highlight=False,
        )
    return _report(args, out, err, outcome.result, database=render.function(target), raw=raw)


# --- commands beside the engine ---------------------------------------------------------------


def _lint(args: argparse.Namespace, out: Console) -> int:
    from runner.core.settings import Settings
    from runner.lint import blocking, lint, report

    findings = lint(Settings.from_env().alembic_ini, args.revisions or None)
    style = args.format or ("json" if args.json else "text")
    text = (
        report.as_json(findings) + "\n"
        if style == "json"
        else (report.markdown(findings) if style == "markdown" else report.text(findings))
    )
    out.file.write(text)
    return EXIT_USAGE if blocking(findings) else EXIT_OK


def _devdb(args: argparse.Namespace, out: Console) -> int:
    from rich.console import Console

    from runner.core.settings import Settings
    from runner.local import devdb

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
    from runner.adapters import render
    from runner.bundle.build import build_bundle

    report = build_bundle(
        args.out,
        arch=args.arch,
        python_version=args.python_version,
        expected_schema=args.expected_schema,
        allow_lint_findings=args.allow_lint_findings,
    )
    data = report.to_dict()
    if args.json:
        _print_json(out, data)
    else:
        render.mapping(out, "bundle", data)
    return EXIT_OK


def _renumber(args: argparse.Namespace, out: Console) -> int:
    from runner.authoring.renumber import renumber, script_directory
    from runner.core.settings import Settings

    done = renumber(script_directory(Settings.from_env()), args.revision, args.file)
    if args.json:
        _print_json(out, done.to_dict())
    else:
        out.print(
            f"renumbered {done.old_revision} -> {done.new_revision}: {done.new_file} "
            f"(revises {done.down_revision or 'base'})",
            highlight=False,
        )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

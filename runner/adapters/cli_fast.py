"""The CLI's answers from the cached revision graph: no Alembic, and no engine.

`heads` and `history --offline` need only the graph; a no-op `upgrade` or `current` needs the
graph and one query (`runner.core.fastpath.try_fast`, the Lambda's own fast path, given the
cached graph as its manifest). Each answer is the engine's `Result` for the same request, and
`run.start`/`run.finish` are logged with the engine's fields (plus `fast_path`), so the CLI
prints what the engine's path prints. No lock is taken, so no lock events are logged.

Anything this cannot answer exactly returns None and the engine runs: a stale or missing cache,
the database not exactly at head (or any error reading it), remote mode and its flags,
`--allow-changed`, `-v` (the engine's informational lines), credentials from AWS or the dev
database for the no-op (only DATABASE_URL, as the Lambda's fast path assumes one connection
is cheap), and every other command.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass
from typing import Any

from runner.core.results import Result
from runner.core.settings import Settings

GRAPH_ONLY = frozenset({"heads"})
NO_OP = frozenset({"upgrade", "current"})
# Flags only remote mode (or the engine) can honour: given, the engine path handles them.
REMOTE_FLAGS = ("function", "env", "envs", "region", "profile", "logs", "snapshot", "cluster")


@dataclass(frozen=True)
class Answer:
    """The result to print, the database as the summary names it, and whether it was read."""

    result: Result
    database: str
    known: bool = True
    revision: str | None = None  # the request's, for the run.start line

    def log(self) -> None:
        """The engine's `run.start` and `run.finish`, marked `fast_path` as the Lambda marks
        them; nothing for `history --offline`, which the engine does not log either."""
        if self.known:
            from runner.core.fastpath import log_answer

            log_answer(
                self.result.command,
                self.revision,
                self.result,
                self.result.duration_ms or 0,
                database=self.database,
            )


def eligible(args: argparse.Namespace) -> bool:
    """Whether the command line could be answered here at all (cheap: no file is read)."""
    offline_history = args.command == "history" and getattr(args, "offline", False)
    if args.command not in GRAPH_ONLY | NO_OP and not offline_history:
        return False
    if getattr(args, "verbose", False) or getattr(args, "allow_changed", None):
        return False
    return not any(getattr(args, name, None) for name in REMOTE_FLAGS)


def answer(args: argparse.Namespace, event: dict[str, Any], settings: Settings) -> Answer | None:
    """The engine's answer for `args`, from a fresh cache; None when the engine must run."""
    from runner.core import graph_cache

    if settings.secret_arn or settings.iam_auth:
        return None  # naming the database would read the secret: the engine's business
    if args.command in NO_OP and not settings.database_url:
        return None
    graph = graph_cache.load(settings.alembic_ini)
    if graph is None:
        return None
    from runner.adapters.events import parse_event
    from runner.core.sources import credential_source

    request = parse_event(event)  # a bad request is refused exactly as the engine path does
    source = credential_source(settings, use_devdb=True)
    if args.command == "history":
        return Answer(_offline_history(graph), "(offline)", known=False)
    started = time.monotonic()
    if args.command == "heads":
        heads = list(graph.heads)
        result: Result | None = Result(
            command="heads", heads=heads, message=f"{len(heads)} head(s)"
        )
    else:
        result = _no_op(request, settings, source, graph)
    if result is None:
        return None
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return Answer(result, describe(source), revision=request.revision)


def describe(source: Any) -> str:
    """The database as the engine names it (`redact.safe_url(source.url())`), from the
    source's SQLAlchemy-free `target()` when it has one: the same text, without SQLAlchemy."""
    target = getattr(source, "target", None)
    url = target() if callable(target) else source.url()
    return safe_url_text(url)


def safe_url_text(url: Any) -> str:
    """`redact.safe_url` for any object with a URL's parts; SQLAlchemy's rendering, mirrored."""
    from urllib.parse import quote, quote_plus

    from runner.core.redact import MASK, is_secret_param

    masked = [k for k in url.query if is_secret_param(k)]
    text: str = url.drivername + "://"
    if url.username is not None:
        text += quote(url.username, safe=" +")
        if url.password is not None:
            text += ":" + MASK
        text += "@"
    if url.host is not None:
        text += f"[{url.host}]" if ":" in url.host else url.host
    if url.port is not None:
        text += ":" + str(url.port)
    if url.database is not None:
        text += "/" + quote(url.database, safe=" +/")
    shown = sorted(k for k in url.query if k not in masked)
    if shown:
        text += "?" + "&".join(
            f"{quote_plus(k)}={quote_plus(value)}" for k in shown for value in _values(url.query[k])
        )
    if masked:
        text += ("&" if shown else "?") + "&".join(f"{k}={MASK}" for k in masked)
    return text


def _values(value: Any) -> list[str]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _heads(graph: Any) -> Result:
    """`MigrationEngine._heads`, from the cache."""
    heads = list(graph.heads)
    return Result(command="heads", heads=heads, message=f"{len(heads)} head(s)")


def _no_op(request: Any, settings: Settings, source: Any, graph: Any) -> Result | None:
    from runner.core import fastpath

    try:
        return fastpath.try_fast(request, settings, lambda: source, manifest=graph.manifest())
    finally:
        fastpath.reset()  # one command per process: keep no connection, source or manifest


def _offline_history(graph: Any) -> Result:
    """`MigrationEngine.offline_history`, from the cache: every revision, state unknown."""
    from runner.core.results import RevisionInfo

    heads = set(graph.heads)
    return Result(
        command="history",
        heads=list(graph.heads),
        revisions=[
            RevisionInfo(
                revision=r.revision,
                down_revision=list(r.down_revisions),
                description=r.doc,
                applied=None,
                is_head=r.revision in heads,
            )
            for r in graph.revisions
        ],
        message="From the revision files alone (offline): applied or pending is not known.",
    )


# rich's emoji code pattern (`rich._emoji_replace`): a `:name:` it may replace.
_EMOJI_CODE = re.compile(r"(:(\S*?)(?:(?:\-)(emoji|text))?:)")
_NEVER_IN_EMOJI_NAMES = frozenset("/@*.?=%&#")


def plain_summary(result: Result, database: str) -> str | None:
    """What `render.result` prints for heads or a no-op on a stream that is no terminal, as
    plain text (rich costs a tenth of a no-op's time); None when rich could print anything
    else: markup, an emoji code, a control character, or a table."""
    from runner.core.results import state_label

    lines = [f"{result.command} on {database}"]
    if result.command == "heads":
        lines.append(f"heads: {state_label(result.heads)}")
    else:
        if result.revisions is not None or result.applied or result.pending:
            return None
        if not result.complete:
            return None
        moved = f"{state_label(result.before)} -> " if result.before != result.after else ""
        lines.append(f"database: {moved}{state_label(result.after)}")
        if result.message:
            lines.append(result.message)
        lines.append(f"took {result.duration_ms} ms")
    text = "\n".join(lines)
    if "[" in text or any((ord(c) < 32 and c != "\n") or ord(c) == 127 for c in text):
        return None
    for code in _EMOJI_CODE.finditer(text):
        if not _NEVER_IN_EMOJI_NAMES & set(code.group(2)):
            return None
    return text + "\n"


def plain_streams() -> bool:
    """Whether rich would write stdout as plain text: not a terminal, nothing forcing one."""
    import os
    import sys

    forced = any(os.environ.get(v) for v in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"))
    return not forced and not sys.stdout.isatty()

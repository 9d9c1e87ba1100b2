"""Render one revision's upgrade as SQL offline, remembering which line of the revision file
emitted each statement.

It reuses `runner.core.offline_sql.render` (what `aurora-migrate sql` runs, and the review) on
a plan of exactly one step, from the revision's parents, without the run-history writes. The
output buffer looks up the call stack on every statement Alembic writes: the innermost frame in
the revision file is the `op.*` call that emitted it. Statements with no such frame are
Alembic's own (`alembic_version`, and the BEGIN/COMMIT around the revision), which are kept for
squawk's transaction tracking but never reported.
"""

from __future__ import annotations

import inspect
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.script import Script, ScriptDirectory

from runner.core import offline_sql, revisions
from runner.core.alembic_internals import down_revisions

SAFE_DDL = os.path.realpath(Path(__file__).resolve().parent.parent / "authoring" / "safe_ddl.py")
# Alembic's own bookkeeping, not the revision's.
_VERSION_TABLE = re.compile(r"\balembic_version\b")
# A squawk-ignore comment is honoured only from runner.authoring.safe_ddl, which emits it where
# it made the statement safe; a revision opts out with `lint_ignore` and a reason instead.
_SQUAWK_IGNORE = re.compile(r"squawk-ignore", re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    """One statement Alembic wrote; `line` is its 0-based first line in the rendered SQL."""

    text: str
    line: int
    source_line: int | None  # the revision file's line that emitted it, if it did


@dataclass(frozen=True)
class Rendered:
    sql: str
    statements: list[Statement]

    def source_line(self, sql_line: int) -> int | None:
        """The revision file line behind a 0-based SQL line (the statement that contains it)."""
        found = None
        for statement in self.statements:
            if statement.line > sql_line:
                break
            found = statement.source_line
        return found


class _Recorder(io.StringIO):
    """An output buffer that keeps each write apart, with the revision line that made it."""

    def __init__(self, revision_file: str) -> None:
        super().__init__()
        self.revision_file = revision_file
        self.writes: list[tuple[str, int | None]] = []

    def write(self, s: str) -> int:
        line, via_safe_ddl = self._caller()
        if not via_safe_ddl:
            s = _SQUAWK_IGNORE.sub("opt-out-refused", s)
        self.writes.append((s, line))
        return super().write(s)

    def _caller(self) -> tuple[int | None, bool]:
        frame = inspect.currentframe()
        line, via_safe_ddl = None, False
        while frame is not None:
            name = os.path.realpath(frame.f_code.co_filename)
            if name == SAFE_DDL:
                via_safe_ddl = True
            if name == self.revision_file:
                line = frame.f_lineno
                break
            frame = frame.f_back
        return line, via_safe_ddl


def render_upgrade(
    script: ScriptDirectory, sc: Script, *, ini: str | None, script_location: str
) -> Rendered:
    """The SQL of `sc`'s upgrade alone. Raises `OfflineSqlUnavailable` when it cannot render."""
    recorder = _Recorder(os.path.realpath(sc.path))
    config = Config(ini, output_buffer=recorder, stdout=io.StringIO())
    config.set_main_option("script_location", script_location.replace("%", "%%"))
    config.attributes["managed_by_runner"] = True
    parents = list(down_revisions(sc))
    plan = revisions.plan(script, "up", sc.revision, parents)
    offline_sql.render(config, script, plan, parents, run_id="lint", history=False)
    statements, line = [], 0
    for text, source_line in recorder.writes:
        if source_line is None and _VERSION_TABLE.search(text):
            continue  # bookkeeping (the version row), not the revision's
        statements.append(Statement(text, line, source_line))
        line += text.count("\n")
    return Rendered("".join(s.text for s in statements), statements)

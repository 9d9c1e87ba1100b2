"""Readable tables for the CLI: the reporter step after the engine's plain result.

`result` is the summary of a command (for `sql`, everything but the SQL itself, which
`sql` prints: pure and whole, highlighted only on a terminal). `applied_before_failure` is
what a failed run leaves behind, as the database recorded it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from runner.core import findings_report
from runner.core.results import Result, state_label

if TYPE_CHECKING:  # remote mode's types: importing them would import botocore
    from runner.adapters.remote.resolve import FunctionTarget
    from runner.adapters.remote.status import EnvironmentStatus
    from runner.core.findings import Finding
    from runner.core.progress import Progress

NOTHING_TO_RUN = "-- nothing to run\n"
UNKNOWN = "unknown"  # history --offline: applied or pending, the files alone cannot tell


def result(console: Console, res: Result, *, database: str, known: bool = True) -> None:
    """The summary; `known=False` when the database was not read (history --offline): its
    state and each revision's status are then shown as unknown, not as base and pending."""
    console.print(f"[bold]{res.command}[/] on {database}", highlight=False)
    if res.command == "heads":
        console.print(f"heads: {state_label(res.heads)}", highlight=False)
        return
    if known:
        moved = f"{state_label(res.before)} -> " if res.before != res.after else ""
        console.print(f"database: {moved}{state_label(res.after)}", highlight=False)
    else:
        console.print(f"database: {UNKNOWN} (not read)", highlight=False)
    if res.revisions is not None:
        from rich.table import Table  # not for a summary without tables (heads, a no-op)

        table = Table("revision", "description", "status", "head", "applied at")
        for info in res.revisions:
            status = "[green]applied[/]" if info.applied else "[yellow]pending[/]"
            if not known:
                status = f"[dim]{UNKNOWN}[/]"
            table.add_row(
                info.revision,
                info.description,
                status,
                "yes" if info.is_head else "",
                info.applied_at or "",
            )
        console.print(table)
    if res.applied:
        from rich.table import Table

        table = Table("revision", "description", "direction", "ms")
        for item in res.applied:
            table.add_row(item.revision, item.description, item.direction, str(item.duration_ms))
        console.print(table)
    if res.pending:
        console.print(f"pending: {', '.join(res.pending)}", highlight=False)
    if not res.complete:
        console.print("[bold yellow]incomplete[/]: run the command again to continue")
    if res.message:
        console.print(res.message, highlight=False)
    console.print(f"took {res.duration_ms} ms", highlight=False)


def mapping(console: Console, title: str, data: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("key", "value", title=title)
    for key, value in data.items():
        table.add_row(str(key), str(value))
    console.print(table)


def sql(console: Console, text: str) -> None:
    """The SQL, verbatim: a cropped or re-wrapped statement is a wrong statement."""
    text = text or NOTHING_TO_RUN
    if not console.is_terminal:
        console.file.write(text)
        return
    from rich.syntax import Syntax

    highlighted = Syntax(text, "sql", theme="ansi_dark", background_color="default")
    console.print(highlighted.highlight(text), soft_wrap=True, end="")


_DONE = {"upgrade": "applied", "downgrade": "reverted", "stamp": "stamped"}


def applied_before_failure(
    console: Console,
    command: str,
    applied: Sequence[str],
    seen: Sequence[Progress],
    describe: Callable[[str], str],
) -> None:
    """The revisions the database says this run moved before it failed; they stay moved.

    `seen` is what the live progress heard of them; `describe(revision)` names any other.
    """
    from rich.table import Table

    if not applied:
        return
    done = _DONE.get(command, "applied")
    by_revision = {step.revision: step for step in seen}
    table = Table(
        "revision",
        "description",
        "direction",
        "ms",
        title=f"{done} before the failure ({len(applied)}): these stay {done}",
        title_justify="left",
    )
    for revision in applied:
        step = by_revision.get(revision)
        if step is None:
            table.add_row(revision, Text(describe(revision)), "", "")
        else:
            table.add_row(
                revision, Text(step.description or ""), step.direction, str(step.duration_ms)
            )
    console.print(table)


def function(target: FunctionTarget) -> str:
    """Where a remote command ran, as the summary's first line says it."""
    where = f" ({target.environment})" if target.environment else ""
    return f"function {target.name}{where}"


def log_tail(console: Console, text: str) -> None:
    """The function's log for this invocation, verbatim (already scrubbed)."""
    console.print("--- function log (tail) ---", highlight=False, markup=False)
    console.out(text.rstrip("\n"), highlight=False)
    console.print("--- end of function log ---", highlight=False, markup=False)


STATUS_COLUMNS = (
    "environment",
    "current",
    "head",
    "pending",
    "last applied",
    "drift",
    "health",
)


def status_data(rows: Sequence[EnvironmentStatus]) -> dict[str, Any]:
    """`status --json`: the rows as plain data, and whether every environment answered."""
    return {
        "ok": all(row.healthy for row in rows),
        "environments": [
            {**asdict(row), "pending_count": row.pending_count, "up_to_date": row.up_to_date}
            for row in rows
        ],
    }


def status(console: Console, rows: Sequence[EnvironmentStatus]) -> None:
    """One row per environment, side by side; a table on a terminal, plain columns piped."""
    from rich.table import Table

    cells = [_status_cells(row) for row in rows]
    if console.is_terminal:
        table = Table(*STATUS_COLUMNS)
        for row, line in zip(rows, cells, strict=True):
            health = "[green]healthy[/]" if row.healthy else "[bold red]unhealthy[/]"
            table.add_row(*[Text(cell) for cell in line[:-1]], health)
        console.print(table)
    else:
        columns = len(STATUS_COLUMNS)
        widths = [max(len(c[i]) for c in [list(STATUS_COLUMNS), *cells]) for i in range(columns)]
        for line in [list(STATUS_COLUMNS), *cells]:
            text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            console.file.write(text.rstrip() + "\n")
    for row in rows:
        if not row.healthy:
            console.print(
                f"{row.environment}: {row.error_type}: {row.problem}", highlight=False, markup=False
            )


def _status_cells(row: EnvironmentStatus) -> list[str]:
    if not row.healthy:
        return [row.environment, "?", "?", "?", "?", "?", "unhealthy"]
    last = row.last_applied
    applied = "-"
    if last is not None:
        applied = " ".join(
            part
            for part in (
                last.revision,
                last.applied_at or "",
                f"by {last.applied_by}" if last.applied_by else "",
                f"in {last.duration_ms} ms" if last.duration_ms is not None else "",
            )
            if part
        )
    return [
        row.environment,
        state_label(row.current) if row.current else "base",
        ", ".join(row.heads) or "-",
        str(row.pending_count),
        applied,
        "?" if row.drift_count is None else str(row.drift_count),
        "healthy",
    ]


def findings(console: Console, found: Sequence[Finding]) -> None:
    """validate, drift, repair: one line per finding, its stable id first, then what to do."""
    for finding in found:
        console.print(findings_report.line(finding), highlight=False, markup=False)

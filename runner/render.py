"""Readable tables for the CLI: the reporter step after the engine's plain result."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from runner.results import Result, state_label


def result(console: Console, res: Result, *, database: str) -> None:
    console.print(f"[bold]{res.command}[/] on {database}", highlight=False)
    if res.command == "heads":
        console.print(f"heads: {state_label(res.heads)}", highlight=False)
        return
    moved = f"{state_label(res.before)} -> " if res.before != res.after else ""
    console.print(f"database: {moved}{state_label(res.after)}", highlight=False)
    if res.revisions is not None:
        table = Table("revision", "description", "status", "head", "applied at")
        for info in res.revisions:
            status = "[green]applied[/]" if info.applied else "[yellow]pending[/]"
            table.add_row(
                info.revision,
                info.description,
                status,
                "yes" if info.is_head else "",
                info.applied_at or "",
            )
        console.print(table)
    if res.applied:
        table = Table("revision", "description", "direction", "ms")
        for item in res.applied:
            table.add_row(item.revision, item.description, item.direction, str(item.duration_ms))
        console.print(table)
    if res.sql is not None:  # verbatim: a cropped or re-wrapped statement is a wrong statement
        console.out(res.sql or "-- nothing to run\n", highlight=False, end="")
    if res.pending:
        console.print(f"pending: {', '.join(res.pending)}", highlight=False)
    if not res.complete:
        console.print("[bold yellow]incomplete[/]: run the command again to continue")
    if res.message:
        console.print(res.message, highlight=False)
    console.print(f"took {res.duration_ms} ms", highlight=False)


def mapping(console: Console, title: str, data: dict[str, Any]) -> None:
    table = Table("key", "value", title=title)
    for key, value in data.items():
        table.add_row(str(key), str(value))
    console.print(table)

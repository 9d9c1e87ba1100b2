"""The one reporter for findings: text for a terminal, JSON for tools and the function's result,
Markdown for a pull-request comment.

Each output keeps the shape its readers already know: the keys of its JSON, the columns of its
table. Those shapes are data here, side by side, built from the same few pieces (`where`,
`status`, `cell`), so a finding is worded once whichever command shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from runner.core.findings import Finding

# JSON: the keys of one finding, in order, per output. Lint's JSON names the id `rule`.
RESULT_KEYS = ("id", "message", "fix", "revision", "file", "line", "object")  # the engine's
REVIEW_KEYS = ("id", "message", "fix", "revision", "file", "line", "source")
LINT_KEYS = ("rule", "revision", "file", "line", "message", "fix", "source", "ignored")
_ATTRIBUTE = {"rule": "id"}

Column = tuple[str, Callable[[Finding], str]]


def as_dict(finding: Finding, keys: Sequence[str] = RESULT_KEYS) -> dict[str, Any]:
    """One finding as JSON data, with the keys (and their order) of one output."""
    return {key: getattr(finding, _ATTRIBUTE.get(key, key)) for key in keys}


def where(finding: Finding) -> str:
    """`file:line`, the file alone, or nothing."""
    if not finding.file:
        return ""
    return f"{finding.file}:{finding.line}" if finding.line else finding.file


def status(finding: Finding, *, to_fix: str = "error") -> str:
    """`opted out: <reason>` for a finding its revision opted out of, else `to_fix`."""
    return f"opted out: {finding.ignored}" if finding.ignored else to_fix


# --- text -------------------------------------------------------------------------------------


def line(finding: Finding) -> str:
    """validate, drift, repair: one line, the stable id first, then what to do."""
    about = " ".join(x for x in (finding.revision, finding.object) if x)
    return f"{finding.id}{f' [{about}]' if about else ''}: {finding.message} Fix: {finding.fix}"


def block(finding: Finding) -> str:
    """lint: where and which rule, then the problem and the fix, indented."""
    return (
        f"{where(finding)}: revision {finding.revision}: {finding.id} ({status(finding)})\n"
        f"    {finding.message}\n"
        f"    fix: {finding.fix}"
    )


# --- Markdown ---------------------------------------------------------------------------------


def cell(text: str) -> str:
    """Text for one table cell or line: no line breaks, no column breaks, no raw HTML."""
    flat = " ".join(str(text).split())
    return flat.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """Text as inline code in a cell: a backtick inside would end it, so it becomes a quote."""
    quoted = cell(text).replace("`", "'")
    return f"`{quoted}`"


REVIEW_COLUMNS: tuple[Column, ...] = (
    ("finding", lambda f: f"{code(f.id)} ({cell(f.source or '')})"),
    ("revision", lambda f: cell(f.revision or "")),
    ("where", lambda f: cell(where(f))),
    ("problem", lambda f: cell(f.message)),
    ("fix", lambda f: cell(f.fix)),
)
LINT_COLUMNS: tuple[Column, ...] = (
    ("revision", lambda f: cell(f.revision or "")),
    ("where", lambda f: code(where(f))),
    ("rule", lambda f: code(f.id)),
    ("status", lambda f: cell(status(f, to_fix="**to fix**"))),
    ("problem", lambda f: cell(f.message)),
    ("fix", lambda f: cell(f.fix)),
)


def table(findings: Sequence[Finding], columns: Sequence[Column]) -> str:
    """A Markdown table, one row per finding (no trailing newline)."""
    rows = [
        "| " + " | ".join(title for title, _ in columns) + " |",
        "| --- " * len(columns) + "|",
    ]
    rows += ["| " + " | ".join(show(f) for _, show in columns) + " |" for f in findings]
    return "\n".join(rows)

"""Reporters: the same findings as text (terminal), JSON (tools) and Markdown (PR comment)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from runner.lint.findings import Finding, blocking


def summary(findings: Sequence[Finding]) -> str:
    failing = len(blocking(findings))
    opted_out = len(findings) - failing
    if not findings:
        return "No lint findings."
    return f"{failing} lint finding(s) to fix, {opted_out} opted out with a reason."


def text(findings: Sequence[Finding]) -> str:
    lines = []
    for f in findings:
        where = f"{f.file}:{f.line}" if f.line else f.file
        status = f"opted out: {f.ignored}" if f.ignored else "error"
        lines.append(f"{where}: revision {f.revision}: {f.rule} ({status})")
        lines.append(f"    {f.message}")
        lines.append(f"    fix: {f.fix}")
    lines.append(summary(findings))
    return "\n".join(lines) + "\n"


def as_json(findings: Sequence[Finding]) -> str:
    failing = blocking(findings)
    return json.dumps(
        {
            "ok": not failing,
            "blocking": len(failing),
            "opted_out": len(findings) - len(failing),
            "findings": [f.to_dict() for f in findings],
        },
        indent=2,
    )


def markdown(findings: Sequence[Finding]) -> str:
    """A PR comment: one table row per finding, opt-outs with their reasons."""
    out = ["### Migration lint", "", summary(findings)]
    if findings:
        out += ["", "| revision | where | rule | status | problem | fix |", "| --- " * 6 + "|"]
        for f in findings:
            where = f"`{f.file}:{f.line}`" if f.line else f"`{f.file}`"
            status = f"opted out: {_cell(f.ignored)}" if f.ignored else "**to fix**"
            out.append(
                f"| {f.revision} | {where} | `{f.rule}` | {status} | {_cell(f.message)} "
                f"| {_cell(f.fix)} |"
            )
    return "\n".join(out) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")

"""Lint's report: its findings as text (terminal), JSON (tools) and Markdown (PR comment),
through the one findings reporter, with lint's own count of what is left to fix."""

from __future__ import annotations

import json
from collections.abc import Sequence

from runner.core import findings_report
from runner.core.findings import Finding, blocking


def summary(findings: Sequence[Finding]) -> str:
    failing = len(blocking(findings))
    opted_out = len(findings) - failing
    if not findings:
        return "No lint findings."
    return f"{failing} lint finding(s) to fix, {opted_out} opted out with a reason."


def text(findings: Sequence[Finding]) -> str:
    return "\n".join([*map(findings_report.block, findings), summary(findings)]) + "\n"


def as_json(findings: Sequence[Finding]) -> str:
    failing = blocking(findings)
    return json.dumps(
        {
            "ok": not failing,
            "blocking": len(failing),
            "opted_out": len(findings) - len(failing),
            "findings": [findings_report.as_dict(f, findings_report.LINT_KEYS) for f in findings],
        },
        indent=2,
    )


def markdown(findings: Sequence[Finding]) -> str:
    """A PR comment: one table row per finding, opt-outs with their reasons."""
    out = ["### Migration lint", "", summary(findings)]
    if findings:
        out += ["", findings_report.table(findings, findings_report.LINT_COLUMNS)]
    return "\n".join(out) + "\n"

"""The bundle builder's gate: refuse revisions with findings, unless explicitly allowed.

`bundle_gate` returns what the manifest records under "lint", so a deployed bundle says
whether it shipped with findings and which ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config

from runner.core.errors import LintFindingsRefused
from runner.core.findings import blocking
from runner.core.findings_report import LINT_KEYS, as_dict
from runner.lint.core import lint

LISTED = 20


def bundle_gate(source: str | Path | Config, *, allow_findings: bool) -> dict[str, Any]:
    """Lint every revision. Raises `LintFindingsRefused` on findings unless `allow_findings`."""
    findings = lint(source)
    failing = blocking(findings)
    if failing and not allow_findings:
        listed = "; ".join(
            f"{f.revision} {f.id} ({f.file}:{f.line})" if f.line else f"{f.revision} {f.id}"
            for f in failing[:LISTED]
        )
        raise LintFindingsRefused(
            f"{len(failing)} lint finding(s) in the revisions: {listed}. Fix them (see "
            "`python -m runner.lint`), opt a revision out of one rule with a reason "
            "(`lint_ignore`), or build anyway with --allow-lint-findings, which the manifest "
            "records. Nothing was built.",
            findings=[as_dict(f, LINT_KEYS) for f in failing],
        )
    return {
        "allowed_findings": allow_findings and bool(failing),
        "findings": [as_dict(f, LINT_KEYS) for f in failing],
        "opted_out": [as_dict(f, LINT_KEYS) for f in findings if f.ignored is not None],
    }

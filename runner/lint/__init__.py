"""Lint: find revisions that would block live traffic, before they ship.

Each revision's upgrade is rendered as SQL offline and checked by squawk (pinned
`squawk-cli`); our own checks cover what rendered SQL cannot show (a revision that commits,
a plain `SET lock_timeout`, an unbatched backfill, a revision that cannot render). The flow
follows squawk: checks, then plain `Finding`s (`runner.core.findings`, the one type every check
reports; here its `id` is the rule), then a reporter (`report`, over
`runner.core.findings_report`), then an exit code at the edge (`python -m runner.lint`). A
revision opts out of one rule with a reason in a module-level `lint_ignore = {"rule-id": "why"}`.
"""

from runner.core.findings import Finding, blocking
from runner.lint.core import lint
from runner.lint.gate import bundle_gate

__all__ = ["Finding", "blocking", "bundle_gate", "lint"]

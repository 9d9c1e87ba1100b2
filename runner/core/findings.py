"""Findings: what validate, drift, baseline, repair, lint and the pull-request review report.

One type for every check, as in squawk and Flyway's validate: a stable kebab-case `id` (for lint,
the rule), what is wrong and what to do, and where. `runner.core.findings_report` shows them as
text, JSON or Markdown; the exit code is chosen at the edge (the CLI, `python -m runner.lint`,
`runner.review`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One thing found: `id` is stable (e.g. `checksum-mismatch`), `fix` says what to do."""

    id: str
    message: str
    fix: str
    revision: str | None = None
    file: str | None = None
    line: int | None = None
    object: str | None = None  # drift: the schema object, e.g. "index dry_run_log.idx_x"
    source: str | None = None  # which check found it: "squawk", "aurora", "review", "lint/squawk"
    ignored: str | None = None  # lint: the revision's reason, when it opted out of this rule

    def opted_out(self, reason: str) -> Finding:
        return replace(self, ignored=reason)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """A finding as JSON gave it back (the function's result); unknown keys are ignored."""
        names = {field.name for field in dataclasses.fields(cls)}
        known = {key: value for key, value in data.items() if key in names}
        if "id" not in known and "rule" in data:  # lint's JSON names the id `rule`
            known["id"] = data["rule"]
        return cls(**known)


# The ids of validate, drift, repair and the review, each with what it means (README's tables
# say the same: keep them in step). Lint's ids are its rules (`runner.lint.rules`, squawk's).
KINDS = {
    "checksum-mismatch": "an applied revision's file was edited after it was applied",
    "missing-revision": "the database records a revision the code does not contain",
    "duplicate-revision": "two files declare one revision id",
    "multiple-heads": "the revision tree has more than one head",
    "out-of-order": "a pending revision sorts before an applied one (an out-of-order merge)",
    "drift-added": "the live schema has an object the revisions do not create",
    "drift-removed": "an object the revisions create is missing from the live schema",
    "drift-changed": "an object differs from what the revisions create",
    "stale-running-row": "a history row says running, but no run is alive",
    "invalid-index": "an index left invalid by a failed CREATE INDEX CONCURRENTLY",
    "version-history-mismatch": "alembic_version disagrees with the history",
    "revision-id-taken": "a new revision's id is already declared on the base branch",
    "revision-edited": "a revision the base already has is changed by the branch",
    "revision-deleted": "a revision the base already has is deleted by the branch",
}


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that count: those no revision opted out of (with a reason)."""
    return [f for f in findings if f.ignored is None]


def display_path(path: str | Path) -> str:
    """A file as the user would type it from here: relative to the working directory if inside."""
    path = Path(path)
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)

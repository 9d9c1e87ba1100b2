"""Findings: what `validate`, `drift`, `baseline` and `repair` report, as plain data.

As in squawk and Flyway's validate: each kind of finding has a stable kebab-case id, and
each finding says what is wrong and what to do. The exit code is chosen at the edge (the CLI:
2 when a command returns findings, 0 without).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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


# Every id, with one line on what it means (the README's table is generated from nothing:
# keep both in step).
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
}


def display_path(path: str | Path) -> str:
    """A file as the user would type it from here: relative to the working directory if inside."""
    path = Path(path)
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)

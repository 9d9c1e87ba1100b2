"""Questions about the revision tree and the database's place in it.

Validation here runs before the database is touched: two files with one revision id, an
unknown revision, an ambiguous `head` or a malformed expression is refused with a typed
error and nothing changes. `plan` turns a resolved expression (`runner.core.targets`) into the
Alembic step objects the engine hands to `env.py`, made by `runner.core.alembic_internals` (the
one module that touches Alembic's non-public API).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import to_tuple
from sqlalchemy.engine import Connection

from runner.core import alembic_internals, targets
from runner.core.errors import DatabaseAhead, DuplicateRevision
from runner.core.results import RevisionInfo
from runner.core.revision_load import display, loading_revisions


@dataclass(frozen=True)
class Step:
    """One planned step: the Alembic step object plus what to call it in results and logs."""

    revision: str
    description: str
    step: Any
    revision_id_after: str


@dataclass(frozen=True)
class Plan(Sequence[Step]):
    """The steps of one command, in order, and the concrete revisions they lead to."""

    direction: str  # "up", "down" or "stamp"
    expression: str
    target: tuple[str, ...]  # () is base
    after: tuple[str, ...]  # the database's heads once every step ran
    steps: tuple[Step, ...]

    @property
    def target_label(self) -> str:
        """The target as the results and `confirm` spell it: comma-joined ids, or `base`."""
        return targets.label(self.target)

    @overload
    def __getitem__(self, index: int) -> Step: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Step]: ...
    def __getitem__(self, index: int | slice) -> Step | Sequence[Step]:
        return self.steps[index]

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)


@dataclass(frozen=True)
class RevisionFile:
    revision: str
    down_revisions: tuple[str, ...]
    path: Path
    doc: str


# --- the files ---------------------------------------------------------------------------------

_UNIQUE: weakref.WeakSet[ScriptDirectory] = weakref.WeakSet()


def scan(script: ScriptDirectory) -> list[RevisionFile]:
    """Every revision file, read one by one: unlike Alembic's map, duplicates are all kept.

    A file Python cannot load is `RevisionLoadFailed`, naming it and the line.
    """
    with loading_revisions():
        return [
            RevisionFile(sc.revision, to_tuple(sc.down_revision, default=()), Path(sc.path), sc.doc)
            for sc in alembic_internals.revision_files(script)
        ]


def check_unique(script: ScriptDirectory) -> None:
    """Refuse a project where two files declare one revision id (Alembic only warns).

    A clean result is remembered per `ScriptDirectory`, as Alembic memoizes its revision
    map: a warm Lambda does not read every revision file again on each invocation.
    """
    if script in _UNIQUE:
        return
    by_id: dict[str, list[Path]] = {}
    for found in scan(script):
        by_id.setdefault(found.revision, []).append(found.path)
    dupes = {rev: sorted(paths) for rev, paths in sorted(by_id.items()) if len(paths) > 1}
    if not dupes:
        _UNIQUE.add(script)
        return
    rev, paths = next(iter(dupes.items()))
    files = [_display(p) for p in paths]
    others = [r for r in dupes if r != rev]
    raise DuplicateRevision(
        f"Revision id {rev} is declared by {len(files)} files: {' and '.join(files)}. Alembic "
        "would silently apply only one of them, so nothing runs until each id is unique. "
        "Give the revision that lost the race the next free number with "
        f"`aurora-migrate renumber {rev} --file {files[-1]}`"
        + (f" (then do the same for {', '.join(others)})" if others else "")
        + ", and run the command again.",
        revision=rev,
        files=files,
        duplicates={r: [_display(p) for p in ps] for r, ps in dupes.items()},
    )


def _display(path: Path) -> str:
    return display(str(path))


def graph(script: ScriptDirectory) -> targets.RevisionGraph:
    return targets.RevisionGraph(
        {sc.revision: alembic_internals.down_revisions(sc) for sc in script.walk_revisions()}
    )


# --- validation and planning --------------------------------------------------------------------


def validate_target(script: ScriptDirectory, expression: str | None) -> None:
    """Everything that can be refused without the database: duplicates, grammar, anchors."""
    check_unique(script)
    if expression is None:
        return
    targets.locate_statically(graph(script), targets.parse(expression))


def plan(script: ScriptDirectory, direction: str, expression: str, current: list[str]) -> Plan:
    """The steps that take the database from `current` to what `expression` names.

    `direction` is "up", "down", "stamp", or "either" (`sql`: down only when the target is
    behind the database). Raises `InvalidTarget`, `MultipleHeads` or `UnknownRevision`.
    """
    applied_set(script, current)  # refuse a database that is ahead of this project
    tree = graph(script)
    resolved = targets.resolve(tree, targets.parse(expression), current, direction)
    if resolved.direction == "stamp":
        steps = [_stamp_step(script, removed, added) for removed, added in resolved.stamps]
    else:
        up = resolved.direction == "up"
        steps = [_revision_step(script, rev, up) for rev in resolved.run]
    return Plan(resolved.direction, expression, resolved.target, resolved.after, tuple(steps))


def _revision_step(script: ScriptDirectory, rev: str, up: bool) -> Step:
    sc = script.get_revision(rev)
    assert sc is not None
    make = alembic_internals.upgrade_step if up else alembic_internals.downgrade_step
    after = rev if up else ",".join(alembic_internals.down_revisions(sc)) or "base"
    return Step(rev, sc.doc, make(script, sc), after)


def _stamp_step(script: ScriptDirectory, removed: str | None, added: str | None) -> Step:
    """One version-table move: replace `removed` by `added`, or remove, or add one row."""
    step = alembic_internals.stamp_step(script, removed, added)
    if added is None:
        assert removed is not None
        return Step(removed, f"no longer recorded: {_doc(script, removed)}", step, "base")
    return Step(added, _doc(script, added), step, added)


def _doc(script: ScriptDirectory, rev: str) -> str:
    sc = script.get_revision(rev)
    return sc.doc if sc is not None else rev


# --- the database's place in the tree ----------------------------------------------------------


def current_heads(conn: Connection) -> list[str]:
    return sorted(MigrationContext.configure(conn).get_current_heads())


def pending(script: ScriptDirectory, current: list[str]) -> list[str]:
    """Revisions not yet applied, oldest first."""
    applied = applied_set(script, current)
    return [rev for rev in ordered(script) if rev not in applied]


def applied_set(script: ScriptDirectory, current: list[str]) -> set[str]:
    applied: set[str] = set()
    for head in current:
        try:
            applied.update(s.revision for s in script.iterate_revisions(head, "base"))
        except RevisionError:
            raise DatabaseAhead(
                f"The database is at revision {head!r}, which this project does not contain. "
                "It was migrated by a newer version: deploy that version (or the revision "
                "files) before running migrations from here.",
                current=current,
            ) from None
    return applied


def ordered(script: ScriptDirectory) -> list[str]:
    """Every revision id, base first (parents before children; ties by id)."""
    return list(graph(script).order)


def describe_all(
    script: ScriptDirectory,
    current: list[str],
    applied_at: dict[str, str],
    applied_by: dict[str, tuple[str | None, int]] | None = None,
) -> list[RevisionInfo]:
    applied = applied_set(script, current)
    heads = set(script.get_heads())
    infos = []
    for rev in ordered(script):
        sc = script.get_revision(rev)
        assert sc is not None
        infos.append(
            RevisionInfo(
                revision=rev,
                down_revision=list(alembic_internals.down_revisions(sc)),
                description=sc.doc,
                applied=rev in applied,
                is_head=rev in heads,
                applied_at=applied_at.get(rev) if rev in applied else None,
                applied_by=(applied_by or {}).get(rev, (None, 0))[0] if rev in applied else None,
                duration_ms=(applied_by or {}).get(rev, (None, None))[1]
                if rev in applied
                else None,
            )
        )
    return infos

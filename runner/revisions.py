"""Questions about the revision tree and the database's place in it.

Validation here runs before the database is touched: an unknown revision, an ambiguous
`head` or a malformed expression is refused with a typed error and nothing changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from sqlalchemy.engine import Connection

from runner.errors import DatabaseAhead, MultipleHeads, UnknownRevision
from runner.results import RevisionInfo

_PARTS = re.compile(r"^(?P<base>[0-9A-Za-z_]*?)(?P<rel>[+-][0-9]+)?$")


@dataclass(frozen=True)
class Step:
    """One planned step: the Alembic step object plus what to call it in results and logs."""

    revision: str
    description: str
    step: Any
    revision_id_after: str


def validate_target(script: ScriptDirectory, expression: str | None) -> None:
    if expression is None:
        return
    match = _PARTS.match(expression)
    base = match.group("base") if match else expression
    heads = script.get_heads()
    if base == "head" and len(heads) > 1:
        raise MultipleHeads(
            f"The revision tree has {len(heads)} heads ({', '.join(sorted(heads))}), so "
            f"{expression!r} is ambiguous. Merge them with `alembic merge heads`, or name one "
            "revision explicitly.",
            heads=sorted(heads),
        )
    if base in ("head", "heads", "base", ""):
        return
    try:
        script.revision_map.get_revision(base)
    except RevisionError as exc:
        raise UnknownRevision(
            f"No revision {base!r} in this project ({exc}). List them with `history`.",
            revision=expression,
        ) from None


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
    """Every revision id, base first."""
    return [s.revision for s in reversed(list(script.walk_revisions("base", "heads")))]


def describe_all(
    script: ScriptDirectory, current: list[str], applied_at: dict[str, str]
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
                down_revision=list(sc._normalized_down_revisions),
                description=sc.doc,
                applied=rev in applied,
                is_head=rev in heads,
                applied_at=applied_at.get(rev) if rev in applied else None,
            )
        )
    return infos


def plan(script: ScriptDirectory, direction: str, target: str, current: list[str]) -> list[Step]:
    """The steps that take the database from `current` to `target`, in order.

    Raises alembic's CommandError when the target is not reachable in that direction.
    """
    applied_set(script, current)  # refuse a database that is ahead of this project
    heads = tuple(current)
    if direction == "stamp":
        stamp_steps = script._stamp_revs(target, heads)
        described = "base" if target == "base" else _doc(script, target)
        return [Step(target, described, s, target) for s in stamp_steps]
    if direction == "up":
        steps = script._upgrade_revs(target, heads)  # type: ignore[arg-type]
        return [Step(s.revision.revision, s.revision.doc, s, s.revision.revision) for s in steps]
    steps = script._downgrade_revs(target, heads)  # type: ignore[arg-type]
    return [
        Step(
            s.revision.revision,
            s.revision.doc,
            s,
            ",".join(s.revision._normalized_down_revisions) or "base",
        )
        for s in steps
    ]


def _doc(script: ScriptDirectory, target: str) -> str:
    try:
        revs = script.get_revisions(target)
    except RevisionError:
        return target
    return "; ".join(r.doc for r in revs if r is not None)

"""The review's checks: providers that turn a `ReviewContext` into findings.

A finding is the one `runner.core.findings.Finding` every check reports (a stable kebab-case
`id`, what is wrong and how to fix it, where, and `source`: which check found it). A provider
takes the `ReviewContext` and returns findings; `default_providers()` is the list the review
runs. The built-in ones need only git and the revision files; lint (`runner.lint`) joins the
list when it is installed, and the validation checks join it the same way once they can run
without a database.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from alembic.script import ScriptDirectory

from runner.core import revisions as revision_tree
from runner.core.findings import Finding

REVISION_ID_TAKEN = "revision-id-taken"
DUPLICATE_REVISION = "duplicate-revision"
MULTIPLE_HEADS = "multiple-heads"


@dataclass(frozen=True)
class NewFile:
    """A revision file the branch adds: its id and its path from the top of the checkout."""

    revision: str
    path: PurePosixPath


@dataclass(frozen=True)
class ReviewContext:
    """What every provider may look at: the project at HEAD and what the base already has."""

    root: Path  # the top of the git checkout: findings name files relative to it
    config_file: Path
    script: ScriptDirectory
    base: str  # the ref as given, e.g. origin/main
    base_commit: str
    new_files: tuple[NewFile, ...]
    base_ids: Mapping[str, tuple[PurePosixPath, ...]]  # revision id -> its files at the base
    edited_files: tuple[PurePosixPath, ...] = ()  # revision files the base has, changed here
    deleted_files: tuple[PurePosixPath, ...] = ()  # revision files the base has, gone here

    @property
    def new_revisions(self) -> list[str]:
        return list(dict.fromkeys(new.revision for new in self.new_files))


FindingProvider = Callable[[ReviewContext], Sequence[Finding]]


def revision_id(source: str) -> str | None:
    """The literal `revision = "..."` (or `revision: str = "..."`) of a revision file, read
    without running it; None for a file that declares none."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and node.targets else None
        if isinstance(node, ast.AnnAssign):
            target = node.target
        value = getattr(node, "value", None)
        if (
            isinstance(target, ast.Name)
            and target.id == "revision"
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
        ):
            return value.value
    return None


def heads_of(script: ScriptDirectory) -> list[str] | None:
    """The tree's heads; None while two files share an id (Alembic's map keeps one file per
    id, so its heads would be wrong)."""
    files = revision_tree.scan(script)
    if len({found.revision for found in files}) < len(files):
        return None
    return sorted(script.get_heads())


# --- the built-in providers ----------------------------------------------------------------------


def taken_ids(context: ReviewContext) -> list[Finding]:
    """A new revision must not reuse an id the base declares (two branches that both took 0018),
    nor share one with another new file."""
    found: list[Finding] = []
    by_id: dict[str, list[NewFile]] = {}
    for new in context.new_files:
        by_id.setdefault(new.revision, []).append(new)
    for rev, news in by_id.items():
        theirs = [p for p in context.base_ids.get(rev, ()) if p not in {n.path for n in news}]
        for new in news:
            renumber = f"`aurora-migrate renumber {rev} --file {new.path}`"
            if theirs:
                found.append(
                    Finding(
                        REVISION_ID_TAKEN,
                        f"Revision id {rev} of {new.path} is already taken on {context.base} by "
                        f"{', '.join(map(str, theirs))}. Alembic would apply only one of them.",
                        f"Merge {context.base} into this branch, then run {renumber}: it takes "
                        "the next free number and revises the current head.",
                        revision=rev,
                        file=str(new.path),
                        source="review",
                    )
                )
            elif len(news) > 1:
                others = [str(n.path) for n in news if n is not new]
                found.append(
                    Finding(
                        DUPLICATE_REVISION,
                        f"Revision id {rev} of {new.path} is also declared by {', '.join(others)} "
                        "on this branch. Alembic would apply only one of them.",
                        f"Give one of them the next free number with {renumber}.",
                        revision=rev,
                        file=str(new.path),
                        source="review",
                    )
                )
    return found


def single_head(context: ReviewContext) -> list[Finding]:
    """The revision tree at HEAD has exactly one head, so `upgrade head` means one thing.

    Not judged while two files share an id (`taken_ids` reports that first).
    """
    heads = heads_of(context.script)
    if heads is None:
        return []
    if len(heads) <= 1:
        return []
    return [
        Finding(
            MULTIPLE_HEADS,
            f"The revisions have {len(heads)} heads ({', '.join(heads)}): `upgrade head` is "
            "ambiguous and the runner refuses it.",
            "Renumber this branch's revision onto the current head (`aurora-migrate renumber "
            "REV --file FILE`), or join the heads with `alembic merge heads -m merge`.",
            source="review",
        )
    ]


def lint(context: ReviewContext) -> list[Finding]:
    """`runner.lint` over the new revisions (squawk and our own live-DDL checks). A finding
    its revision opted out of (with a reason) is left out; files are named from the checkout's
    top, and `source` says lint (and which of its checkers)."""
    if not context.new_revisions:
        return []  # runner.lint lints every revision when given none
    module: Any = importlib.import_module("runner.lint")
    found: list[Finding] = module.lint(context.config_file, revisions=context.new_revisions)
    return [
        replace(
            finding,
            file=_from_top(finding.file, context.root),
            source=f"lint/{finding.source}" if finding.source else "lint",
        )
        for finding in found
        if not finding.ignored
    ]


def _from_top(file: str | None, root: Path) -> str | None:
    """A file relative to the checkout's top when it is inside, else as given."""
    if not file:
        return file
    path = Path(file).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else file


def edited_revisions(context: ReviewContext) -> list[Finding]:
    """A revision main already has is history: a database may have applied it. Changing or
    deleting it is what `validate` reports later as a checksum mismatch or a missing file."""
    found = [
        Finding(
            id="revision-edited",
            message=f"{path} is a revision the base already has, and this branch changes it. "
            "Databases that applied it keep what the old file did; `validate` will report a "
            "checksum mismatch and `upgrade` will refuse until `--allow-changed` names it.",
            fix="Put the change in a new revision. Edit an applied revision only to fix one that "
            "cannot run, and accept it with `aurora-migrate upgrade --allow-changed REV`.",
            file=str(path),
        )
        for path in context.edited_files
    ]
    found += [
        Finding(
            id="revision-deleted",
            message=f"{path} is a revision the base already has, and this branch deletes it. "
            "Databases that applied it record a revision the code no longer has (`validate`: "
            "missing from the code), and later upgrades there are refused as DatabaseAhead.",
            fix="Keep the file; to undo its effect, add a new revision that reverts it.",
            file=str(path),
        )
        for path in context.deleted_files
    ]
    return found


def default_providers() -> list[FindingProvider]:
    """The built-in checks, then lint when `runner.lint` is installed."""
    providers: list[FindingProvider] = [taken_ids, single_head, edited_revisions]
    if importlib.util.find_spec("runner.lint") is not None:
        providers.append(lint)
    return providers

"""`aurora-migrate renumber REV --file PATH`: give a revision the next free number.

Two branches that each ran `alembic revision` both get the next number (say 0018), and after
both merge every command refuses with `DuplicateRevision`. The file that lost the race is
renumbered to the next free number (0019) and rewired to revise the head of the other
revisions (the winning 0018), so the tree is one line again. Its file name, `revision`,
`down_revision` and docstring header change; nothing else in it does, and no database is
touched. The new file is read back before the old one is removed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import load_python_file, to_tuple

from runner.core import revisions, targets
from runner.core.alembic_support import next_revision_number
from runner.core.errors import RenumberRefused
from runner.core.settings import Settings
from runner.core.targets import shown


@dataclass(frozen=True)
class Renumbered:
    old_revision: str
    new_revision: str
    old_file: str
    new_file: str
    down_revision: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, "command": "renumber", **asdict(self)}


def script_directory(settings: Settings) -> ScriptDirectory:
    return ScriptDirectory.from_config(Config(str(settings.alembic_ini)))


def renumber(script: ScriptDirectory, revision: str, file: Path) -> Renumbered:
    """Renumber the revision `revision` declared in `file`. Raises `RenumberRefused`."""
    files = revisions.scan(script)
    mine = _the_file(files, revision, file)
    others = [f for f in files if f is not mine]
    new = next_revision_number(f.revision for f in files)
    if new is None:
        raise RenumberRefused(
            "This project's revision ids are not all four-digit numbers, so there is no "
            "'next number' to give. Edit the revision id by hand.",
            revision=revision,
        )
    dependents = [f for f in others if revision in f.down_revisions]
    if dependents:
        raise RenumberRefused(
            f"{', '.join(_named(f) for f in dependents)} revise(s) {revision}, and it cannot "
            "be told which of the files with that id was meant. Renumber by hand: give "
            f"{_named(mine)} a new id and point its dependents at the right one.",
            revision=revision,
        )
    down = _single_head(others, revision)
    new_path = mine.path.with_name(_renamed(mine.path.name, revision, new))
    if new_path.exists():
        raise RenumberRefused(f"{new_path} already exists; move it away first.", revision=revision)
    new_path.write_text(_rewritten(mine, new, down))
    try:
        _check_written(new_path, new, down)
    except RenumberRefused:
        new_path.unlink()
        raise
    mine.path.unlink()
    return Renumbered(revision, new, str(mine.path), str(new_path), down)


def _the_file(
    files: list[revisions.RevisionFile], revision: str, file: Path
) -> revisions.RevisionFile:
    wanted = file.resolve()
    for found in files:
        if found.path.resolve() == wanted:
            if found.revision != revision:
                raise RenumberRefused(
                    f"{file} declares revision {found.revision}, not {shown(revision)}. "
                    "Check which file lost the race.",
                    revision=revision[: targets.ECHO_LENGTH],
                )
            return found
    raise RenumberRefused(
        f"{file} is not a revision file of this project. Give the path of the file that "
        f"declares {shown(revision)} (the DuplicateRevision error names both).",
        revision=revision[: targets.ECHO_LENGTH],
    )


def _single_head(others: list[revisions.RevisionFile], revision: str) -> str | None:
    """The head of every other revision: what the renumbered one now revises."""
    ids = [f.revision for f in others]
    if len(set(ids)) != len(ids):
        raise RenumberRefused(
            f"Other revision ids are duplicated as well ({', '.join(sorted(_dupes(ids)))}); "
            "renumber those first.",
            revision=revision,
        )
    known = set(ids)
    revised = {down for f in others for down in f.down_revisions if down in known}
    heads = sorted(known - revised)
    if len(heads) > 1:
        raise RenumberRefused(
            f"Without {revision}, the other revisions have {len(heads)} heads "
            f"({', '.join(heads)}), so there is no single revision to follow. Merge them "
            "first (`alembic merge heads`).",
            revision=revision,
        )
    return heads[0] if heads else None


def _dupes(ids: list[str]) -> set[str]:
    return {rev for rev in ids if ids.count(rev) > 1}


def _named(found: revisions.RevisionFile) -> str:
    return f"{found.revision} ({found.path.name})"


def _renamed(name: str, old: str, new: str) -> str:
    return new + name[len(old) :] if name.startswith(old) else f"{new}_{name}"


def _rewritten(found: revisions.RevisionFile, new: str, down: str | None) -> str:
    text = found.path.read_text()
    assign = r"(?m)^({name}\s*(?::[^=\n]*)?=\s*)"
    text, count = re.subn(
        assign.format(name="revision") + r"""(['"])""" + re.escape(found.revision) + r"\2",
        lambda m: f"{m.group(1)}{m.group(2)}{new}{m.group(2)}",
        text,
    )
    if count != 1:
        raise RenumberRefused(
            f'{found.path} has no single `revision = "{found.revision}"` line to change. '
            "Renumber it by hand.",
            revision=found.revision,
        )
    down_literal = "None" if down is None else f'"{down}"'
    text, count = re.subn(
        assign.format(name="down_revision") + r"[^\n]*$",
        lambda m: f"{m.group(1)}{down_literal}",
        text,
    )
    if count != 1:
        raise RenumberRefused(
            f"{found.path} has no single `down_revision = ...` line to change. Renumber it "
            "by hand.",
            revision=found.revision,
        )
    text = re.sub(r"(?m)^Revision ID: .*$", f"Revision ID: {new}", text, count=1)
    return re.sub(r"(?m)^Revises: .*$", f"Revises: {down or ''}", text, count=1)


def _check_written(path: Path, new: str, down: str | None) -> None:
    """Read the new file back as Python: it must declare exactly the new id and parent."""
    try:
        module = load_python_file(str(path.parent), path.name)
        ok = module.revision == new and to_tuple(module.down_revision, default=()) == (
            to_tuple(down, default=())
        )
    except Exception as exc:  # any import failure means the rewrite broke the file
        raise RenumberRefused(
            f"The rewritten {path.name} does not load ({type(exc).__name__}: {exc}); the "
            "original was left as it was. Renumber it by hand.",
        ) from None
    if not ok:
        raise RenumberRefused(
            f"The rewritten {path.name} does not declare revision {new} revising "
            f"{down or 'base'}; the original was left as it was. Renumber it by hand.",
        )

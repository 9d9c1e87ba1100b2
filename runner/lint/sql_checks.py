"""Checks on the rendered statements that squawk does not make."""

from __future__ import annotations

import re

from runner.lint.render import Rendered, Statement

_NAME = r'(?:"[^"]+"|[\w$]+)'
_QUALIFIED = rf"{_NAME}(?:\.{_NAME})?"
_CREATE_TABLE = re.compile(rf"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?({_QUALIFIED})", re.I)
_UPDATE = re.compile(rf"^\s*UPDATE\s+(?:ONLY\s+)?({_QUALIFIED})\s", re.I)
_LIMIT = re.compile(r"\bLIMIT\b", re.I)


def unbatched_backfills(rendered: Rendered) -> list[Statement]:
    """UPDATEs of a table the revision did not create, with no LIMIT anywhere (no batch).

    A table created earlier in the same revision is empty to everyone else until the revision
    commits, so updating it blocks no one.
    """
    created: set[str] = set()
    found: list[Statement] = []
    for statement in rendered.statements:
        made = _CREATE_TABLE.match(statement.text)
        if made:
            created.add(_plain(made.group(1)))
            continue
        update = _UPDATE.match(statement.text)
        if update and _plain(update.group(1)) not in created and not _LIMIT.search(statement.text):
            found.append(statement)
    return found


def _plain(name: str) -> str:
    return name.replace('"', "").lower()

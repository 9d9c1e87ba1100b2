"""What one bootstrap did: plain data, built from the script's own NOTICE lines.

Each step of the script reports `bootstrap <kind>: <what>`; the result files every line
under its kind, so what the command prints is what the database said it did.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from runner.bootstrap.script import CHANGES, COMMAND

_LINE = re.compile(r"\bbootstrap (?P<kind>[a-z_]+): (?P<what>.*)$")
# kind -> the result's list for it
LISTS = {
    "created": "created",
    "granted": "granted",
    "revoked": "revoked",
    "handed_over": "handed_over",
    "configured": "configured",
    "in_place": "already_in_place",
    "skipped": "skipped",
}


def parse_notices(lines: list[str]) -> list[tuple[str, str]]:
    """(kind, what) for every `bootstrap <kind>: <what>` line, in order."""
    found = []
    for line in lines:
        match = _LINE.search(line.strip())
        if match:
            found.append((match["kind"], match["what"]))
    return found


@dataclass
class BootstrapResult:
    """What a bootstrap changed, and what it found already in place."""

    role: str
    schema: str
    login: str  # "iam" or "password"
    database: str  # where, with the password hidden
    admin: str  # the user that ran it
    run_id: str
    created: list[str] = field(default_factory=list)
    granted: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    handed_over: list[str] = field(default_factory=list)
    configured: list[str] = field(default_factory=list)
    already_in_place: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    recorded: str | None = None  # where the history row went; None when nothing changed
    duration_ms: int = 0
    message: str = ""
    command: str = COMMAND
    ok: bool = True

    def add(self, kind: str, what: str) -> None:
        if kind in LISTS:
            getattr(self, LISTS[kind]).append(what)
        elif kind == "recorded":
            self.recorded = what

    @property
    def changed(self) -> bool:
        return any(getattr(self, LISTS[kind]) for kind in CHANGES)

    def changes(self) -> list[tuple[str, str]]:
        return [(kind, what) for kind in CHANGES for what in getattr(self, LISTS[kind])]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changed": self.changed}

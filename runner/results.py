"""Plain requests and results: what the handler and the CLI pass to the engine and get back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

COMMANDS = ("upgrade", "downgrade", "current", "history", "heads", "sql", "stamp")


def state_label(heads: Sequence[str]) -> str:
    """The database's place as messages and tables say it: its head(s), or base."""
    return ", ".join(heads) if heads else "base (no revision applied)"


@dataclass(frozen=True)
class Request:
    """One command for the engine. `confirm` must equal the current revision for downgrade/stamp."""

    command: str
    revision: str | None = None
    confirm: str | None = None


@dataclass(frozen=True)
class AppliedRevision:
    revision: str
    description: str
    direction: str  # "up", "down" or "stamp"
    duration_ms: int


@dataclass(frozen=True)
class RevisionInfo:
    revision: str
    down_revision: list[str]
    description: str
    applied: bool
    is_head: bool
    applied_at: str | None = None


@dataclass
class Result:
    """What a command did. Serializes to JSON with `to_dict()`."""

    command: str
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    applied: list[AppliedRevision] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    duration_ms: int = 0
    ok: bool = True
    complete: bool = True
    target: str | None = None  # the resolved revision id(s), comma-joined, or "base"
    target_expression: str | None = None  # the expression the request gave, e.g. "head-1"
    heads: list[str] = field(default_factory=list)
    revisions: list[RevisionInfo] | None = None
    sql: str | None = None
    lock_wait_ms: int | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {key: value for key, value in data.items() if value is not None}

"""Plain requests and results: what the handler and the CLI pass to the engine and get back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from runner.core import findings_report
from runner.core.findings import Finding

COMMANDS = (
    "upgrade",
    "downgrade",
    "current",
    "history",
    "heads",
    "sql",
    "stamp",
    "validate",
    "drift",
    "baseline",
    "repair",
)
# Commands that report findings: the CLI exits 2 when their `findings` is not empty, 0 without.
# (A forced baseline lists the differences it recorded in `findings` too, but succeeded.)
REPORTING = ("validate", "drift", "repair")


def state_label(heads: Sequence[str]) -> str:
    """The database's place as messages and tables say it: its head(s), or base."""
    return ", ".join(heads) if heads else "base (no revision applied)"


@dataclass(frozen=True)
class Request:
    """One command for the engine. `confirm` must equal the current revision for downgrade,
    stamp, baseline and a repair that acts. `allow_changed` (upgrade) names applied revisions
    whose edited files are accepted; `force` (baseline) records despite differences."""

    command: str
    revision: str | None = None
    confirm: str | None = None
    allow_changed: tuple[str, ...] = ()
    force: bool = False

    def to_event(self) -> dict[str, Any]:
        """The event that asks for this request: only the fields that differ from the default."""
        defaults = Request(self.command)
        event: dict[str, Any] = {"command": self.command}
        for name in ("revision", "confirm", "allow_changed", "force"):
            value = getattr(self, name)
            if value != getattr(defaults, name):
                event[name] = list(value) if isinstance(value, tuple) else value
        return event


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
    applied: bool | None  # None: not known (history --offline reads no database)
    is_head: bool
    applied_at: str | None = None
    applied_by: str | None = None  # history: who ran the latest applying run (user@host, lambda)
    duration_ms: int | None = None  # history: how long that revision took then


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
    # validate, drift, baseline, repair: what was found (empty: nothing). Exit 2 when not empty.
    findings: list[Finding] | None = None
    drift_count: int | None = None  # drift: the number behind the `SchemaDrift` metric
    actions: list[str] | None = (
        None  # repair (with confirm), baseline, allow_changed: what was done
    )
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.findings is not None:  # the keys the result's findings have always had
            data["findings"] = [findings_report.as_dict(f) for f in self.findings]
        return {key: value for key, value in data.items() if value is not None}

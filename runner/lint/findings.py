"""A finding is plain data: which rule, which revision, where, what is wrong, how to fix it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One rule broken by one revision. `ignored` is the revision's reason, when it opted out."""

    rule: str
    revision: str
    file: str
    line: int | None
    message: str
    fix: str
    source: str  # "squawk" or "aurora": who checked it
    ignored: str | None = None

    def opted_out(self, reason: str) -> Finding:
        return replace(self, ignored=reason)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that fail the lint: those no revision opted out of."""
    return [f for f in findings if f.ignored is None]

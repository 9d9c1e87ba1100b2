"""Where each environment stands, side by side: one plain row per environment.

Each environment's function is asked for its `history` (read-only: the current revision, the
heads, what is pending and when each revision was applied), all at once. An environment that
cannot answer does not hide the others: its row says unhealthy, and why. Rendering the rows
is the CLI's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runner.adapters.remote.invoke import Invoker
from runner.core import redact
from runner.core.errors import AuroraMigrationsError
from runner.core.results import Result


@dataclass(frozen=True)
class LastApplied:
    """The most recently applied revision, with who applied it and how long it took when the
    function's history reports them (history tables from before the checksum columns do not)."""

    revision: str
    description: str
    applied_at: str | None
    applied_by: str | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class EnvironmentStatus:
    """One environment's row. Unhealthy rows carry `problem` and `error_type` instead of data."""

    environment: str
    healthy: bool
    function: str | None = None
    current: list[str] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    last_applied: LastApplied | None = None
    problem: str | None = None
    error_type: str | None = None
    request_id: str | None = None
    # Objects that differ from the expected schema (`drift`); None when it could not be asked,
    # e.g. a bundle built with --no-schema. `drift_problem` then says why.
    drift_count: int | None = None
    drift_problem: str | None = None

    @property
    def pending_count(self) -> int:
        return len(self.pending)

    @property
    def up_to_date(self) -> bool:
        return self.healthy and not self.pending


def gather_status(invokers: Mapping[str, Invoker], *, parallel: int = 4) -> list[EnvironmentStatus]:
    """One row per environment, in the order given; never raises for one environment."""
    names = list(invokers)
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(names) or 1))) as pool:
        return list(pool.map(lambda name: environment_status(name, invokers[name]), names))


def environment_status(environment: str, invoker: Invoker) -> EnvironmentStatus:
    function = getattr(invoker, "function", None)
    try:
        outcome = invoker.invoke({"command": "history"})
    except AuroraMigrationsError as exc:
        return EnvironmentStatus(
            environment=environment,
            healthy=False,
            function=function,
            problem=exc.message,
            error_type=str(exc.details.get("remote_error_type") or type(exc).__name__),
            request_id=exc.details.get("request_id"),
        )
    except Exception as exc:  # a bug here must not cost the other environments their rows
        return EnvironmentStatus(
            environment=environment,
            healthy=False,
            function=function,
            problem=redact.clean(f"Unexpected {type(exc).__name__}: {exc}"),
            error_type="InternalError",
        )
    result = outcome.result
    drift_count, drift_problem = _drift(invoker)
    return EnvironmentStatus(
        environment=environment,
        healthy=True,
        function=outcome.function,
        current=list(result.after),
        heads=list(result.heads),
        pending=list(result.pending),
        last_applied=last_applied(result, outcome.payload),
        request_id=outcome.request_id,
        drift_count=drift_count,
        drift_problem=drift_problem,
    )


def _drift(invoker: Invoker) -> tuple[int | None, str | None]:
    """The drift count, read-only; a function that cannot tell does not make the row unhealthy."""
    try:
        found = invoker.invoke({"command": "drift"}).result.drift_count
    except AuroraMigrationsError as exc:
        return None, exc.message
    except Exception as exc:  # the count is extra information: never lose the row for it
        return None, redact.clean(f"Unexpected {type(exc).__name__}: {exc}")
    return found, None


def last_applied(result: Result, payload: Mapping[str, Any]) -> LastApplied | None:
    """The applied revision with the latest `applied_at`, with who and how long if reported."""
    raw = {r.get("revision"): r for r in payload.get("revisions") or [] if isinstance(r, dict)}
    dated = [r for r in result.revisions or [] if r.applied and r.applied_at]
    if not dated:
        return None
    latest = max(dated, key=lambda r: _when(r.applied_at))
    extra = raw.get(latest.revision, {})
    duration = extra.get("duration_ms")
    by = extra.get("applied_by")
    return LastApplied(
        revision=latest.revision,
        description=latest.description,
        applied_at=latest.applied_at,
        applied_by=by if isinstance(by, str) else None,
        duration_ms=duration if isinstance(duration, int) else None,
    )


def _when(text: str | None) -> datetime:
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

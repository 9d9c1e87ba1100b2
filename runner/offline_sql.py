"""Render a plan as SQL without a database (`aurora-migrate sql`), or say which revision can't.

Alembic's offline mode runs each revision against a mock connection that only records SQL.
A revision that reads query results or commits on the connection cannot run that way; the
failure is reported as `OfflineSqlUnavailable`, naming the revision, instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from runner.errors import AuroraMigrationsError, OfflineSqlUnavailable
from runner.revisions import Plan, Step

REASON_LENGTH = 300


def render(config: Config, script: ScriptDirectory, plan: Plan, current: Sequence[str]) -> None:
    """Write the plan's SQL to the config's output buffer, from the database's `current` heads."""
    rendering: list[Step] = []

    def offline_steps(rev: Any, context: MigrationContext) -> Iterator[Any]:
        for step in plan:
            rendering[:] = [step]
            yield step.step
        rendering.clear()

    try:
        with EnvironmentContext(
            config,
            script,
            fn=offline_steps,
            as_sql=True,
            starting_rev=tuple(current) or None,  # a tuple, so several heads are fine
            destination_rev=plan.target_label,
        ):
            script.run_env()
    except AuroraMigrationsError:
        raise
    except Exception as exc:
        # Not chained: the cause may carry a secret; its words are in the message, scrubbed.
        raise _unavailable(rendering[0] if rendering else None, exc) from None


def _unavailable(step: Step | None, exc: Exception) -> OfflineSqlUnavailable:
    name = f"Revision {step.revision} ({step.description})" if step else "The environment"
    reason = f"{type(exc).__name__}: {exc}"
    if len(reason) > REASON_LENGTH:
        reason = reason[:REASON_LENGTH] + "…"
    return OfflineSqlUnavailable(
        f"{name} cannot be rendered as SQL without a database ({reason}). It most likely "
        "reads query results or commits on the connection, which offline SQL cannot do. "
        "Read the revision's code instead, or try it on a copy of the database (for example "
        "`aurora-migrate devdb reset`, then `upgrade`). Nothing was run.",
        revision=step.revision if step else None,
        error=reason,
    )

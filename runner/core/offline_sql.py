"""Render a plan as SQL without a database (`aurora-migrate sql`), or say which revision can't.

Alembic's offline mode runs each revision against a mock connection that only records SQL.
A revision that reads query results or commits on the connection cannot run that way; the
failure is reported as `OfflineSqlUnavailable`, naming the revision, instead of a traceback.

The SQL also makes the history-table writes a real run makes (`runner.core.history_table`): the
`CREATE TABLE IF NOT EXISTS` before the first revision, and in each revision's transaction
its row, with the literal run id given and the command `sql`. Applied by hand, it keeps the
record as straight as `upgrade` would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from runner.core import alembic_internals, history_table
from runner.core.errors import AuroraMigrationsError, OfflineSqlUnavailable
from runner.core.revisions import Plan, Step
from runner.integrity import checksums

REASON_LENGTH = 300


def render(
    config: Config,
    script: ScriptDirectory,
    plan: Plan,
    current: Sequence[str],
    *,
    run_id: str,
    request_id: str | None = None,
    history: bool = True,
) -> None:
    """Write the plan's SQL to the config's output buffer, from the database's `current` heads.

    The history rows carry `run_id` (e.g. `offline-<uuid>`), so they can be told apart.
    `history=False` leaves the history writes out: the revisions' own SQL (and Alembic's version
    row), as lint checks it and the pull-request review shows it.
    """
    rendering: list[Step] = []

    def offline_steps(rev: Any, context: MigrationContext) -> Iterator[Any]:
        for number, step in enumerate(plan):
            if number == 0 and history:  # as a run does: once, outside any transaction
                context.execute(history_table.CREATE.strip())
                context.execute(history_table.UPGRADE)  # idempotent: an older table gains columns
                alembic_internals.add_version_apply_hook(context, record)
            rendering[:] = [step]
            yield step.step
        rendering.clear()

    def record(*, ctx: MigrationContext, **_: Any) -> None:
        """on_version_apply: the history row, inside the revision's transaction."""
        step = rendering[0]
        row = history_table.INSERT.bindparams(
            **{
                **history_table.OPTIONAL,
                "run_id": run_id,
                "command": "sql",
                "revision": step.revision,
                "description": step.description,
                "direction": plan.direction,
                "duration_ms": 0,
                "request_id": request_id,
                "checksum": checksums.revision_checksum(script, step.revision),
                "runner_version": checksums.runner_version(),
                "run_by": "offline sql (applied by hand)",
            }
        )
        ctx.execute(row)  # offline, bound values are rendered as literals

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

"""One revision's upgrade as SQL, with no database: Alembic's offline mode, as `core.offline_sql`
runs it for `aurora-migrate sql`, on a plan of that one step from the revision's parents.

Only the revision's own statements (and Alembic's version-table update) are written: not the
run-history writes `sql` adds around a whole run, which would repeat in every revision of the
comment. A revision that reads query results or commits cannot render offline:
`OfflineSqlUnavailable` says so, naming it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from runner.core import revisions
from runner.core.errors import AuroraMigrationsError, OfflineSqlUnavailable

REASON_LENGTH = 300


def render_upgrade(ini: Path, script: ScriptDirectory, rev: str, parents: list[str]) -> str:
    """The SQL of `rev`'s upgrade alone, from a database at `parents`."""
    plan = revisions.plan(script, "up", rev, parents)
    buffer = io.StringIO()
    config = Config(str(ini), output_buffer=buffer, stdout=io.StringIO())
    config.attributes["managed_by_runner"] = True  # env.py: no logging setup, no checks of ours

    def steps(_rev: Any, _context: MigrationContext) -> Iterator[Any]:
        for step in plan:
            yield step.step

    try:
        with EnvironmentContext(
            config,
            script,
            fn=steps,
            as_sql=True,
            starting_rev=tuple(parents) or None,
            destination_rev=plan.target_label,
        ):
            script.run_env()
    except AuroraMigrationsError:
        raise
    except Exception as exc:
        # Not chained: the cause may carry a secret; its words are in the message, scrubbed.
        reason = f"{type(exc).__name__}: {exc}"[:REASON_LENGTH]
        raise OfflineSqlUnavailable(
            f"Revision {rev} cannot be rendered as SQL without a database ({reason}). It most "
            "likely reads query results or commits on the connection, which offline SQL "
            "cannot do: read its code, or try it on a copy of the database.",
            revision=rev,
            error=reason,
        ) from None
    return buffer.getvalue()

"""One revision's upgrade as SQL, with no database: `core.offline_sql`, as `aurora-migrate sql`
runs it, on a plan of that one step from the revision's parents.

Only the revision's own statements (and Alembic's version-table update) are written: not the
run-history writes `sql` adds around a whole run, which would repeat in every revision of the
comment. A revision that reads query results or commits cannot render offline:
`OfflineSqlUnavailable` says so, naming it, in the words `aurora-migrate sql` uses.
"""

from __future__ import annotations

import io
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from runner.core import offline_sql, revisions


def render_upgrade(ini: Path, script: ScriptDirectory, rev: str, parents: list[str]) -> str:
    """The SQL of `rev`'s upgrade alone, from a database at `parents`."""
    plan = revisions.plan(script, "up", rev, parents)
    buffer = io.StringIO()
    config = Config(str(ini), output_buffer=buffer, stdout=io.StringIO())
    config.attributes["managed_by_runner"] = True  # env.py: no logging setup, no checks of ours
    offline_sql.render(config, script, plan, parents, run_id="review", history=False)
    return buffer.getvalue()

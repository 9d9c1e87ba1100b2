"""The few helpers `alembic/env.py` needs, so that env.py itself stays small.

- `number_new_revision`: `alembic revision -m "..."` names the file NNNN_<slug>.py with the
  next number (0017, 0018, ...), so revision files sort in the order they apply.
- `is_authoring`: `alembic revision` (without --autogenerate) needs no database.
- `cli_database_url`: where plain `alembic` commands connect when the runner is not in charge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from runner.errors import ConfigurationError
from runner.settings import Settings

NUMBER_WIDTH = 4
_NUMBERED = re.compile(r"^[0-9]+$")


def next_revision_number(existing: Iterable[str]) -> str:
    numbers = [int(rev) for rev in existing if _NUMBERED.match(rev)]
    return f"{max(numbers, default=0) + 1:0{NUMBER_WIDTH}d}"


def number_new_revision(context: MigrationContext, revision: Any, directives: list[Any]) -> None:
    """process_revision_directives hook: the new revision's id is the next number."""
    script = context.opts["script"]
    existing = [sc.revision for sc in script.walk_revisions("base", "heads")]
    for directive in directives:
        directive.rev_id = next_revision_number(existing)


def is_authoring(config: Config) -> bool:
    """True for `alembic revision` without --autogenerate: only a file is written."""
    options = config.cmd_opts
    command = getattr(options, "cmd", None)
    if not command:
        return False
    return bool(command[0].__name__ == "revision" and not getattr(options, "autogenerate", False))


def cli_database_url() -> str:
    """DATABASE_URL, else the local development database if it is running."""
    settings = Settings.from_env()
    if settings.database_url:
        return settings.database_url
    from runner import devdb

    url = devdb.running_url(settings)
    if url is None:
        raise ConfigurationError(
            "No database to connect to: set DATABASE_URL, or start the local development "
            "database with `aurora-migrate devdb start`."
        )
    return url.render_as_string(hide_password=False)

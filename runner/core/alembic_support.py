"""The few helpers `alembic/env.py` needs, so that env.py itself stays small.

- `number_new_revision`: `alembic revision -m "..."` names the file NNNN_<slug>.py with the
  next number (0017, 0018, ...), so revision files sort in the order they apply. Only in a
  project whose ids are all NNNN: a project with Alembic's hash ids keeps them.
- `number_merges`: the same for `alembic merge`, which has no hook of its own.
- `refuse_duplicates`: plain `alembic` commands refuse two files with one revision id.
- `is_authoring`: `alembic revision` (without --autogenerate) and `alembic merge` need no
  database.
- `cli_database_url`: where plain `alembic` commands connect when the runner is not in charge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from runner.core import alembic_internals, revisions
from runner.core.errors import AuroraMigrationsError, ConfigurationError
from runner.core.settings import Settings

NUMBER_WIDTH = 4
_NUMBERED = re.compile(f"[0-9]{{{NUMBER_WIDTH}}}")


def next_revision_number(existing: Iterable[str]) -> str | None:
    """The next NNNN id, or None when the project's ids are not all NNNN (hash ids)."""
    ids = list(existing)
    if not all(_NUMBERED.fullmatch(rev) for rev in ids):
        return None
    return f"{max((int(rev) for rev in ids), default=0) + 1:0{NUMBER_WIDTH}d}"


def number_new_revision(context: MigrationContext, revision: Any, directives: list[Any]) -> None:
    """process_revision_directives hook: in a numbered project the new id is the next number."""
    if context.config is not None and _explicit_rev_id(context.config):
        return
    number = next_revision_number(_ids(alembic_internals.script_of(context)))
    if number is None:
        return
    for directive in directives:
        directive.rev_id = number


def number_merges(config: Config, script: ScriptDirectory) -> None:
    """`alembic merge` has no hook for its id: in a numbered project it gets the next number."""
    if alembic_internals.command_name(config) != "merge" or _explicit_rev_id(config):
        return
    number = next_revision_number(_ids(script))
    if number is not None:
        alembic_internals.use_id_for_merge(number)


def refuse_duplicates(config: Config, script: ScriptDirectory) -> None:
    """Two files with one id: refuse before Alembic silently picks one of them.

    Under the `alembic` command line the error becomes Alembic's `CommandError`, which it
    prints as `FAILED: DuplicateRevision: ...` instead of a traceback.
    """
    with _as_command_error(config):
        revisions.check_unique(script)


@contextmanager
def _as_command_error(config: Config) -> Iterator[None]:
    """Under the `alembic` command line, our errors become Alembic's `CommandError`, which it
    prints as `FAILED: <type>: <message>`; called from a program, they stay as they are."""
    try:
        yield
    except AuroraMigrationsError as exc:
        if config.cmd_opts is None:
            raise
        raise CommandError(f"{type(exc).__name__}: {exc.message}") from None


def is_authoring(config: Config) -> bool:
    """True for `alembic revision` without --autogenerate, and `alembic merge`: only a file
    is written."""
    command = alembic_internals.command_name(config)
    if command == "merge":
        return True
    return command == "revision" and not getattr(config.cmd_opts, "autogenerate", False)


def _explicit_rev_id(config: Config) -> bool:
    return bool(getattr(config.cmd_opts, "rev_id", None))


def _ids(script: ScriptDirectory) -> list[str]:
    return [found.revision for found in revisions.scan(script)]


def cli_database_url(config: Config) -> str:
    """DATABASE_URL, else the local development database if it is running."""
    with _as_command_error(config):
        settings = Settings.from_env()
        if settings.database_url:
            return settings.database_url
        from runner.local import devdb

        url = devdb.running_url(settings)
        if url is None:
            raise ConfigurationError(
                "No database to connect to: set DATABASE_URL, or start the local development "
                "database with `aurora-migrate devdb start`."
            )
        return url.render_as_string(hide_password=False)

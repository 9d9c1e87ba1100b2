"""Alembic environment for the Aurora schema.

The runner (`runner.core.engine`) owns the connection and hands it over in
`config.attributes["connection"]`, with its `on_version_apply` hooks. Plain `alembic`
commands (authors, pytest-alembic) connect to DATABASE_URL or the local dev database, and
first refuse a project where two files declare one revision id (the runner checks that
itself before it connects). Every revision runs in its own transaction
(`transaction_per_migration=True`).
"""

from logging.config import fileConfig
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from alembic import context
from runner.core.alembic_internals import read_no_version_table
from runner.core.alembic_support import (
    cli_database_url,
    is_authoring,
    number_merges,
    number_new_revision,
    refuse_duplicates,
)

config = context.config
if not config.attributes.get("managed_by_runner"):
    if config.config_file_name:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    refuse_duplicates(config, context.script)
    number_merges(config, context.script)

COMMON: dict[str, Any] = {
    "transaction_per_migration": True,
    "process_revision_directives": number_new_revision,
}


def run_migrations_offline() -> None:
    """Emit SQL instead of running it (`alembic ... --sql`, `aurora-migrate sql`)."""
    context.configure(dialect_name="postgresql", literal_binds=True, **COMMON)
    with context.begin_transaction():
        context.run_migrations()


def run_authoring() -> None:
    """`alembic revision`: nothing touches a database; we only number the new file."""
    context.configure(dialect_name="postgresql", **COMMON)
    read_no_version_table(context.get_context())  # there is no connection to read it from
    context.run_migrations()


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        on_version_apply=config.attributes.get("on_version_apply", ()),
        **COMMON,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        run_on(given)
        return
    # pytest-alembic hands over an Engine; plain `alembic` commands get nothing.
    engine = (
        given
        if isinstance(given, Engine)
        else create_engine(cli_database_url(config), poolclass=NullPool)
    )
    with engine.connect() as connection:
        run_on(connection)
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
elif is_authoring(config):
    run_authoring()
else:
    run_migrations_online()

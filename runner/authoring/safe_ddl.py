"""Revision helpers for schema changes on tables that serve live traffic.

Use them from a revision (`from runner.authoring import safe_ddl`). Each is idempotent: rerun
after a failure halfway, it finishes the job without manual cleanup. Each says which lock it takes.
Steps that must not share the revision's transaction run in `autocommit_block()`, which
first commits the work the revision did before it (the runner records such a revision right
after it: README, "How a run stays safe"). Offline (`aurora-migrate sql`, lint) they emit the
statements they would run, without reading the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alembic import op
from runner.core.logs import log_event


class UnsafeDdlRequest(ValueError):
    """A helper was called with arguments it cannot apply safely; it changed nothing.

    Not an `AuroraMigrationsError` on purpose: raised inside a revision, the engine reports it
    as that revision's `MigrationFailed`, with the state read back from the database.
    """


Constant = str | int | float | bool | Decimal
DEFAULT_BATCH_SIZE = 1000


def create_index_concurrently(
    index_name: str,
    table_name: str,
    columns: Sequence[str | sa.TextClause],
    *,
    schema: str | None = None,
    unique: bool = False,
    where: str | None = None,
) -> None:
    """CREATE INDEX CONCURRENTLY: SHARE UPDATE EXCLUSIVE, so reads and writes go on.

    A failed earlier try leaves an INVALID index of that name: it is dropped (concurrently)
    and built again. A valid index of that name means the work is done.
    """
    context = op.get_context()
    options: dict[str, Any] = {"postgresql_where": sa.text(where)} if where else {}
    with context.autocommit_block():
        if context.as_sql:
            op.create_index(
                index_name, table_name, list(columns), schema=schema, unique=unique,
                postgresql_concurrently=True, if_not_exists=True, **options,
            )  # fmt: skip
            return
        valid = _index_valid(op.get_bind(), index_name, schema)
        if valid is True:
            log_event("safe_ddl.index_exists", index=index_name)
            return
        if valid is False:
            log_event("safe_ddl.invalid_index_dropped", level=logging.WARNING, index=index_name)
            op.drop_index(
                index_name, table_name=table_name, schema=schema,
                postgresql_concurrently=True, if_exists=True,
            )  # fmt: skip
        op.create_index(
            index_name, table_name, list(columns), schema=schema, unique=unique,
            postgresql_concurrently=True, **options,
        )  # fmt: skip


def add_check_constraint(
    constraint_name: str, table_name: str, condition: str, *, schema: str | None = None
) -> None:
    """ADD CHECK ... NOT VALID (ACCESS EXCLUSIVE, briefly: no scan), then VALIDATE in its own
    transaction (SHARE UPDATE EXCLUSIVE: reads and writes go on while it scans)."""
    context = op.get_context()
    state = (
        None
        if context.as_sql
        else _constraint_valid(op.get_bind(), constraint_name, _table(table_name, schema))
    )
    if state is None:
        op.create_check_constraint(
            constraint_name, table_name, sa.text(condition), schema=schema,
            postgresql_not_valid=True,
        )  # fmt: skip
    if state is not True:
        _validate(constraint_name, table_name, schema)


def add_foreign_key(
    constraint_name: str,
    source_table: str,
    referent_table: str,
    local_cols: Sequence[str],
    remote_cols: Sequence[str],
    *,
    source_schema: str | None = None,
    referent_schema: str | None = None,
    ondelete: str | None = None,
) -> None:
    """ADD FOREIGN KEY ... NOT VALID (SHARE ROW EXCLUSIVE on both tables, briefly: no scan),
    then VALIDATE in its own transaction (SHARE UPDATE EXCLUSIVE: writes go on)."""
    context = op.get_context()
    state = (
        None
        if context.as_sql
        else _constraint_valid(op.get_bind(), constraint_name, _table(source_table, source_schema))
    )
    if state is None:
        op.create_foreign_key(
            constraint_name, source_table, referent_table, list(local_cols), list(remote_cols),
            source_schema=source_schema, referent_schema=referent_schema, ondelete=ondelete,
            postgresql_not_valid=True,
        )  # fmt: skip
    if state is not True:
        _validate(constraint_name, source_table, source_schema)


def add_not_null_column(
    table_name: str,
    column_name: str,
    type_: sa.types.TypeEngine[object],
    *,
    default: Constant | None = None,
    backfill: str | None = None,
    key: str = "id",
    batch_size: int = DEFAULT_BATCH_SIZE,
    schema: str | None = None,
) -> None:
    """Add a NOT NULL column without rewriting or scanning the table under ACCESS EXCLUSIVE.

    Give exactly one of: `default`, a constant (PostgreSQL 11+ stores it in the catalog: a
    brief ACCESS EXCLUSIVE, no rewrite); or `backfill`, an SQL expression for existing rows:
    the column is added nullable, filled in batches (row locks, one batch at a time),
    checked by a validated `CHECK (column IS NOT NULL)` (SHARE UPDATE EXCLUSIVE while it
    scans), then `SET NOT NULL` uses that check instead of a scan and the check is dropped.
    """
    if (default is None) == (backfill is None):
        raise UnsafeDdlRequest(
            f"add_not_null_column({table_name!r}, {column_name!r}) needs exactly one of "
            "`default` (a constant) or `backfill` (an SQL expression for existing rows)."
        )
    if default is not None and not isinstance(default, Constant):
        raise UnsafeDdlRequest(
            f"add_not_null_column({table_name!r}, {column_name!r}): `default` must be a "
            f"constant (str, int, float, bool, Decimal), not {type(default).__name__}; a "
            "volatile default rewrites the table. Use `backfill=` for an expression."
        )
    context = op.get_context()
    exists = (
        None
        if context.as_sql
        else _column_not_null(op.get_bind(), _table(table_name, schema), column_name)
    )
    if exists is True:
        log_event("safe_ddl.column_exists", table=table_name, column=column_name)
        return
    if default is not None:
        if exists is None:
            op.add_column(
                table_name,
                sa.Column(column_name, type_, nullable=False, server_default=_literal(default)),
                schema=schema,
            )
            return
        backfill = _literal(default).text  # a half-done earlier try left it nullable
    assert backfill is not None
    if exists is None:
        op.add_column(table_name, sa.Column(column_name, type_, nullable=True), schema=schema)
    column = _quote(column_name)
    backfill_in_batches(
        table_name, f"{column} = {backfill}", where=f"{column} IS NULL", key=key,
        batch_size=batch_size, schema=schema,
    )  # fmt: skip
    check = f"{table_name}_{column_name}_not_null"[:63]
    add_check_constraint(check, table_name, f"{column} IS NOT NULL", schema=schema)
    op.alter_column(table_name, column_name, nullable=False, schema=schema)
    # squawk cannot tell this check is the one added above, only to make SET NOT NULL cheap.
    op.execute(
        "-- squawk-ignore ban-drop-constraint\n"
        f"ALTER TABLE {_table(table_name, schema)} DROP CONSTRAINT {_quote(check)}"
    )


def backfill_in_batches(
    table_name: str,
    set_sql: str,
    *,
    where: str | None = None,
    key: str = "id",
    batch_size: int = DEFAULT_BATCH_SIZE,
    schema: str | None = None,
) -> int:
    """UPDATE `batch_size` rows at a time, in `key` order, each batch its own transaction
    (row locks on that batch only), logging progress. Returns the rows updated.

    `set_sql` is the SET list (`"status = 'new'"`), `where` limits the rows (make it false
    for rows already done, so a rerun skips them); `key` is a unique, ordered column.
    """
    if batch_size < 1:
        raise UnsafeDdlRequest(
            f"backfill_in_batches: batch_size must be 1 or more, not {batch_size}."
        )
    context = op.get_context()
    table, quoted_key = _table(table_name, schema), _quote(key)
    extra = f" AND ({where})" if where else ""
    statement = (
        f"WITH batch AS (SELECT {quoted_key} AS batch_key FROM {table} WHERE {{after}}TRUE{extra} "
        f"ORDER BY {quoted_key} LIMIT {int(batch_size)}), "
        f"done AS (UPDATE {table} AS t SET {set_sql} FROM batch "
        f"WHERE t.{quoted_key} = batch.batch_key RETURNING 1) "
        "SELECT (SELECT count(*) FROM done), "
        "(SELECT batch_key FROM batch ORDER BY batch_key DESC LIMIT 1)"
    )
    with context.autocommit_block():
        if context.as_sql:
            op.execute(f"-- repeated, in batches of {batch_size}, until no row is left\n"
                       + statement.format(after=""))  # fmt: skip
            return 0
        conn, last, total, batches = op.get_bind(), None, 0, 0
        started = time.monotonic()
        while True:
            after = "" if last is None else f"{quoted_key} > :last AND "
            row = conn.execute(sa.text(statement.format(after=after)), {"last": last}).one()
            count, last_key = int(row[0]), row[1]
            if count == 0:
                break
            total, batches, last = total + count, batches + 1, last_key
            log_event(
                "safe_ddl.backfill.batch", table=table_name, batch=batches, rows=count,
                total=total, last_key=str(last_key),
            )  # fmt: skip
        log_event(
            "safe_ddl.backfill.done", table=table_name, batches=batches, total=total,
            duration_ms=int((time.monotonic() - started) * 1000),
        )  # fmt: skip
        return total


# --- the catalog -------------------------------------------------------------------------


def _index_valid(conn: Connection, name: str, schema: str | None) -> bool | None:
    """True: a valid index; False: an invalid one (a failed CONCURRENTLY); None: none."""
    found = conn.execute(
        sa.text(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = :name AND n.nspname = coalesce(:schema, current_schema())"
        ),
        {"name": name, "schema": schema},
    ).scalar()
    return None if found is None else bool(found)


def _constraint_valid(conn: Connection, name: str, table: str) -> bool | None:
    """True: validated; False: added NOT VALID, not validated yet; None: not there."""
    found = conn.execute(
        sa.text(
            "SELECT convalidated FROM pg_constraint "
            "WHERE conname = :name AND conrelid = to_regclass(:table)"
        ),
        {"name": name, "table": table},
    ).scalar()
    return None if found is None else bool(found)


def _column_not_null(conn: Connection, table: str, column: str) -> bool | None:
    """True: there and NOT NULL; False: there but nullable (an earlier try stopped); None."""
    found = conn.execute(
        sa.text(
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = to_regclass(:table) "
            "AND attname = :column AND attnum > 0 AND NOT attisdropped"
        ),
        {"table": table, "column": column},
    ).scalar()
    return None if found is None else bool(found)


def _validate(name: str, table_name: str, schema: str | None) -> None:
    """VALIDATE CONSTRAINT in a transaction of its own: the ADD before it is committed first
    (its brief lock released before the long scan), and the scan's lock ends with it."""
    context = op.get_context()
    with context.autocommit_block():
        pass  # commits the revision's transaction so far; a new one starts on leaving
    op.execute(f"ALTER TABLE {_table(table_name, schema)} VALIDATE CONSTRAINT {_quote(name)}")
    with context.autocommit_block():
        pass


def _literal(value: Constant) -> sa.TextClause:
    compiled = sa.literal(value).compile(
        dialect=op.get_context().dialect, compile_kwargs={"literal_binds": True}
    )
    return sa.text(str(compiled))


def _quote(name: str) -> str:
    return op.get_context().dialect.identifier_preparer.quote(name)


def _table(name: str, schema: str | None) -> str:
    preparer = op.get_context().dialect.identifier_preparer
    return (
        f"{preparer.quote_schema(schema)}.{preparer.quote(name)}"
        if schema
        else preparer.quote(name)
    )

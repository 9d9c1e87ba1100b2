"""Each safe_ddl helper, failed halfway on real PostgreSQL, finishes the job when the same
revision runs again after the data is fixed: no manual cleanup."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.core.errors import MigrationFailed
from runner.core.results import Request
from tests.conftest import LogCapture, engine_for, settings_for
from tests.revision_factory import Rev, write_tree
from tests.test_engine import scalar, versions

IMPORTS = "import sqlalchemy as sa  # noqa: F401\nfrom runner.authoring import safe_ddl\n"
ITEMS = Rev(
    "0001",
    None,
    """
    op.execute("CREATE TABLE items (id BIGINT PRIMARY KEY, code TEXT, owner BIGINT, size INT)")
    op.execute("CREATE TABLE owners (id BIGINT PRIMARY KEY)")
    op.execute("INSERT INTO owners SELECT g FROM generate_series(1, 9) g")
    op.execute("INSERT INTO items SELECT g, 'c' || g, g, g FROM generate_series(1, 9) g")
    """,
)


def at_0001(url: URL, tmp_path: Path, body: str) -> Path:
    """A tree of ITEMS and a revision 0002 running `body`; the database upgraded to 0001."""
    ini = write_tree(tmp_path, [ITEMS, Rev("0002", "0001", body, imports=IMPORTS)])
    upgrade(url, ini, "0001")
    return ini


def upgrade(url: URL, ini: Path, target: str = "head") -> None:
    engine_for(settings_for(url, alembic_config=str(ini))).run(Request("upgrade", target))


def fails(url: URL, ini: Path) -> MigrationFailed:
    with pytest.raises(MigrationFailed) as failed:
        upgrade(url, ini)
    assert versions(url) == ["0001"]
    return failed.value


def execute(url: URL, sql: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(sql))
    engine.dispose()


def index_state(url: URL, name: str) -> object:
    return scalar(
        url,
        f"SELECT indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        f"WHERE c.relname = '{name}'",
    )


def constraint_state(url: URL, name: str) -> object:
    return scalar(url, f"SELECT convalidated FROM pg_constraint WHERE conname = '{name}'")


def test_a_failed_concurrent_index_is_dropped_and_built_again(
    database_url: URL, tmp_path: Path
) -> None:
    body = 'safe_ddl.create_index_concurrently("ix_items_code", "items", ["code"], unique=True)'
    ini = at_0001(database_url, tmp_path, body)
    execute(database_url, "INSERT INTO items VALUES (10, 'c1', 1, 1)")  # a duplicate code

    error = fails(database_url, ini)

    assert "could not create unique index" in error.message
    assert index_state(database_url, "ix_items_code") is False  # left INVALID by the failure
    execute(database_url, "DELETE FROM items WHERE id = 10")

    upgrade(database_url, ini)

    assert versions(database_url) == ["0002"]
    assert index_state(database_url, "ix_items_code") is True


def test_a_valid_index_of_that_name_is_left_alone(database_url: URL, tmp_path: Path) -> None:
    body = 'safe_ddl.create_index_concurrently("ix_items_code", "items", ["code"])'
    ini = at_0001(database_url, tmp_path, body)
    execute(database_url, "CREATE INDEX ix_items_code ON items (code)")
    before = scalar(database_url, "SELECT 'ix_items_code'::regclass::oid")

    upgrade(database_url, ini)

    assert versions(database_url) == ["0002"]
    assert scalar(database_url, "SELECT 'ix_items_code'::regclass::oid") == before


def test_a_foreign_key_that_failed_to_validate_is_validated_on_rerun(
    database_url: URL, tmp_path: Path
) -> None:
    body = 'safe_ddl.add_foreign_key("fk_items_owner", "items", "owners", ["owner"], ["id"])'
    ini = at_0001(database_url, tmp_path, body)
    execute(database_url, "INSERT INTO items VALUES (10, 'c10', 99, 1)")  # owner 99: an orphan

    error = fails(database_url, ini)

    assert "violates foreign key constraint" in error.message
    assert constraint_state(database_url, "fk_items_owner") is False  # added NOT VALID
    execute(database_url, "INSERT INTO owners VALUES (99)")

    upgrade(database_url, ini)

    assert versions(database_url) == ["0002"]
    assert constraint_state(database_url, "fk_items_owner") is True


def test_a_check_constraint_that_failed_to_validate_is_validated_on_rerun(
    database_url: URL, tmp_path: Path
) -> None:
    body = 'safe_ddl.add_check_constraint("ck_items_size", "items", "size < 100")'
    ini = at_0001(database_url, tmp_path, body)
    execute(database_url, "UPDATE items SET size = 500 WHERE id = 3")

    error = fails(database_url, ini)

    assert "is violated by some row" in error.message
    assert constraint_state(database_url, "ck_items_size") is False
    execute(database_url, "UPDATE items SET size = 3 WHERE id = 3")

    upgrade(database_url, ini)

    assert versions(database_url) == ["0002"]
    assert constraint_state(database_url, "ck_items_size") is True


def test_a_backfill_keeps_the_batches_done_before_a_failure_and_finishes_on_rerun(
    database_url: URL, tmp_path: Path, logs: LogCapture
) -> None:
    body = (
        'safe_ddl.backfill_in_batches("items", "size = 1000 + size / size", '
        'where="size < 1000", batch_size=2)'
    )
    ini = at_0001(database_url, tmp_path, body)
    execute(database_url, "UPDATE items SET size = 0 WHERE id = 5")  # division by zero there

    error = fails(database_url, ini)

    assert "division by zero" in error.message
    # each batch committed alone: the two batches before id 5 stay done
    done = scalar(database_url, "SELECT array_agg(id ORDER BY id) FROM items WHERE size > 1000")
    assert done == [1, 2, 3, 4]
    assert [e["total"] for e in logs.events("safe_ddl.backfill.batch")] == [2, 4]
    execute(database_url, "UPDATE items SET size = 1 WHERE id = 5")

    upgrade(database_url, ini)

    assert versions(database_url) == ["0002"]
    assert scalar(database_url, "SELECT count(*) FROM items WHERE size < 1000") == 0
    assert logs.events("safe_ddl.backfill.done")[-1]["total"] == 5  # ids 5-9 this time


def test_a_not_null_column_whose_backfill_left_nulls_is_finished_on_rerun(
    database_url: URL, tmp_path: Path
) -> None:
    body = """
    safe_ddl.add_not_null_column(
        "items", "owner_code", sa.Text(),
        backfill="(SELECT 'o' || o.id FROM owners o WHERE o.id = owner)", batch_size=4,
    )
    """
    ini = at_0001(database_url, tmp_path, body)
    execute(database_url, "INSERT INTO items VALUES (10, 'c10', 42, 1)")  # no owner 42: NULL

    error = fails(database_url, ini)

    assert "is violated by some row" in error.message
    assert scalar(database_url, "SELECT count(*) FROM items WHERE owner_code IS NOT NULL") == 9
    execute(database_url, "INSERT INTO owners VALUES (42)")

    upgrade(database_url, ini)

    assert versions(database_url) == ["0002"]
    assert scalar(
        database_url,
        "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'items'::regclass "
        "AND attname = 'owner_code'",
    )
    assert scalar(database_url, "SELECT owner_code FROM items WHERE id = 10") == "o42"
    assert (
        scalar(
            database_url, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'items'::regclass"
        )
        == 1
    )  # the pkey


def test_a_not_null_column_needs_exactly_one_of_default_and_backfill(
    database_url: URL, tmp_path: Path
) -> None:
    ini = at_0001(database_url, tmp_path, 'safe_ddl.add_not_null_column("items", "x", sa.Text())')

    error = fails(database_url, ini)

    assert "needs exactly one of `default`" in error.message
    columns = "SELECT count(*) FROM information_schema.columns WHERE table_name = 'items'"
    assert scalar(database_url, columns) == 4

"""The example revision (tests/fixtures/safe_ddl) applies every safe pattern on real
PostgreSQL, ends in the schema it promises, and runs again after a downgrade."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from runner.core.results import Request
from tests.conftest import engine_for, settings_for
from tests.test_engine import rows, scalar, versions


def constraints(url: URL) -> dict[str, bool]:
    found = rows(
        url,
        "SELECT conname, convalidated FROM pg_constraint "
        "WHERE conrelid IN ('orders'::regclass, 'accounts'::regclass) AND contype IN ('f', 'c')",
    )
    return {str(name): bool(valid) for name, valid in found}


def not_null(url: URL, table: str, column: str) -> bool:
    return bool(
        scalar(
            url,
            f"SELECT attnotnull FROM pg_attribute WHERE attrelid = '{table}'::regclass "
            f"AND attname = '{column}'",
        )
    )


def test_the_example_revision_applies_every_safe_pattern(database_url: URL, tmp_path: Path) -> None:
    engine = engine_for(settings_for(database_url, "safe_ddl", tmp_path))
    result = engine.run(Request("upgrade"))

    assert [a.revision for a in result.applied] == ["0001", "0002"]
    assert versions(database_url) == ["0002"]
    assert scalar(
        database_url,
        "SELECT indisvalid AND indisunique FROM pg_index "
        "WHERE indexrelid = 'ix_accounts_email'::regclass",
    )
    assert constraints(database_url) == {"fk_orders_account": True, "ck_orders_id_positive": True}
    assert not_null(database_url, "accounts", "plan")
    assert not_null(database_url, "orders", "reference")
    assert scalar(database_url, "SELECT count(*) FROM accounts WHERE plan = 'free'") == 25
    assert scalar(database_url, "SELECT reference FROM orders WHERE id = 7") == "order-7"


def test_the_example_revision_goes_down_and_up_again(database_url: URL, tmp_path: Path) -> None:
    engine = engine_for(settings_for(database_url, "safe_ddl", tmp_path))
    engine.run(Request("upgrade"))
    engine.run(Request("downgrade", "0001", confirm="0002"))
    assert constraints(database_url) == {}

    engine.run(Request("upgrade"))

    assert versions(database_url) == ["0002"]
    assert not_null(database_url, "orders", "reference")

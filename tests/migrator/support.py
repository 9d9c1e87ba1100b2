"""Helpers for the migrator tests: a superuser's view of one test database, unique roles.

Roles are cluster-wide while every test has its own database, so each test gets role names
of its own and drops them at the end (`DROP OWNED BY`, then `DROP ROLE`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection

from runner.bootstrap import BootstrapOptions, BootstrapResult, bootstrap
from runner.core.database import UrlCredentials
from runner.core.engine import MigrationEngine
from runner.core.settings import Settings
from tests.conftest import engine_for, settings_for

PASSWORD = "M1gr@tor-Dist1nct!ve:pw/%zq"  # every character that needs escaping somewhere
ADMIN_PASSWORD = "Adm1n-Dist1nct!ve@pw/%kx"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


class Db:
    """One test database, seen and changed by the cluster's superuser."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.superuser = str(url.username)
        self._engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")

    def sql(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        with self._engine.connect() as conn:
            result = conn.execute(sa.text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []

    def scalar(self, statement: str, **params: Any) -> Any:
        rows = self.sql(statement, **params)
        return rows[0][0] if rows else None

    def role_exists(self, role: str) -> bool:
        return bool(self.scalar("SELECT count(*) FROM pg_roles WHERE rolname = :r", r=role))

    def schema_owner(self, schema: str = "public") -> str:
        return str(
            self.scalar(
                "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = :s", s=schema
            )
        )

    def owners(self, schema: str = "public") -> dict[str, str]:
        """relation -> owner, for every table, view and sequence in the schema."""
        rows = self.sql(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind IN ('r', 'p', 'v', 'm', 'S')",
            s=schema,
        )
        return {name: owner for name, owner in rows}

    def has_table(self, name: str, schema: str = "public") -> bool:
        return self.scalar("SELECT to_regclass(:n) IS NOT NULL", n=f"{schema}.{name}") is True

    def bootstrap_rows(self, schema: str = "public") -> list[tuple[Any, ...]]:
        if not self.has_table("aurora_migrations_history", schema):
            return []
        return self.sql(
            f"SELECT command, revision, direction, description FROM "
            f"{schema}.aurora_migrations_history WHERE direction = 'bootstrap' ORDER BY id"
        )

    def snapshot(self, role: str) -> dict[str, Any]:
        """Everything a bootstrap may change, to compare before and after."""
        return {
            "role": self.sql(
                "SELECT r.*, a.rolpassword FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid "
                "WHERE r.rolname = :r",
                r=role,
            ),
            "memberships": self.sql(
                "SELECT roleid::regrole::text, member::regrole::text FROM pg_auth_members "
                "ORDER BY 1, 2"
            ),
            "schemas": self.sql("SELECT nspname, nspowner, nspacl::text FROM pg_namespace"),
            "relations": self.sql("SELECT oid, relowner, relacl::text FROM pg_class ORDER BY oid"),
            "history": self.sql("SELECT count(*) FROM aurora_migrations_history")
            if self.has_table("aurora_migrations_history")
            else None,
        }

    def drop_role(self, role: str) -> None:
        if self.role_exists(role):
            self.sql(f"DROP OWNED BY {role} CASCADE")
            self.sql(f"DROP ROLE {role}")

    def dispose(self) -> None:
        self._engine.dispose()


@contextmanager
def connected_as(url: URL) -> Iterator[Connection]:
    """An autocommit connection as someone else (the migrator), for one test's statements."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def bootstrap_as(
    admin_url: URL,
    role: str,
    *,
    schema: str = "public",
    iam: bool = False,
    password: str | None = PASSWORD,
    settings: Settings | None = None,
) -> BootstrapResult:
    """What `aurora-migrate bootstrap-migrator --confirm ROLE` runs, as `admin_url`'s user."""
    return bootstrap(
        BootstrapOptions(role=role, schema=schema, iam=iam),
        UrlCredentials(admin_url),
        settings or Settings(),
        password=None if iam else password,
    )


def migrator_url(db: Db, role: str, password: str = PASSWORD) -> URL:
    return db.url.set(username=role, password=password)


def migrator_engine(
    db: Db, role: str, tree: str | None = None, tmp: Path | None = None
) -> MigrationEngine:
    """The runner's engine, logged in as the migrator (not as the master)."""
    return engine_for(settings_for(migrator_url(db, role), tree, tmp))

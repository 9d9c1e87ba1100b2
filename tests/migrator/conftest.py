"""Fixtures for the migrator tests: the test database seen by its superuser, a role name of
the test's own, an Aurora-like master user, and a stand-in rds_iam role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL

from tests.migrator.support import ADMIN_PASSWORD, Db, unique


@pytest.fixture
def db(database_url: URL) -> Iterator[Db]:
    found = Db(database_url)
    try:
        yield found
    finally:
        found.dispose()


@pytest.fixture
def role(db: Db) -> Iterator[str]:
    """A migrator role name of this test's own; dropped at the end."""
    name = unique("migrator")
    try:
        yield name
    finally:
        db.drop_role(name)


@pytest.fixture
def aurora_admin(db: Db) -> Iterator[URL]:
    """Like Aurora's master user: CREATEROLE and CREATEDB, owns the database, not superuser."""
    name = unique("aurora_admin")
    db.sql(f"CREATE ROLE {name} LOGIN CREATEROLE CREATEDB PASSWORD '{ADMIN_PASSWORD}'")
    db.sql(f'ALTER DATABASE "{db.url.database}" OWNER TO {name}')
    try:
        yield db.url.set(username=name, password=ADMIN_PASSWORD)
    finally:
        db.sql(f'ALTER DATABASE "{db.url.database}" OWNER TO {db.superuser}')
        db.drop_role(name)


@pytest.fixture
def rds_iam(db: Db) -> Iterator[str]:
    """A stand-in for RDS's rds_iam role (cluster-wide, so made and dropped per test)."""
    db.sql("CREATE ROLE rds_iam NOLOGIN")
    try:
        yield "rds_iam"
    finally:
        db.sql("DROP ROLE rds_iam")

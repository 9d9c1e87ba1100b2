"""The URLs people already have work: `postgres://` (Heroku, RDS consoles), `postgresql://`
(libpq) and `postgresql+psycopg2://` (SQLAlchemy) reach the same database with our driver;
anything that is not PostgreSQL is refused with the forms that are accepted."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import URL

from runner.core.database import UrlCredentials
from runner.core.errors import ConfigurationError
from tests.test_cli import cli

SCHEMES = ["postgres", "postgresql", "postgresql+psycopg2", "postgresql+asyncpg"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_postgresql_spelling_is_normalised_to_our_driver(scheme: str) -> None:
    source = UrlCredentials(f"{scheme}://u:pw-1234@db.example:6543/app?sslmode=require")

    url = source.url()

    assert url.drivername == "postgresql+psycopg2"
    assert (url.host, url.port, url.database, url.username) == ("db.example", 6543, "app", "u")
    assert url.query == {"sslmode": "require"}


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_the_cli_connects_with_them(scheme: str, database_url: URL) -> None:
    given = database_url.set(drivername=scheme).render_as_string(hide_password=False)

    done = cli("current", "--json", env={"DATABASE_URL": given})

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["after"] == []


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "sqlite:///x.db", "postgress://u:p@h/db"])
def test_other_databases_and_drivers_are_refused_naming_the_accepted_forms(url: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        UrlCredentials(url)

    assert "postgres://" in refused.value.message and "postgresql://" in refused.value.message

"""`dburl.parse` reads every URL string exactly as `sqlalchemy.make_url` does, so the fast path
connects where the engine connects, and refuses what the engine refuses."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import example, given
from hypothesis import strategies as st

from runner.core import dburl, redact
from runner.core.database import DRIVER, UrlCredentials
from runner.core.errors import ConfigurationError

PIECES = st.text(alphabet="ab9:/@?&=%[]+_.- 2F4", max_size=30)


def sqlalchemy_reads(text: str) -> sa.engine.URL | None:
    try:
        return sa.make_url(text)
    except (sa.exc.ArgumentError, ValueError):
        return None


def ours(text: str) -> sa.engine.URL | None:
    try:
        return dburl.parse(text).to_sqlalchemy()
    except ValueError:
        return None


@given(scheme=st.sampled_from(["postgresql", "postgres+psycopg2", "x", ""]), rest=PIECES)
@example(scheme="postgresql", rest="u:p%40ss@[::1]:6543/d%2Fb?sslmode=require&a=1&a=2")
@example(scheme="postgresql", rest="u@h:port/db")
@example(scheme="postgresql", rest="@:/?")
@example(scheme="postgresql", rest="u:pw@h/db?password=x&sslpassword=y&options=-c%20a%3Db")
def test_parse_agrees_with_sqlalchemy(scheme: str, rest: str) -> None:
    text = f"{scheme}://{rest}"
    assert ours(text) == sqlalchemy_reads(text)


@given(rest=PIECES)
def test_url_credentials_give_the_engine_the_url_it_got_before(rest: str) -> None:
    """Before: `sa.make_url(DATABASE_URL).set(drivername=DRIVER)`; the same URL, or an error."""
    text = f"postgres://{rest}"
    before = sqlalchemy_reads(text)
    try:
        source = UrlCredentials(text)
    except ConfigurationError:
        assert before is None
        return
    assert before is not None
    assert source.url() == before.set(drivername=DRIVER)
    target = source.target()
    assert (target.host, target.port, target.database, target.username) == (
        before.host,
        before.port,
        before.database,
        before.username,
    )
    assert source.password() == before.password


def test_a_sqlalchemy_url_is_taken_as_it_is() -> None:
    given_url = sa.make_url("postgresql://u:secret-1@h:1/db?sslmode=require&x=1&x=2")
    assert UrlCredentials(given_url).url() == given_url.set(drivername=DRIVER)


@pytest.mark.parametrize("param", ["password", "sslpassword", "my_token"])
def test_the_url_secrets_are_registered_without_sqlalchemy(param: str) -> None:
    UrlCredentials(f"postgresql://u:first-secret@h/db?{param}=second-secret")
    assert redact.scrub("first-secret second-secret") == "*** ***"

"""The fast path names the database exactly as the engine does, without SQLAlchemy, and
prints its summary exactly as rich does, without rich."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from rich.console import Console

from runner.adapters import render
from runner.adapters.cli_fast import describe, plain_summary, safe_url_text
from runner.core import redact
from runner.core.database import UrlCredentials
from runner.core.results import Result

URLS = [
    "postgresql://app@db.example.com/app",
    "postgresql+psycopg2://app:s3cret@db.example.com:6543/app",
    "postgres://a%40b:p%2Fw@[::1]:5432/my%20db",
    "postgresql://u:p@h/d?sslmode=verify-full&application_name=x y",
    "postgresql://u:p@h/d?password=leak&sslmode=require",
    "postgresql://u@h/d?sslpassword=x&Token=y&options=-c%20a%3Db",
    "postgresql://u@h/d?keepalives=1&keepalives=2",
    "postgresql:///local",
    "postgresql://h/d+e/f",
]


@pytest.mark.parametrize("text", URLS)
def test_the_same_text_as_safe_url(text: str) -> None:
    url = sa.make_url(text)
    assert safe_url_text(url) == redact.safe_url(url)


@pytest.mark.parametrize("text", URLS)
def test_describe_a_source_as_the_engine_does(text: str) -> None:
    source = UrlCredentials(text)
    assert describe(source) == redact.safe_url(source.url())


# --- the plain summary: rich's bytes, or None -------------------------------------------------

DATABASES = [
    "postgresql+psycopg2://app:***@db.example.com:5432/app",
    "postgresql+psycopg2://app@[::1]:5432/app",
    "postgresql+psycopg2://u@h/[bold]x[/bold]",
    "postgresql+psycopg2://u@h/:smile:",
    "postgresql+psycopg2://u@h/a\rb",
    "postgresql+psycopg2://u@h/d?sslmode=require&password=***",
]
RESULTS = [
    Result(command="heads", heads=["0002", "0003"], message="2 head(s)"),
    Result(command="current", before=["0002"], after=["0002"], heads=["0002"], duration_ms=7),
    Result(
        command="upgrade",
        before=["0002"],
        after=["0002"],
        target="0002",
        heads=["0002"],
        message="Nothing to do: the database is already there.",
        duration_ms=12,
    ),
]


@pytest.mark.parametrize("database", DATABASES)
@pytest.mark.parametrize("result", RESULTS, ids=lambda r: r.command)
def test_the_plain_summary_is_what_rich_prints_or_none(result: Result, database: str) -> None:
    stream = io.StringIO()
    render.result(Console(file=stream, soft_wrap=True), result, database=database)

    plain = plain_summary(result, database)

    assert plain is None or plain == stream.getvalue()
    if "[" not in database and ":smile:" not in database and "\r" not in database:
        assert plain is not None, "the ordinary case is printed without rich"

"""The fast path names the database exactly as the engine does, without SQLAlchemy."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from runner.adapters.cli_fast import describe, safe_url_text
from runner.core import redact
from runner.core.database import UrlCredentials

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

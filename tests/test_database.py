"""Connections the runner opens: what a failing statement's error may say."""

from __future__ import annotations

from contextlib import closing

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from runner.core.database import UrlCredentials, connect, make_engine
from runner.core.settings import Settings

PARAMETER = "s3cret-bound-value"


def test_a_failing_statement_does_not_echo_its_bound_parameters(database_url: URL) -> None:
    """SQLAlchemy appends `[parameters: ...]` to a DBAPIError's text unless the engine hides
    them; a history row's values or a revision's bound values must not reach logs that way."""
    source = UrlCredentials(database_url)
    engine = make_engine(source, Settings())
    statement = sa.text("SELECT CAST(:value AS text) || (1 / 0)")
    with closing(connect(engine, source)) as conn, pytest.raises(sa.exc.DBAPIError) as failed:
        conn.execute(statement, {"value": PARAMETER})
    engine.dispose()

    assert "division by zero" in str(failed.value)
    assert PARAMETER not in str(failed.value)

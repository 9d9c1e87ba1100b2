"""Revision expressions are resolved to concrete ids before anything runs.

Each test is one counterexample from the "[trust]" issue: an expression that passed
validation and then did something else (applied everything, reverted a branch chosen
arbitrarily, crashed inside Alembic) or a result that recorded `head` instead of ids.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from runner.adapters.events import parse_event
from runner.core.engine import MigrationEngine
from runner.core.errors import BadRequest, InvalidTarget, MalformedRevision, MultipleHeads
from runner.core.results import Request
from tests.conftest import engine_for, settings_for
from tests.test_engine import rows, scalar, versions


def snapshot(url: URL) -> tuple[object, ...]:
    tables = rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    history = (
        rows(url, "SELECT revision, direction FROM aurora_migrations_history ORDER BY id")
        if ("aurora_migrations_history",) in tables
        else None
    )
    return (versions(url), tables, history)


def history(url: URL) -> list[tuple[object, ...]]:
    return rows(url, "SELECT revision, direction FROM aurora_migrations_history ORDER BY id")


def tree(url: URL, name: str, tmp: Path) -> MigrationEngine:
    return engine_for(settings_for(url, name, tmp))


# --- counterexamples: out of range, from several heads, inside Alembic ---------------------


def test_base_minus_one_from_an_empty_database_is_refused(
    database_url: URL, tmp_path: Path
) -> None:
    """Alembic wraps negative indexes: `base-1` used to apply every revision to head."""
    engine = tree(database_url, "chain", tmp_path)
    with pytest.raises(InvalidTarget) as refused:
        engine.run(Request("upgrade", "base-1"))
    assert "base-1" in str(refused.value)
    assert snapshot(database_url) == ([], [], None)


def test_relative_downgrade_from_two_heads_is_refused(database_url: URL, tmp_path: Path) -> None:
    """`downgrade -2` at 0002a,0002b used to revert three revisions chosen arbitrarily."""
    engine = tree(database_url, "branched", tmp_path)
    engine.run(Request("upgrade", "heads"))
    before = snapshot(database_url)
    with pytest.raises(MultipleHeads) as refused:
        engine.run(Request("downgrade", "-2", confirm="0002a,0002b"))
    assert "0002a" in str(refused.value) and "0002b" in str(refused.value)
    assert snapshot(database_url) == before


@pytest.mark.parametrize(
    ("command", "expression", "confirm"),
    [
        ("upgrade", "head+1", None),
        ("upgrade", "heads+1", None),
        ("upgrade", "0001+9", None),
        ("upgrade", "0004+1", None),
        ("downgrade", "0001-2", "0002"),
        ("downgrade", "-3", "0002"),
        ("upgrade", "+5", None),
    ],
)
def test_out_of_range_is_invalid_target(
    database_url: URL, tmp_path: Path, command: str, expression: str, confirm: str | None
) -> None:
    """These raised AssertionError inside Alembic (a traceback, `InternalError` in Lambda)."""
    engine = tree(database_url, "chain", tmp_path)
    engine.run(Request("upgrade", "0002"))
    before = snapshot(database_url)
    with pytest.raises(InvalidTarget) as refused:
        engine.run(Request(command, expression, confirm=confirm))
    assert expression in str(refused.value)
    assert snapshot(database_url) == before


def test_stamp_minus_one_at_base_is_invalid_target(database_url: URL, tmp_path: Path) -> None:
    engine = tree(database_url, "chain", tmp_path)
    with pytest.raises(InvalidTarget):
        engine.run(Request("stamp", "-1", confirm="base"))
    assert snapshot(database_url) == ([], [], None)


def test_zero_steps_resolve_to_the_anchor(database_url: URL, tmp_path: Path) -> None:
    """`base+0` raised AssertionError; `X+0` is X itself."""
    engine = tree(database_url, "chain", tmp_path)
    assert engine.run(Request("upgrade", "base+0")).applied == []
    assert snapshot(database_url) == ([], [], None)
    done = engine.run(Request("upgrade", "0002+0"))
    assert [a.revision for a in done.applied] == ["0001", "0002"]


def test_upgrade_to_a_revision_behind_the_database_is_refused(
    database_url: URL, tmp_path: Path
) -> None:
    engine = tree(database_url, "chain", tmp_path)
    engine.run(Request("upgrade", "0003"))
    before = snapshot(database_url)
    for expression in ("0001", "-1", "base", "0004-2"):
        with pytest.raises(InvalidTarget) as refused:
            engine.run(Request("upgrade", expression))
        assert "behind" in str(refused.value), expression
    assert snapshot(database_url) == before
    assert engine.run(Request("upgrade", "0003")).applied == [], "the current revision: no-op"


def test_downgrade_to_a_revision_ahead_of_the_database_is_refused(
    database_url: URL, tmp_path: Path
) -> None:
    engine = tree(database_url, "chain", tmp_path)
    engine.run(Request("upgrade", "0002"))
    before = snapshot(database_url)
    for expression in ("0003", "+1", "head"):
        with pytest.raises(InvalidTarget) as refused:
            engine.run(Request("downgrade", expression, confirm="0002"))
        assert "ahead" in str(refused.value), expression
    assert snapshot(database_url) == before


def test_relative_step_across_a_branch_point_is_refused(database_url: URL, tmp_path: Path) -> None:
    """From 0001 the tree forks: `+1` could be 0002a or 0002b, so it is refused, not guessed."""
    engine = tree(database_url, "branched", tmp_path)
    engine.run(Request("upgrade", "0001"))
    with pytest.raises(InvalidTarget) as refused:
        engine.run(Request("upgrade", "+1"))
    assert "0002a" in str(refused.value) and "0002b" in str(refused.value)
    assert versions(database_url) == ["0001"]


def test_relative_step_across_a_merge_point_is_refused(database_url: URL, tmp_path: Path) -> None:
    engine = tree(database_url, "merged", tmp_path)
    engine.run(Request("upgrade", "0003"))
    with pytest.raises(InvalidTarget) as refused:
        engine.run(Request("downgrade", "-1", confirm="0003"))
    assert "0002a" in str(refused.value) and "0002b" in str(refused.value)
    assert versions(database_url) == ["0003"]


def test_relative_step_from_a_tree_with_several_heads_is_refused(
    database_url: URL, tmp_path: Path
) -> None:
    engine = tree(database_url, "branched", tmp_path)
    for expression in ("head-1", "heads-1", "heads+0"):
        with pytest.raises(MultipleHeads):
            engine.run(Request("upgrade", expression))
    assert versions(database_url) == []


# --- malformed and oversized expressions ------------------------------------------------------


@pytest.mark.parametrize("expression", ["-1\n", "head\n", " head", "+-1", "head-", "0017-1-1"])
def test_malformed_expressions_are_refused(expression: str) -> None:
    with pytest.raises(MalformedRevision):
        parse_event({"command": "upgrade", "revision": expression})


def test_a_step_of_five_thousand_digits_is_a_bad_request_that_does_not_echo_it() -> None:
    """It raised `ValueError: Exceeds the limit (4300 digits)`."""
    huge = "+" + "9" * 5000
    with pytest.raises(BadRequest) as refused:
        parse_event({"command": "upgrade", "revision": huge})
    assert len(refused.value.message) < 400
    with pytest.raises(BadRequest) as refused:
        parse_event({"command": "downgrade", "revision": "-1", "confirm": "x" * 10_000})
    assert len(refused.value.message) < 400


def test_a_long_but_allowed_step_is_simply_out_of_range(database_url: URL, tmp_path: Path) -> None:
    engine = tree(database_url, "chain", tmp_path)
    with pytest.raises(InvalidTarget):
        engine.run(parse_event({"command": "upgrade", "revision": "+" + "9" * 200}))
    assert versions(database_url) == []


# --- records and results carry resolved ids ----------------------------------------------------


def test_results_and_history_name_concrete_revisions(database_url: URL, tmp_path: Path) -> None:
    engine = tree(database_url, "chain", tmp_path)
    up = engine.run(Request("upgrade", "+2"))
    assert up.target == "0002" and up.target_expression == "+2"
    assert [a.revision for a in up.applied] == ["0001", "0002"]
    head = engine.run(Request("upgrade", "head"))
    assert head.target == "0004" and [a.revision for a in head.applied] == ["0003", "0004"]
    down = engine.run(Request("downgrade", "base+1", confirm="0004"))
    assert down.target == "0001" and [a.revision for a in down.applied] == ["0004", "0003", "0002"]
    stamp = engine.run(Request("stamp", "head", confirm="0001"))
    assert stamp.target == "0004" and [a.revision for a in stamp.applied] == ["0004"]
    unstamp = engine.run(Request("stamp", "base", confirm="0004"))
    assert unstamp.target == "base" and [a.revision for a in unstamp.applied] == ["0004"]
    recorded = [str(r[0]) for r in history(database_url)]
    assert all(r.isdigit() for r in recorded), recorded
    assert history(database_url)[-2:] == [("0004", "stamp"), ("0004", "stamp")]


def test_downgrade_from_two_heads_to_one_of_them(database_url: URL, tmp_path: Path) -> None:
    """An explicit id is fine from several heads: the database ends exactly there."""
    engine = tree(database_url, "branched", tmp_path)
    engine.run(Request("upgrade", "heads"))
    done = engine.run(Request("downgrade", "0002a", confirm="0002a,0002b"))
    assert [a.revision for a in done.applied] == ["0002b"]
    assert done.after == ["0002a"] and versions(database_url) == ["0002a"]


def test_stamp_sets_exactly_the_target(database_url: URL, tmp_path: Path) -> None:
    engine = tree(database_url, "branched", tmp_path)
    engine.run(Request("stamp", "0002a", confirm="base"))
    done = engine.run(Request("stamp", "0002b", confirm="0002a"))
    assert done.after == ["0002b"] and versions(database_url) == ["0002b"]
    both = engine.run(Request("stamp", "heads", confirm="0002b"))
    assert both.after == ["0002a", "0002b"] and [a.revision for a in both.applied] == ["0002a"]
    assert scalar(database_url, "SELECT count(*) FROM aurora_migrations_history") == 3


def test_upgrade_through_a_merge_point(database_url: URL, tmp_path: Path) -> None:
    engine = tree(database_url, "merged", tmp_path)
    engine.run(Request("upgrade", "0002a"))
    done = engine.run(Request("upgrade", "head"))
    assert [a.revision for a in done.applied] == ["0002b", "0003", "0004"]
    assert versions(database_url) == ["0004"]
    back = engine.run(Request("downgrade", "0002b", confirm="0004"))
    assert [a.revision for a in back.applied] == ["0004", "0003", "0002a"]
    assert versions(database_url) == ["0002b"]
    ledger = sorted(str(r[0]) for r in rows(database_url, "SELECT revision FROM ledger"))
    assert ledger == ["0001", "0002b"]


# --- sql ----------------------------------------------------------------------------------------


def test_sql_from_a_database_with_two_heads(database_url: URL, tmp_path: Path) -> None:
    """It always failed: `Can't locate revision identified by '0002a,0002b'`."""
    engine = tree(database_url, "merged", tmp_path)
    engine.run(Request("upgrade", "0002a"))
    engine.run(Request("upgrade", "0002b"))
    assert versions(database_url) == ["0002a", "0002b"]
    up = engine.run(Request("sql", "head"))
    assert up.pending == ["0003", "0004"] and up.target == "0004"
    assert up.sql is not None and "INSERT INTO ledger VALUES ('0003')" in up.sql
    down = engine.run(Request("sql", "0001"))
    assert down.pending == ["0002b", "0002a"]
    assert down.sql is not None and "DELETE FROM ledger WHERE revision = '0002a'" in down.sql
    assert versions(database_url) == ["0002a", "0002b"]

"""The no-op fast path answers exactly what the engine answers, and only when nothing is to do.

Every scenario runs twice through the Lambda handler, on two identical databases: once with a
bundle manifest (the fast path may answer) and once without (the engine always answers). The
results must be equal apart from durations, and the fast path must never write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from runner.adapters import handler
from runner.core import errors, fastpath
from tests.conftest import Server
from tests.revision_factory import Rev, write_tree
from tests.test_engine import rows

LINEAR = [
    Rev("0001", None, "op.execute('CREATE TABLE a (id int)')"),
    Rev("0002", "0001", "op.execute('CREATE TABLE b (id int)')"),
]
TWO_HEADS = [
    *LINEAR[:1],
    Rev("0002", "0001", "op.execute('CREATE TABLE b (id int)')"),
    Rev("0003", "0001", "op.execute('CREATE TABLE c (id int)')"),
]
IGNORED = {"duration_ms", "lock_wait_ms"}
# The history columns both paths must agree on (ids, times, run ids and pids differ).
# (to_jsonb: an older table has no status or checksum column.)
HISTORY_ROWS = (
    "SELECT revision, direction, to_jsonb(h)->>'status', to_jsonb(h)->>'checksum'"
    " FROM aurora_migrations_history h ORDER BY id"
)  # timings differ; the fast path waits for no lock


def write_manifest(ini: Path) -> Path:
    """manifest.json next to alembic.ini, with the keys `runner.bundle.build` writes."""
    script = ScriptDirectory.from_config(Config(str(ini)))
    versions = Path(script.versions)
    manifest = {
        "revisions": [r.revision for r in reversed(list(script.walk_revisions()))],
        "heads": list(script.get_heads()),
        "revision_files": {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in versions.glob("*.py")
        },
        "revision_checksums": {
            sc.revision: hashlib.sha256(Path(sc.path).read_bytes()).hexdigest()
            for sc in script.walk_revisions()
        },
    }
    path = ini.parent / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def _without_timings(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_timings(v) for k, v in data.items() if k not in IGNORED}
    if isinstance(data, list):
        return [_without_timings(v) for v in data]
    return data


class Side:
    """One database and one project: with a manifest (fast) or without (engine only)."""

    def __init__(self, url: URL, ini: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.url, self.ini, self.monkeypatch = url, ini, monkeypatch

    def call(self, event: dict[str, Any]) -> dict[str, Any] | str:
        """The handler's result without timings, or the error type it raised."""
        self.monkeypatch.setenv("DATABASE_URL", self.url.render_as_string(hide_password=False))
        self.monkeypatch.setenv("ALEMBIC_CONFIG", str(self.ini))
        handler.reset_engine()
        try:
            result = handler.handler(event, None)
        except errors.AuroraMigrationsError as exc:
            return type(exc).__name__
        finally:
            self.fast = handler._engine is None
            handler.reset_engine()
        without: dict[str, Any] = _without_timings(result)
        return without

    def sql(self, statement: str) -> None:
        engine = sa.create_engine(self.url)
        with engine.begin() as conn:
            conn.exec_driver_sql(statement)
        engine.dispose()

    def state(self) -> tuple[object, ...]:
        """The version rows, the tables and the history rows (what a run may have written)."""
        tables = rows(
            self.url, "SELECT tablename FROM pg_tables WHERE schemaname='public' ORDER BY 1"
        )
        history = None
        if ("aurora_migrations_history",) in tables:
            history = rows(self.url, HISTORY_ROWS)
        if ("alembic_version",) not in tables:
            return (None, tables, history)
        versions = rows(self.url, "SELECT version_num FROM alembic_version ORDER BY 1")
        return (versions, tables, history)

    def edit(self, revision: str) -> None:
        """Edit a revision's file (a comment); the fast side's manifest is rebuilt to match."""
        changed = next((self.ini.parent / "tree" / "versions").glob(f"{revision}_*.py"))
        changed.write_text(changed.read_text() + "\n# edited after it was applied\n")
        if (self.ini.parent / "manifest.json").exists():
            write_manifest(self.ini)


@pytest.fixture
def sides(
    database_url: URL, pg_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[list[Rev]], tuple[Side, Side]]]:
    """(fast, engine): the same tree twice, one with a manifest, each on its own database."""
    made: list[URL] = []

    def make(revs: list[Rev]) -> tuple[Side, Side]:
        other = pg_server.create_database()
        made.append(other)
        fast_ini = write_tree(tmp_path / "fast", revs)
        write_manifest(fast_ini)
        engine_ini = write_tree(tmp_path / "engine", revs)
        return Side(database_url, fast_ini, monkeypatch), Side(other, engine_ini, monkeypatch)

    yield make
    for url in made:
        pg_server.drop_database(url)


def both(fast: Side, engine: Side, setup: list[str], event: dict[str, Any]) -> Any:
    """Run `setup` SQL and then `event` on both sides; the results must be equal."""
    for statement in setup:
        fast.sql(statement)
        engine.sql(statement)
    assert fast.state() == engine.state()
    got, expected = fast.call(event), engine.call(event)
    assert got == expected, f"fast path: {got}\nengine: {expected}"
    assert fast.state() == engine.state()
    assert not engine.fast
    return got


AT = "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); "
UPGRADE = {"command": "upgrade"}
# LINEAR's two tables and its head in the version table, set up by hand (no history table)
AT_0002 = [
    "CREATE TABLE a (id int); CREATE TABLE b (id int); "
    + AT
    + "INSERT INTO alembic_version VALUES ('0002')"
]


def applied(fast: Side, engine: Side) -> None:
    """Both databases upgraded to head by the engine (so the history records checksums)."""
    assert both(fast, engine, [], UPGRADE)["after"] == ["0002"]
    assert not fast.fast


def test_no_op_at_head_is_answered_by_the_fast_path_with_the_engines_result(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    applied(fast, engine)
    history = fast.state()[2]
    result = both(fast, engine, [], UPGRADE)
    assert fast.fast, "the no-op at head should not have loaded the engine"
    assert result["applied"] == [] and result["before"] == result["after"] == ["0002"]
    assert result["message"] == fastpath.NO_OP_MESSAGE
    assert fast.state()[2] == history  # nothing written


def test_at_head_without_a_history_table_takes_the_engine(sides: Any) -> None:
    """Stamped by bare Alembic: no checksums to compare, so the fast path does not answer."""
    fast, engine = sides(LINEAR)
    setup = AT_0002
    result = both(fast, engine, setup, UPGRADE)
    assert not fast.fast and result["message"] == fastpath.NO_OP_MESSAGE
    assert ("aurora_migrations_history",) not in fast.state()[1]


def test_a_revision_edited_after_it_was_applied_is_refused_on_both_paths(sides: Any) -> None:
    """The counterexample: at head, the manifest matches the edited file, the history does not."""
    fast, engine = sides(LINEAR)
    applied(fast, engine)
    fast.edit("0001")
    engine.edit("0001")
    assert both(fast, engine, [], UPGRADE) == "ChangedRevision"
    assert not fast.fast


def test_an_accepted_edit_is_recorded_on_both_paths_and_then_fast(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    applied(fast, engine)
    fast.edit("0002")
    engine.edit("0002")
    result = both(fast, engine, [], {"command": "upgrade", "allow_changed": ["0002"]})
    assert not fast.fast and result["actions"] == [
        "accepted the edited file of 0002 (allow_changed)"
    ]
    # the `accept` row now carries the file's checksum: the next no-op is fast again
    both(fast, engine, [], UPGRADE)
    assert fast.fast


def test_allow_changed_takes_the_engine_even_with_nothing_edited(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    applied(fast, engine)
    both(fast, engine, [], {"command": "upgrade", "allow_changed": ["0001"]})
    assert not fast.fast


def test_a_failed_row_with_another_checksum_does_not_count(sides: Any) -> None:
    """Only applied rows record what the database has, as in `validate.changed`."""
    fast, engine = sides(LINEAR)
    applied(fast, engine)
    setup = [
        "INSERT INTO aurora_migrations_history (run_id, command, revision, description,"
        " direction, duration_ms, status, checksum) VALUES"
        " ('r', 'upgrade', '0002', 'x', 'up', 0, 'failed', 'feed')"
    ]
    both(fast, engine, setup, UPGRADE)
    assert fast.fast


def test_an_older_history_table_takes_the_engine_without_error(sides: Any) -> None:
    """A history table from before [integrity] (no status, no checksum): the engine answers."""
    fast, engine = sides(LINEAR)
    setup = [
        "CREATE TABLE a (id int); CREATE TABLE b (id int); "
        + AT
        + "INSERT INTO alembic_version VALUES ('0002'); "
        "CREATE TABLE aurora_migrations_history (id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL,"
        " command TEXT NOT NULL, revision TEXT NOT NULL, description TEXT NOT NULL,"
        " direction TEXT NOT NULL, duration_ms INTEGER NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), request_id TEXT); "
        "INSERT INTO aurora_migrations_history (run_id, command, revision, description,"
        " direction, duration_ms) VALUES ('r', 'upgrade', '0001', 'x', 'up', 0),"
        " ('r', 'upgrade', '0002', 'x', 'up', 0)"
    ]
    result = both(fast, engine, setup, UPGRADE)
    assert not fast.fast and result["message"] == fastpath.NO_OP_MESSAGE


def test_current_at_head_is_answered_by_the_fast_path(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    setup = ["CREATE TABLE a (id int); " + AT + "INSERT INTO alembic_version VALUES ('0002')"]
    both(fast, engine, setup, {"command": "current"})
    assert fast.fast


def test_behind_takes_the_engine_and_applies(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    setup = ["CREATE TABLE a (id int); " + AT + "INSERT INTO alembic_version VALUES ('0001')"]
    result = both(fast, engine, setup, UPGRADE)
    assert not fast.fast
    assert [a["revision"] for a in result["applied"]] == ["0002"]


def test_current_behind_takes_the_engine(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    setup = ["CREATE TABLE a (id int); " + AT + "INSERT INTO alembic_version VALUES ('0001')"]
    result = both(fast, engine, setup, {"command": "current"})
    assert not fast.fast and result["pending"] == ["0002"]


def test_empty_database_takes_the_engine(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    result = both(fast, engine, [], UPGRADE)
    assert not fast.fast
    assert [a["revision"] for a in result["applied"]] == ["0001", "0002"]


def test_empty_version_table_takes_the_engine(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    result = both(fast, engine, [AT], UPGRADE)
    assert not fast.fast and result["after"] == ["0002"]


def test_database_ahead_is_refused_on_both_paths(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    setup = [AT + "INSERT INTO alembic_version VALUES ('9999')"]
    assert both(fast, engine, setup, UPGRADE) == "DatabaseAhead"


def test_multiple_heads_at_heads_is_fast_and_equal(sides: Any) -> None:
    fast, engine = sides(TWO_HEADS)
    heads = {"command": "upgrade", "revision": "heads"}
    both(fast, engine, [], heads)
    result = both(fast, engine, [], heads)
    assert fast.fast and result["after"] == ["0002", "0003"]


def test_multiple_heads_upgrade_head_is_refused_on_both_paths(sides: Any) -> None:
    fast, engine = sides(TWO_HEADS)
    setup = [AT + "INSERT INTO alembic_version VALUES ('0002'), ('0003')"]
    assert both(fast, engine, setup, UPGRADE) == "MultipleHeads"


def test_one_of_two_heads_takes_the_engine(sides: Any) -> None:
    fast, engine = sides(TWO_HEADS)
    setup = AT_0002
    result = both(fast, engine, setup, {"command": "upgrade", "revision": "heads"})
    assert not fast.fast and [a["revision"] for a in result["applied"]] == ["0003"]


def test_explicit_target_takes_the_engine(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    setup = AT_0002
    both(fast, engine, setup, {"command": "upgrade", "revision": "0002"})
    assert not fast.fast


def test_a_stale_manifest_is_not_used(sides: Any) -> None:
    """A revision file changed after the manifest was written: the engine answers."""
    fast, engine = sides(LINEAR)
    changed = next((fast.ini.parent / "tree" / "versions").glob("0002_*.py"))
    changed.write_text(changed.read_text() + "\n# edited\n")
    setup = AT_0002
    both(fast, engine, setup, UPGRADE)
    assert not fast.fast


def test_a_manifest_with_a_missing_file_is_not_used(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    manifest = json.loads((fast.ini.parent / "manifest.json").read_text())
    manifest["revision_files"]["0003_rev.py"] = "0" * 64
    (fast.ini.parent / "manifest.json").write_text(json.dumps(manifest))
    setup = AT_0002
    both(fast, engine, setup, UPGRADE)
    assert not fast.fast


def test_a_slow_path_check_sends_the_run_to_the_engine(
    sides: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seam for validation: a check that asks for the engine gets it."""
    monkeypatch.setattr(fastpath, "SLOW_PATH_CHECKS", [lambda manifest, request: True])
    fast, engine = sides(LINEAR)
    setup = AT_0002
    both(fast, engine, setup, UPGRADE)
    assert not fast.fast


def test_unreachable_database_gets_the_engines_error(sides: Any) -> None:
    fast, engine = sides(LINEAR)
    fast.url = fast.url.set(port=1)
    engine.url = engine.url.set(port=1)
    assert fast.call(UPGRADE) == engine.call(UPGRADE) == "DatabaseUnavailable"


def test_a_database_slow_to_answer_costs_the_fast_path_little_and_the_engine_decides(
    sides: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path gives up connecting after FAST_CONNECT_TIMEOUT_S, not the engine's
    timeout, so an unreachable database is not waited for twice in full."""
    fast, _ = sides(LINEAR)
    fast.call(UPGRADE)  # the engine applies both revisions
    import psycopg2

    real, asked = psycopg2.connect, []

    def connect(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("connect_timeout"))
        if len(asked) == 1:  # the fast path's attempt: the database does not answer
            raise psycopg2.OperationalError("timeout expired")
        return real(*args, **kwargs)

    monkeypatch.setattr(psycopg2, "connect", connect)
    result = fast.call(UPGRADE)
    assert isinstance(result, dict) and result["message"] == fastpath.NO_OP_MESSAGE
    assert not fast.fast, "the engine answered"
    assert asked[0] == fastpath.FAST_CONNECT_TIMEOUT_S < (asked[1] or 0), asked


def test_warm_invocations_reuse_the_connection_and_survive_its_loss(
    sides: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, _ = sides(LINEAR)
    fast.call(UPGRADE)  # the engine applies both revisions
    monkeypatch.setenv("DATABASE_URL", fast.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ALEMBIC_CONFIG", str(fast.ini))
    handler.reset_engine()
    try:
        handler.handler(UPGRADE, None)
        kept = fastpath._connection
        assert kept is not None
        handler.handler(UPGRADE, None)
        assert fastpath._connection is kept, "a warm no-op should reuse the connection"
        fast.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'aurora-migrate'"
        )
        result = handler.handler(UPGRADE, None)
        assert result["after"] == ["0002"] and handler._engine is None
        assert fastpath._connection is not kept
    finally:
        handler.reset_engine()


def test_the_fast_paths_checksum_query_reads_what_validate_reads() -> None:
    """The fast path spells the history query out (no SQLAlchemy); it must not drift."""
    from runner.core import history_table
    from runner.integrity import validate

    assert fastpath.CHECKSUMMED == validate.CHECKSUMMED
    assert fastpath.APPLIED == history_table.APPLIED
    assert fastpath.HISTORY_TABLE == history_table.TABLE


def test_after_the_engine_ran_warm_no_ops_are_fast_and_hold_nothing_between_invocations(
    sides: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm function that applied revisions answers the next no-op on the kept connection,
    which sits idle (no transaction) and holds no lock while the function is frozen."""
    fast, _ = sides(LINEAR)
    monkeypatch.setenv("DATABASE_URL", fast.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ALEMBIC_CONFIG", str(fast.ini))
    handler.reset_engine()
    try:
        assert [a["revision"] for a in handler.handler(UPGRADE, None)["applied"]] == [
            "0001",
            "0002",
        ]
        assert handler._engine is not None

        def no_engine(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a warm no-op at head should not run the engine")

        monkeypatch.setattr(handler._engine, "run", no_engine)
        for _ in range(2):
            assert handler.handler(UPGRADE, None)["message"] == fastpath.NO_OP_MESSAGE
        sessions = rows(
            fast.url,
            "SELECT a.state, (SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid"
            " AND l.locktype = 'advisory') FROM pg_stat_activity a"
            " WHERE a.application_name = 'aurora-migrate'",
        )
        assert sessions == [("idle", 0)], "one kept connection, idle, holding no lock"
    finally:
        handler.reset_engine()

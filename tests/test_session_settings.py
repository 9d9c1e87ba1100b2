"""The runner's limits hold for every revision, whatever an earlier revision SET."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from runner.core.results import Request
from tests.conftest import engine_for, settings_for
from tests.revision_factory import Rev, write_tree
from tests.test_engine import rows

RECORD = (
    "op.execute(\"INSERT INTO seen SELECT '{rev}', current_setting('lock_timeout'),"
    " current_setting('statement_timeout'), current_setting('idle_session_timeout'),"
    " current_setting('idle_in_transaction_session_timeout')\")"
)


def test_a_plain_set_in_one_revision_does_not_reach_the_next(
    database_url: URL, tmp_path: Path
) -> None:
    revs = [
        Rev(
            "0001",
            None,
            "op.execute('CREATE TABLE seen (rev TEXT, lt TEXT, st TEXT, ist TEXT, iit TEXT)')",
        ),
        Rev(
            "0002",
            "0001",
            "op.execute('SET lock_timeout = 120000')\n"
            "op.execute('SET statement_timeout = 0')\n"
            "op.execute(\"SET idle_session_timeout = '1s'\")\n" + RECORD.format(rev="0002"),
        ),
        Rev("0003", "0002", RECORD.format(rev="0003")),
    ]
    ini = write_tree(tmp_path, revs)
    settings = settings_for(
        database_url, alembic_config=str(ini), lock_timeout_ms=2000, statement_timeout_ms=30000
    )
    engine_for(settings).run(Request("upgrade"))

    seen = {str(r[0]): tuple(r[1:]) for r in rows(database_url, "SELECT * FROM seen")}
    assert seen["0002"] == ("2min", "0", "1s", "0"), "a revision may set its own limits"
    assert seen["0003"] == ("2s", "30s", "0", "0"), "the next revision runs with the runner's"

"""Eight simultaneous upgrades on an empty database: each revision applied once, one version row.

Plain Alembic fails this (revisions applied twice, 2-3 rows in alembic_version); the
session advisory lock serializes whole runs, and a run that waited finds nothing to do.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from runner.core.logs import configure_logging
from runner.core.results import Request
from runner.core.settings import Settings
from tests.conftest import engine_for, settings_for
from tests.test_engine import rows, versions

RUNNERS = 8
TRIALS = 3
REVISIONS = ["0001", "0002", "0003", "0004"]


def _upgrade_at(settings: Settings, start_at: float) -> dict[str, Any]:
    """One runner in its own process; all of them start at the same instant."""
    configure_logging(level="WARNING")
    engine = engine_for(settings)
    time.sleep(max(0.0, start_at - time.time()))
    return engine.run(Request("upgrade", "head")).to_dict()


@pytest.mark.parametrize("trial", range(TRIALS))
def test_concurrent_upgrades_apply_each_revision_once(
    trial: int, database_url: URL, tmp_path: Path
) -> None:
    settings = settings_for(database_url, "chain", tmp_path, lock_wait_s=60)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=RUNNERS, mp_context=context) as pool:
        start_at = time.time() + 3.0
        futures = [pool.submit(_upgrade_at, settings, start_at) for _ in range(RUNNERS)]
        results = [f.result(timeout=120) for f in futures]

    assert all(r["ok"] for r in results), results
    applied = Counter(a["revision"] for r in results for a in r["applied"])
    assert applied == Counter(REVISIONS), f"each revision applied exactly once: {applied}"
    assert sum(1 for r in results if r["applied"]) == 1, "one run did the work"
    assert all(r["after"] == ["0004"] for r in results)
    assert versions(database_url) == ["0004"], "alembic_version ends with one row"
    ledger = Counter(str(r[0]) for r in rows(database_url, "SELECT revision FROM ledger"))
    assert ledger == Counter(REVISIONS), "no revision body ran twice"
    history = rows(
        database_url,
        "SELECT revision FROM aurora_migrations_history WHERE direction = 'up' ORDER BY id",
    )
    assert [str(r[0]) for r in history] == REVISIONS

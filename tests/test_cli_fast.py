"""The CLI answers the same with a fresh graph cache as without one, and uses it only when safe.

Each scenario runs the same command line twice, on two databases in the same state: once with
no cache (the engine answers, and writes the cache) and once with a fresh cache (the CLI may
answer from it without Alembic). Exit code, stdout (text and --json) and the run.start /
run.finish log lines must be equal, timings and run ids aside; `fast_path` in run.finish says
which path answered, and each scenario says which one must have.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from runner.adapters import cli
from runner.core import graph_cache
from tests.conftest import REPO, Server
from tests.projects import Down, make_project, write_revision

LINEAR: list[tuple[str, Down, str]] = [("0001", None, "first"), ("0002", "0001", "second")]
TWO_HEADS: list[tuple[str, Down, str]] = [*LINEAR, ("0003", "0001", "side")]
TIMINGS = {"duration_ms", "lock_wait_ms"}
NOT_COMPARED = TIMINGS | {"run_id", "timestamp", "fast_path", "request_id", "function_request_id"}
FAST_ANSWERS = [
    ["upgrade"],
    ["upgrade", "heads"],
    ["current"],
    ["current", "--check"],
    ["heads"],
    ["history", "--offline"],
]


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    logs: list[dict[str, Any]]

    @property
    def fast(self) -> bool:
        finish = [r for r in self.logs if r.get("event") == "run.finish"]
        return bool(finish and finish[-1].get("fast_path"))

    def comparable(self) -> tuple[int, Any, list[dict[str, Any]]]:
        try:
            out: Any = _without(json.loads(self.out), TIMINGS)
        except ValueError:
            out = re.sub(r"took \d+ ms", "took N ms", self.out)
        runs = [
            _without(r, NOT_COMPARED | {"level", "location", "service", "message", "logger"})
            for r in self.logs
            if r.get("event") in ("run.start", "run.finish", "run.failed")
        ]
        return self.code, out, runs


def _without(data: Any, keys: set[str]) -> Any:
    if isinstance(data, dict):
        return {k: _without(v, keys) for k, v in data.items() if k not in keys}
    if isinstance(data, list):
        return [_without(v, keys) for v in data]
    return data


class Twins:
    """One project and two databases kept in the same state: `a` without a cache, `b` with."""

    def __init__(
        self,
        ini: Path,
        urls: tuple[URL, URL],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        self.ini, self.urls, self.monkeypatch, self.capsys = ini, urls, monkeypatch, capsys

    @property
    def root(self) -> Path:
        return self.ini.parent

    def run(self, url: URL, *argv: str) -> Outcome:
        self.monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
        self.monkeypatch.setenv("ALEMBIC_CONFIG", str(self.ini))
        self.capsys.readouterr()
        code = cli.main([*argv, "--log-format", "json"])
        out, err = self.capsys.readouterr()
        assert url.database
        out, err = out.replace(url.database, "<db>"), err.replace(url.database, "<db>")
        logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        return Outcome(code, out, logs)

    def both(self, *argv: str) -> tuple[Outcome, Outcome]:
        """`argv` without a cache on `a`, then with a fresh one on `b`; asserts they agree."""
        forget_cache(self.ini)
        engine = self.run(self.urls[0], *argv)
        warm(self.ini)
        cached = self.run(self.urls[1], *argv)
        assert not engine.fast, "without a cache the engine answers"
        assert engine.comparable() == cached.comparable(), argv
        return engine, cached

    def setup(self, *argv: str) -> None:
        """Bring both databases to the same state, through the engine."""
        for url in self.urls:
            forget_cache(self.ini)
            done = self.run(url, *argv)
            assert done.code == 0, done.out

    def sql(self, statement: str) -> None:
        for url in self.urls:
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.exec_driver_sql(statement)
            engine.dispose()


def forget_cache(ini: Path) -> None:
    for path in (ini.parent / "alembic" / "versions" / "__pycache__").glob(
        f"{graph_cache.PREFIX}*"
    ):
        path.unlink()


def warm(ini: Path) -> None:
    """What any earlier successful command leaves: a fresh cache for the files as they are."""
    before = graph_cache.snapshot(ini)
    graph_cache.refresh(before, ScriptDirectory.from_config(Config(str(ini))))
    assert graph_cache.load(ini) is not None


@pytest.fixture
def second_url(pg_server: Server) -> Iterator[URL]:
    url = pg_server.create_database()
    try:
        yield url
    finally:
        pg_server.drop_database(url)


def _twins(
    tmp_path: Path,
    tree: list[tuple[str, Down, str]],
    urls: tuple[URL, URL],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Twins:
    return Twins(make_project(tmp_path / "project", tree), urls, monkeypatch, capsys)


@pytest.fixture
def linear(
    tmp_path: Path,
    database_url: URL,
    second_url: URL,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Twins:
    return _twins(tmp_path, LINEAR, (database_url, second_url), monkeypatch, capsys)


@pytest.fixture
def two_heads(
    tmp_path: Path,
    database_url: URL,
    second_url: URL,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Twins:
    return _twins(tmp_path, TWO_HEADS, (database_url, second_url), monkeypatch, capsys)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("argv", FAST_ANSWERS, ids=" ".join)
def test_at_head_the_cache_answers_as_the_engine_does(
    linear: Twins, argv: list[str], as_json: bool
) -> None:
    linear.setup("upgrade")

    _, cached = linear.both(*argv, *(["--json"] if as_json else []))

    assert cached.code == 0
    offline = argv[0] == "history"  # answered from the files alone: no run is logged
    assert cached.fast or offline
    if offline and not as_json:
        statuses = re.findall(r"│ (\w+)\s+│ (?:yes|\s)+│", cached.out)
        assert statuses == ["unknown", "unknown"], cached.out


def test_behind_the_engine_applies_with_or_without_a_cache(linear: Twins) -> None:
    linear.setup("upgrade", "0001")

    _, cached = linear.both("upgrade", "--json")

    assert not cached.fast and cached.code == 0
    assert [a["revision"] for a in json.loads(cached.out)["applied"]] == ["0002"]
    _, check_cached = linear.both("current", "--check")
    assert check_cached.code == cli.EXIT_OK and check_cached.fast  # at head again


def test_behind_current_check_exits_pending_through_the_engine(linear: Twins) -> None:
    linear.setup("upgrade", "0001")

    _, cached = linear.both("current", "--check")

    assert cached.code == cli.EXIT_PENDING and not cached.fast


def test_ahead_of_the_code_is_the_engines_refusal(linear: Twins) -> None:
    linear.setup("upgrade")
    linear.sql("UPDATE alembic_version SET version_num = '0099'")

    for argv in (["upgrade"], ["current"]):
        _, cached = linear.both(*argv, "--json")
        assert cached.code == cli.EXIT_FAILED and not cached.fast
        assert json.loads(cached.out)["errorType"] == "DatabaseAhead"


def test_several_heads(two_heads: Twins) -> None:
    two_heads.setup("upgrade", "heads")

    for argv in (["upgrade", "heads"], ["current"], ["heads"]):
        _, cached = two_heads.both(*argv, "--json")
        assert cached.code == 0 and cached.fast, argv
    _, refused = two_heads.both("upgrade", "--json")  # `head` with two heads: refused
    assert refused.code == cli.EXIT_USAGE and not refused.fast
    assert json.loads(refused.out)["errorType"] == "MultipleHeads"


def test_a_revision_edited_after_it_was_applied_is_refused_on_both_paths(
    linear: Twins,
) -> None:
    linear.setup("upgrade")
    first = linear.root / "alembic" / "versions" / "0001_first.py"
    first.write_text(first.read_text() + "\n# edited after it was applied\n")

    _, cached = linear.both("upgrade", "--json")  # the cache is fresh for the edited file

    assert cached.code != 0 and not cached.fast
    assert "0001" in json.loads(cached.out)["message"]


def test_duplicate_ids_are_refused_as_today_and_never_cached(linear: Twins) -> None:
    linear.setup("upgrade")
    warm(linear.ini)
    write_revision(linear.root, "0002", "0001", "again")

    for argv in (["heads"], ["upgrade"], ["history", "--offline"]):
        forget_cache(linear.ini)
        for url in linear.urls:
            done = linear.run(url, *argv, "--json")
            assert done.code == cli.EXIT_USAGE and not done.fast, argv
            assert json.loads(done.out)["errorType"] == "DuplicateRevision"
        assert graph_cache.load(linear.ini) is None


@pytest.mark.parametrize("change", ["touched", "added", "removed"])
def test_a_file_changed_between_runs_sends_the_run_to_the_engine(
    linear: Twins, change: str
) -> None:
    linear.setup("upgrade")
    warm(linear.ini)
    versions = linear.root / "alembic" / "versions"
    if change == "touched":
        stat = (versions / "0002_second.py").stat()
        os.utime(versions / "0002_second.py", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    elif change == "added":
        write_revision(linear.root, "0003", "0002", "third")
    else:
        (versions / "0002_second.py").unlink()

    done = linear.run(linear.urls[1], "upgrade", "--json")

    assert not done.fast
    result = json.loads(done.out)
    if change == "touched":
        assert done.code == 0 and result["applied"] == []
        assert linear.run(linear.urls[1], "upgrade").fast  # and the cache is fresh again
    elif change == "added":
        assert done.code == 0 and [a["revision"] for a in result["applied"]] == ["0003"]
    else:  # the database has 0002, the code no longer does
        assert done.code == cli.EXIT_FAILED and result["errorType"] == "DatabaseAhead"


def test_flags_the_cache_cannot_honour_go_to_the_engine(linear: Twins) -> None:
    linear.setup("upgrade")
    warm(linear.ini)

    assert not linear.run(linear.urls[1], "upgrade", "-v").fast
    assert not linear.run(linear.urls[1], "upgrade", "--allow-changed", "0001").fast
    assert not linear.run(linear.urls[1], "history").fast  # needs the database's history


# --- what a fresh cache spares: Alembic and SQLAlchemy are never imported ----------------------

PROBE = """
import json, sys
from runner.adapters.cli import main
code = main(sys.argv[1:])
heavy = [m for m in ("alembic", "sqlalchemy", "rich", "runner.core.engine") if m in sys.modules]
sys.stderr.write("\\nPROBE " + json.dumps({"code": code, "heavy": heavy}) + "\\n")
"""


@pytest.mark.parametrize(
    "argv",
    [["heads"], ["upgrade"], ["current", "--json"], ["history", "--offline"]],
    ids=" ".join,
)
def test_a_fresh_cache_answers_without_alembic_or_sqlalchemy(
    linear: Twins, argv: list[str]
) -> None:
    linear.setup("upgrade")
    warm(linear.ini)
    env = {
        **os.environ,
        "DATABASE_URL": linear.urls[0].render_as_string(hide_password=False),
        "ALEMBIC_CONFIG": str(linear.ini),
    }

    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv, "--log-format", "json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    probe = json.loads(done.stderr.rsplit("PROBE ", 1)[1])
    assert probe["code"] == 0, done.stderr
    assert argv[0] == "history" or '"fast_path":true' in done.stderr.replace(" ", "")
    heavy = set(probe["heavy"])
    assert "alembic" not in heavy and "runner.core.engine" not in heavy
    if argv[0] != "history":  # a plain summary (no table) on streams that are no terminal
        assert "rich" not in heavy
    assert "sqlalchemy" not in heavy

"""The cached revision graph is used only while it describes exactly the files on disk.

Every change the graph could depend on (a revision file touched, added, removed or resized, a
changed alembic.ini) makes it stale; a cache of another format, or one that cannot be read, is
stale too; a project with duplicate ids is never cached; and what a fresh cache says is what
Alembic says.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from runner.core import graph_cache, revisions
from tests.projects import make_project, write_revision

TREE = [
    ("0001", None, "first"),
    ("0002", "0001", "second"),
    ("0003", "0001", "side"),
    ("0004", ("0002", "0003"), "merged"),
]
OLD_NS = 1_600_000_000 * 10**9  # long before any cache's own time: never "too recent"


def _age(root: Path) -> None:
    """Give every project file an old mtime, as a checkout from long ago has."""
    for path in [root / "alembic.ini", *(root / "alembic" / "versions").glob("*.py")]:
        os.utime(path, ns=(OLD_NS, OLD_NS))


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    made = make_project(tmp_path, TREE)
    _age(tmp_path)
    return made


def _cache(ini: Path) -> graph_cache.Graph | None:
    """What the engine path does: snapshot, load through Alembic, refresh; then load."""
    before = graph_cache.snapshot(ini)
    script = ScriptDirectory.from_config(Config(str(ini)))
    graph_cache.refresh(before, script)
    return graph_cache.load(ini)


def _versions(ini: Path) -> Path:
    return ini.parent / "alembic" / "versions"


def test_a_fresh_cache_says_what_alembic_says(ini: Path) -> None:
    graph = _cache(ini)

    script = ScriptDirectory.from_config(Config(str(ini)))
    assert graph is not None
    assert list(graph.heads) == list(script.get_heads())
    assert [r.revision for r in graph.revisions] == revisions.ordered(script)
    merged = graph.revisions[-1]
    assert merged.down_revisions == ("0002", "0003") and merged.doc == "merged"
    assert merged.file == "0004_merged.py"
    manifest = graph.manifest()
    assert manifest.heads == ("0004",)
    assert set(manifest.checksums) == {"0001", "0002", "0003", "0004"}


def test_the_cache_lives_outside_the_revisions_import_path(ini: Path) -> None:
    graph = _cache(ini)

    assert graph is not None
    assert graph.path.parent == _versions(ini) / "__pycache__"
    assert graph.path.suffix == ".json"
    assert not list(_versions(ini).glob("*.json"))


@pytest.mark.parametrize(
    "change",
    ["touched", "added", "removed", "resized", "ini changed", "ini touched", "other file"],
)
def test_any_change_to_the_files_makes_it_stale(ini: Path, change: str) -> None:
    assert _cache(ini) is not None
    versions = _versions(ini)
    second = versions / "0002_second.py"
    if change == "touched":  # same bytes, same size, a new mtime
        os.utime(second, ns=(OLD_NS + 10**9, OLD_NS + 10**9))
    elif change == "added":
        write_revision(ini.parent, "0005", "0004", "fifth")
    elif change == "removed":
        second.unlink()
    elif change == "resized":
        second.write_bytes(second.read_bytes() + b"\n")
        os.utime(second, ns=(OLD_NS, OLD_NS))  # even with the old mtime
    elif change == "ini changed":
        ini.write_text(ini.read_text() + "\n# another setting\n")
        os.utime(ini, ns=(OLD_NS, OLD_NS))
    elif change == "ini touched":
        os.utime(ini, ns=(OLD_NS + 10**9, OLD_NS + 10**9))
    else:  # a file Alembic may read as a revision (or not): the cache does not guess
        (versions / "notes.txt").write_text("x")

    assert graph_cache.load(ini) is None


def test_an_edit_that_keeps_the_size_and_a_recent_mtime_is_seen(ini: Path) -> None:
    """Coarse clocks: an edit within the same tick as the cache keeps mtime and size. Files
    that recent are hashed on every load."""
    first = _versions(ini) / "0001_first.py"
    first.touch()  # recent: as just written
    stat = first.stat()
    assert _cache(ini) is not None

    text = first.read_text()
    first.write_text(text.replace("first", "fyrst"))  # same length
    os.utime(first, ns=(stat.st_mtime_ns, stat.st_mtime_ns))

    assert graph_cache.load(ini) is None


def test_a_foreign_or_broken_cache_is_stale_and_rebuilt(ini: Path) -> None:
    graph = _cache(ini)
    assert graph is not None
    data = json.loads(graph.path.read_text())

    graph.path.write_text(json.dumps({**data, "format": graph_cache.FORMAT + 1}))
    assert graph_cache.load(ini) is None
    graph.path.write_text("{not json")
    assert graph_cache.load(ini) is None
    graph.path.write_text(json.dumps({**data, "revisions": [{"revision": "0001"}]}))
    assert graph_cache.load(ini) is None

    assert _cache(ini) is not None  # the next load through Alembic writes a good one


def test_two_inis_on_one_folder_keep_two_caches(ini: Path) -> None:
    other = ini.parent / "other.ini"
    other.write_text(ini.read_text())
    os.utime(other, ns=(OLD_NS, OLD_NS))

    first, second = _cache(ini), _cache(other)

    assert first is not None and second is not None and first.path != second.path
    assert graph_cache.load(ini) is not None and graph_cache.load(other) is not None


def test_a_project_with_duplicate_ids_is_never_cached(ini: Path) -> None:
    write_revision(ini.parent, "0004", "0002", "again")
    _age(ini.parent)

    assert _cache(ini) is None
    assert not list((_versions(ini) / "__pycache__").glob("aurora-migrate-graph-*"))


def test_a_file_changed_while_alembic_loads_is_not_cached(ini: Path) -> None:
    before = graph_cache.snapshot(ini)
    script = ScriptDirectory.from_config(Config(str(ini)))
    list(script.walk_revisions())  # Alembic has read the files
    write_revision(ini.parent, "0005", "0004", "late")

    assert graph_cache.save(before, script) is None
    assert graph_cache.load(ini) is None


@pytest.mark.parametrize("option", graph_cache.UNCACHEABLE)
def test_projects_the_cache_cannot_describe_are_not_cached(ini: Path, option: str) -> None:
    ini.write_text(ini.read_text().replace("[alembic]\n", f"[alembic]\n{option} = true\n", 1))

    assert graph_cache.snapshot(ini) is None
    assert graph_cache.load(ini) is None


def test_an_unwritable_folder_means_no_cache_not_an_error(ini: Path) -> None:
    (_versions(ini) / "__pycache__").write_text("a file where the folder would be")

    assert _cache(ini) is None


def test_concurrent_writers_leave_one_whole_cache(ini: Path) -> None:
    before = graph_cache.snapshot(ini)
    script = ScriptDirectory.from_config(Config(str(ini)))
    list(script.walk_revisions())
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(20):
                graph_cache.save(before, script)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert graph_cache.load(ini) is not None
    leftovers = [p.name for p in (_versions(ini) / "__pycache__").iterdir()]
    assert all(name.endswith(".json") for name in leftovers), leftovers


def test_files_too_recent_to_trust_are_hashed_only_until_they_settle(
    ini: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout written just before the cache: its files are hashed on each load, until the
    clock has moved past them; then the cache is re-stamped and mtimes suffice again."""
    for path in _versions(ini).glob("*.py"):
        path.touch()
    assert _cache(ini) is not None
    hashed: list[str] = []
    real = graph_cache._sha256

    def counting(snap: graph_cache.Snapshot, name: str) -> str:
        hashed.append(name)
        return real(snap, name)

    monkeypatch.setattr(graph_cache, "_sha256", counting)
    assert graph_cache.load(ini) is not None
    assert len(hashed) == 4  # still within the clock's resolution: every revision is hashed

    later = time.time_ns() + 2 * graph_cache.RACY_NS
    monkeypatch.setattr(time, "time_ns", lambda: later)  # the clock has moved on
    hashed.clear()
    assert graph_cache.load(ini) is not None  # hashes once more, then re-stamps
    hashed.clear()
    assert graph_cache.load(ini) is not None
    assert hashed == []

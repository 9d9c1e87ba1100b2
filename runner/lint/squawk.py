"""Run the pinned squawk binary on one revision's SQL and read its JSON report.

squawk is a Rust binary shipped in the `squawk-cli` wheel as a script next to the venv's
python. It is only needed to lint (a developer and CI tool), never inside the Lambda.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runner.core.errors import LinterUnavailable
from runner.lint.rules import PG_VERSION, SQUAWK_OFF

TIMEOUT_S = 60


@dataclass(frozen=True)
class SquawkFinding:
    """squawk's own words about one statement; `line` is 0-based in the SQL it was given."""

    rule: str
    line: int
    message: str
    help: str


def binary() -> str:
    """The venv's squawk first (the pinned one), then PATH. Raises `LinterUnavailable`."""
    beside = Path(sys.executable).parent / "squawk"
    if beside.is_file():
        return str(beside)
    found = shutil.which("squawk")
    if found:
        return found
    raise LinterUnavailable(
        "The squawk binary was not found (next to this Python or on PATH), so revisions "
        "cannot be linted. Install the development extras: `pip install -e '.[dev]'` "
        "(it pins `squawk-cli`). Nothing was linted."
    )


def check(sql: str) -> list[SquawkFinding]:
    """squawk's findings for `sql`, with the project's rules and PostgreSQL version."""
    with tempfile.TemporaryDirectory(prefix="aurora-lint-") as tmp:
        path = Path(tmp) / "revision.sql"
        path.write_text(sql)
        # cwd is the empty temp folder: squawk looks for a .squawk.toml upwards from it, and
        # the configuration must be ours alone, from the flags.
        proc = _run([*_base_args(), str(path)], cwd=tmp)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise LinterUnavailable(
            f"squawk failed (exit {proc.returncode}): {proc.stderr.strip()[:500]}. Check that "
            "the installed squawk-cli is the version pyproject.toml pins. Nothing was linted."
        )
    return [
        SquawkFinding(item["rule_name"], int(item["line"]), item["message"], item["help"] or "")
        for item in json.loads(proc.stdout)
    ]


@functools.cache
def is_rule(name: str) -> bool:
    """Whether squawk knows a rule of that name (it refuses an unknown one in --exclude)."""
    with tempfile.TemporaryDirectory(prefix="aurora-lint-") as tmp:
        path = Path(tmp) / "empty.sql"
        path.write_text("SELECT 1;\n")
        proc = _run([binary(), f"--exclude={name}", str(path)], cwd=tmp)
    return proc.returncode == 0


def _base_args() -> list[str]:
    return [
        binary(),
        "--reporter=json",
        f"--pg-version={PG_VERSION}",
        f"--exclude={','.join(sorted(SQUAWK_OFF))}",
    ]


def _run(args: list[str], *, cwd: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LinterUnavailable(
            f"squawk could not be run ({type(exc).__name__}: {exc}). Reinstall the "
            "development extras (`pip install -e '.[dev]'`). Nothing was linted."
        ) from None

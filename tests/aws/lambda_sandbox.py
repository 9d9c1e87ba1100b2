"""Run the deployment bundle the way the managed Python runtime does, on this machine.

The managed runtime is a Python with boto3 (and its dependencies) and the runtime interface
client `awslambdaric` installed, the bundle on `sys.path`, and nothing else. Here: a clean
interpreter (`-S`: no site-packages at all), `PYTHONPATH` = the bundle, then a folder holding
only boto3 and awslambdaric with their dependencies (copied from this environment, so no
download), started as `python -m awslambdaric runner.adapters.handler.handler` in the bundle folder
and talking to a `RuntimeApi`.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.aws.runtime_api import Outcome, RuntimeApi

RUNTIME_PROVIDES = ("boto3", "awslambdaric")
HANDLER = "runner.adapters.handler.handler"


def copy_runtime_site(target: Path, roots: tuple[str, ...] = RUNTIME_PROVIDES) -> list[str]:
    """Copy `roots` and everything they require from this environment into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    todo: list[str] = list(roots)
    seen: set[str] = set()
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if ".." in file.parts or not source.is_file():
                continue  # console scripts outside site-packages, files pip did not keep
            (target / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / file)
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return sorted(seen)


class LambdaFunction:
    """One execution environment: a runtime process and the Runtime API it polls.

    `with LambdaFunction(bundle, site, env, logs_dir) as fn: fn.invoke(event, timeout_ms=...)`;
    `fn.output()` is everything the process wrote to stdout and stderr. As in Lambda, a run
    that overruns its deadline has its process killed (`killed` lists their exit codes), and
    the next invocation starts a fresh process: a cold start.
    """

    def __init__(self, bundle: Path, site: Path, env: dict[str, str], logs_dir: Path) -> None:
        self.bundle, self.site, self.extra_env = bundle, site, env
        self.stdout_path, self.stderr_path = logs_dir / "stdout.log", logs_dir / "stderr.log"
        self.api = RuntimeApi(on_timeout=self._kill)
        self.process: subprocess.Popen[bytes] | None = None
        self.killed: list[int] = []  # exit codes of processes ended at a deadline
        self._ended_at_deadline = False
        self._files: list[IO[bytes]] = []

    def __enter__(self) -> LambdaFunction:
        self.api.__enter__()
        self._files = [self.stdout_path.open("ab"), self.stderr_path.open("ab")]
        self._start()
        return self

    def _start(self) -> None:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.stdout_path.parent),
            "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join([str(self.bundle), str(self.site)]),
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only in Lambda
            "LAMBDA_TASK_ROOT": str(self.bundle),
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": "aurora-migrations",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            **self.extra_env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-S", "-m", "awslambdaric", HANDLER],
            cwd=self.bundle,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._files[0],
            stderr=self._files[1],
        )

    def _kill(self) -> None:
        """The deadline passed: end the environment at once, as Lambda does (SIGKILL)."""
        assert self.process is not None
        self.process.kill()
        self.killed.append(self.process.wait())
        self._ended_at_deadline = True

    def invoke(self, event: Any, *, timeout_ms: int = 900_000) -> Outcome:
        """Invoke with `timeout_ms` left (default: 15 minutes, the Lambda maximum)."""
        assert self.process is not None
        if self.process.poll() is not None:
            if not self._ended_at_deadline:
                raise RuntimeError(f"the runtime process exited: {self.output()}")
            self._ended_at_deadline = False
            self._start()  # killed at a deadline: the next invocation gets a new environment
        return self.api.invoke(event, timeout_ms=timeout_ms)

    def output(self) -> str:
        for file in self._files:
            file.flush()
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for file in self._files:
            file.close()
        self.api.__exit__()

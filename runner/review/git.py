"""The few git questions a review asks, answered by the `git` command in the project's checkout.

Every failure is `ReviewRefused` (exit 2) saying what to do: an unknown base ref, a shallow
clone without the shared history, a folder that is not a checkout, or no git at all.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from runner.core import redact
from runner.core.errors import ReviewRefused

TIMEOUT_S = 60


@dataclass(frozen=True)
class GitCheckout:
    """A git working tree; paths in and out are relative to its top level, `/`-separated."""

    root: Path

    @classmethod
    def containing(cls, path: Path) -> GitCheckout:
        top = _git(path, "rev-parse", "--show-toplevel", what=f"{path} is not in a git checkout")
        return cls(Path(top.strip()))

    def commit(self, ref: str) -> str:
        """The commit `ref` names, as a full hash."""
        if ref.startswith("-") or not ref.strip():
            raise ReviewRefused(
                f"{redact.echo(ref)} is not a git ref. Give a branch, tag or commit."
            )
        return self._run(
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{ref}^{{commit}}",
            what=f"The base {redact.echo(ref)} is not a commit here. Fetch it first (for "
            "example `git fetch origin main`, or `fetch-depth: 0` in actions/checkout)",
        ).strip()

    def added_files(self, base: str, folder: PurePosixPath) -> list[PurePosixPath]:
        """Files under `folder` added between the merge base of `base` and HEAD, sorted."""
        return self.changed_files(base, folder, "A")

    def changed_files(self, base: str, folder: PurePosixPath, kinds: str) -> list[PurePosixPath]:
        """Files under `folder` changed in one of git's `kinds` (A added, M modified, D deleted)
        between the merge base of `base` and HEAD, sorted."""
        out = self._run(
            "diff",
            "--name-only",
            "--no-renames",
            f"--diff-filter={kinds}",
            "-z",
            f"{base}...HEAD",
            "--",
            str(folder),
            what=f"Git cannot tell what this branch adds since {base[:12]}: the shared history "
            "is missing. Fetch the full history (`git fetch --unshallow`, or `fetch-depth: 0` "
            "in actions/checkout)",
        )
        return sorted(PurePosixPath(name) for name in out.split("\0") if name)

    def files_at(self, ref: str, folder: PurePosixPath) -> list[PurePosixPath]:
        """Files under `folder` in the commit `ref` (none when the folder is not there)."""
        out = self._run(
            "ls-tree",
            "-r",
            "-z",
            "--name-only",
            ref,
            "--",
            str(folder),
            what="Git cannot list the base's revision files",
        )
        return sorted(PurePosixPath(name) for name in out.split("\0") if name)

    def show(self, ref: str, path: PurePosixPath) -> str:
        return self._run("show", f"{ref}:{path}", what=f"Git cannot read {path} at {ref[:12]}")

    def _run(self, *args: str, what: str) -> str:
        return _git(self.root, *args, what=what)


def _git(cwd: Path, *args: str, what: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise ReviewRefused("git is not installed here; review needs it.") from None
    except (NotADirectoryError, subprocess.TimeoutExpired) as exc:
        raise ReviewRefused(f"{what} ({type(exc).__name__}).") from None
    if done.returncode != 0:
        said = redact.scrub(done.stderr.strip().splitlines()[-1]) if done.stderr.strip() else ""
        raise ReviewRefused(f"{what}." + (f" git said: {said}" if said else ""))
    return done.stdout

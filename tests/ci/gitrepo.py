"""A throwaway git repository holding a small Alembic project, for the review tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.projects import Down, make_project, write_revision

# A fixed identity and no user or system config: the tests never read the developer's git setup.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Review Test",
    "GIT_AUTHOR_EMAIL": "review@example.invalid",
    "GIT_COMMITTER_NAME": "Review Test",
    "GIT_COMMITTER_EMAIL": "review@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


class Repo:
    """`main` with the given revisions committed; branch, commit and merge like a developer."""

    def __init__(self, root: Path, revisions: Sequence[tuple[str, Down, str]]) -> None:
        self.root = root
        self.ini = make_project(root, revisions)
        self.git("init", "-q", "-b", "main")
        self.commit_all("the project")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.root,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def commit_all(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def add_revision(self, rev: str, down: Down, slug: str) -> str:
        """Write and commit a revision on the current branch; its path from the repo's top."""
        path = write_revision(self.root, rev, down, slug)
        self.commit_all(f"revision {rev} {slug}")
        return path.relative_to(self.root).as_posix()

    def write(self, relative: str, text: str) -> str:
        (self.root / relative).write_text(text)
        self.commit_all(f"write {relative}")
        return relative

"""Run the real `aurora-migrate` on a pseudo-terminal, as a person at a keyboard sees it.

Piped output (what `tests.test_cli.cli` captures) and terminal output differ on purpose:
colours, live progress and human log lines only on a terminal. Both streams share one
terminal here, as they do in a shell; `plain()` strips the colour codes for assertions.
"""

from __future__ import annotations

import errno
import os
import pty
import re
import subprocess
import sys
from dataclasses import dataclass

from tests.conftest import REPO

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


@dataclass(frozen=True)
class Screen:
    returncode: int
    raw: str  # what reached the terminal, escape codes included

    @property
    def text(self) -> str:
        return plain(self.raw)

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.text.splitlines()]


def plain(text: str) -> str:
    return _ANSI.sub("", text)


def in_terminal(
    *args: str, env: dict[str, str] | None = None, columns: int = 80, timeout: float = 120
) -> Screen:
    """`aurora-migrate ARGS` with stdin, stdout and stderr on one terminal `columns` wide."""
    master, slave = pty.openpty()
    terminal_env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": str(columns),
        "LINES": "40",
        **(env or {}),
    }
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        terminal_env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "runner.cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=terminal_env,
        cwd=REPO,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError as exc:  # EIO: every writer closed the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            chunks.append(chunk)
        returncode = process.wait(timeout)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return Screen(returncode, b"".join(chunks).decode("utf-8", "replace"))

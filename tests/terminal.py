"""Run the real `aurora-migrate` on a pseudo-terminal, as a person at a keyboard sees it.

Piped output (what `tests.test_cli.cli` captures) and terminal output differ on purpose:
colours, live progress and human log lines only on a terminal. Both streams share one
terminal here, as they do in a shell. `Screen.lines` is what is left on the screen once the
run ends: carriage returns, line erasing and cursor-up moves (a spinner that rewrites its
line, then disappears) are applied, colours dropped; lines are never wrapped.
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
_TOKENS = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07]*\x07|\r\n|[\r\n]|[^\x1b\r\n]+")


@dataclass(frozen=True)
class Screen:
    returncode: int
    raw: str  # what reached the terminal, escape codes included

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in _replay(self.raw)]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def plain(text: str) -> str:
    """`text` without colour codes or carriage returns (for piped output)."""
    return _ANSI.sub("", text)


def _replay(raw: str) -> list[str]:
    """The screen a terminal shows after `raw`, as far as the CLI's output needs."""
    lines, row, col = [""], 0, 0
    for match in _TOKENS.finditer(raw):
        token, params, command = match.group(0), match.group(1), match.group(2)
        if token in ("\r\n", "\n"):
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif token == "\r":
            col = 0
        elif command == "K":  # erase in line: 2 whole line, 0 (default) to its end
            lines[row] = " " * col if params == "2" else lines[row][:col]
        elif command == "A":
            row = max(0, row - int(params or 1))
        elif command == "G":
            col = int(params or 1) - 1
        elif token.startswith("\x1b"):
            continue  # colours, cursor visibility, titles
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + token + line[col + len(token) :]
            col += len(token)
    return lines


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
        [sys.executable, "-m", "runner.adapters.cli", *args],
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

"""A revision file Python cannot load becomes one `RevisionLoadFailed` naming the file and line.

Alembic imports every revision file to build its map; a syntax error or a failing import in
one of them would otherwise surface as a long traceback from deep inside Alembic and
importlib, on every command (`heads` included). `loading_revisions()` wraps the one place
the runner reads the files (`runner.core.revisions.scan`), so the error is said once, typed.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import alembic
from runner.core.errors import RevisionLoadFailed

# Frames in these folders are the loading machinery, not the file that failed.
_MACHINERY = (Path(alembic.__file__).resolve().parent, Path(__file__).resolve().parents[1])
_REASON_LENGTH = 300


@contextmanager
def loading_revisions() -> Iterator[None]:
    """Turn a SyntaxError or ImportError raised while revision files load into our error."""
    try:
        yield
    except (SyntaxError, ImportError) as exc:
        # Not chained: the traceback is the noise this replaces; its facts are in the message.
        raise load_failed(exc) from None


def load_failed(exc: SyntaxError | ImportError) -> RevisionLoadFailed:
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<") and not _is_machinery(frame.filename)
    ]
    if isinstance(exc, SyntaxError) and exc.filename:
        where, line = exc.filename, exc.lineno
        reason = f"SyntaxError: {exc.msg}"
        fix = f"(`python -m py_compile {display(where)}` shows it)"
    else:
        where = frames[-1].filename if frames else "an unknown file"
        line = frames[-1].lineno if frames else None
        reason = f"{type(exc).__name__}: {exc}"
        fix = "(is the package installed here, and in the Lambda bundle?)"
    revision_file = frames[0].filename if frames else where
    if len(reason) > _REASON_LENGTH:
        reason = reason[:_REASON_LENGTH] + "…"
    at = f"line {line}" if line else "an unknown line"
    if Path(where) != Path(revision_file):
        at = f"{display(where)}, {at}"
    return RevisionLoadFailed(
        f"Revision file {display(revision_file)} cannot be loaded: {reason}, at {at}. "
        f"Nothing was run. Fix it {fix} and run the command again.",
        file=display(revision_file),
        line=line if where == revision_file else None,
        error_file=display(where) if where != revision_file else None,
        error_line=line if where != revision_file else None,
        error=reason,
    )


def _is_machinery(filename: str) -> bool:
    path = Path(filename).resolve()
    return any(path.is_relative_to(folder) for folder in _MACHINERY)


def display(path: str) -> str:
    """A path as the user would type it from here: relative when under the working directory."""
    try:
        return os.path.relpath(path) if Path(path).is_relative_to(Path.cwd()) else path
    except (ValueError, OSError):
        return path

"""The sha256 of each revision file, and who is running: what every history row records.

The digest is of the file's bytes as bundled, the same one `manifest.json` lists under
`revision_files`, so a row can be checked against the bundle and against the code. The runner
version comes from the installed distribution, or, in the Lambda bundle (where the project is
copied, not installed), from `manifest.json`.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runner.core.settings import PROJECT_ROOT

if TYPE_CHECKING:  # annotations only: the fast path and the CLI cache hash files without Alembic
    from alembic.script import ScriptDirectory

DISTRIBUTION = "aurora-migrations"


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def revision_checksums(script: ScriptDirectory) -> dict[str, str]:
    """revision id -> sha256 of its file, for every revision Alembic maps."""
    return {sc.revision: file_sha256(sc.path) for sc in script.walk_revisions()}


def revision_checksum(script: ScriptDirectory, revision: str) -> str | None:
    sc = script.get_revision(revision)
    return file_sha256(sc.path) if sc is not None else None


def runner_version() -> str:
    import importlib.metadata  # ~25 ms: not for the fast path, which only hashes files

    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        manifest = json.loads((PROJECT_ROOT / "manifest.json").read_text())
        return str(manifest.get("runner_version", "unknown"))
    except (OSError, ValueError):
        return "unknown"


@dataclass(frozen=True)
class RunBy:
    """Who ran a command: the Lambda function (ARN, request id) or the local user and host."""

    run_by: str
    function_arn: str | None
    request_id: str | None


def run_by(*, function_arn: str | None, request_id: str | None) -> RunBy:
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if function_arn or function:
        name = function or (function_arn or "").split(":function:")[-1]
        return RunBy(f"lambda:{name}", function_arn, request_id)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return RunBy(f"{user}@{socket.gethostname()}", None, request_id)

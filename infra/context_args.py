"""The command line of `python infra/app.py`: `-c KEY=VALUE` / `--context KEY=VALUE`, as the
CDK CLI takes them, and nothing else.

Run by the CDK CLI, the app gets its context from the CLI (which reads cdk.json,
cdk.context.json and its own `-c`). Run directly, the app reads the same files itself and
then the `-c` arguments, so both synthesize the same templates. Values stay strings, as the CLI
leaves them (`existingDatabase` is then parsed as JSON by `infra.config`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.errors import ConfigurationError

USAGE = "usage: python infra/app.py [-c KEY=VALUE | --context KEY=VALUE | --context=KEY=VALUE]..."


def context_from_args(argv: Sequence[str]) -> dict[str, str]:
    """`-c env=prod --context alarmEmail=x@y` -> {"env": "prod", "alarmEmail": "x@y"}."""
    context: dict[str, str] = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-c", "--context"):
            if not args:
                raise ConfigurationError(f"{arg} needs KEY=VALUE; {USAGE}")
            pair = args.pop(0)
        elif arg.startswith("--context="):
            pair = arg.removeprefix("--context=")
        else:
            raise ConfigurationError(
                f"unknown argument {arg!r}: this app only synthesizes (use the CDK CLI to "
                f"deploy); {USAGE}"
            )
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"context {pair!r} is not KEY=VALUE; {USAGE}")
        context[key] = value
    return context


def project_context(repo_root: Path) -> dict[str, Any]:
    """What the CDK CLI would read: cdk.json's "context", then cdk.context.json over it."""
    context: dict[str, Any] = {}
    for path, key in ((repo_root / "cdk.json", "context"), (repo_root / "cdk.context.json", None)):
        if not path.exists():
            continue
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{path.name} is not valid JSON: {exc}") from exc
        context.update(data.get(key, {}) if key else data)
    return context

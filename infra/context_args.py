"""The command line of `python infra/app.py`: `-c KEY=VALUE` / `--context KEY=VALUE`, as the
CDK CLI takes them, and nothing else.

Run by the CDK CLI, the app gets its context from the CLI (which reads cdk.json,
cdk.context.json and its own `-c`). Run directly, the app reads the same files itself and
then the `-c` arguments, so both synthesize the same templates. Values stay strings, as the CLI
leaves them (`existingDatabase` is then parsed as JSON by `infra.config`), except
`aws:cdk:bundling-stacks`, a JSON list of stack patterns: `-c aws:cdk:bundling-stacks=[]`
skips asset bundling, the one step of synth that needs the network (pip). The CDK CLI refuses
`aws:` keys from the user, so this is the offline synth.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.errors import ConfigurationError

BUNDLING_STACKS = "aws:cdk:bundling-stacks"
USAGE = "usage: python infra/app.py [-c KEY=VALUE | --context KEY=VALUE | --context=KEY=VALUE]..."


def context_from_args(argv: Sequence[str]) -> dict[str, Any]:
    """`-c env=prod --context alarmEmail=x@y` -> {"env": "prod", "alarmEmail": "x@y"}."""
    context: dict[str, Any] = {}
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
        context[key] = _bundling_stacks(value) if key == BUNDLING_STACKS else value
    return context


def _bundling_stacks(value: str) -> list[str]:
    try:
        stacks = json.loads(value)
    except json.JSONDecodeError:
        stacks = None
    if not isinstance(stacks, list) or not all(isinstance(s, str) for s in stacks):
        raise ConfigurationError(
            f"{BUNDLING_STACKS} must be a JSON list of stack names or patterns, such as [] "
            f'(bundle nothing: synth offline) or ["**"] (bundle everything); not {value!r}'
        )
    return stacks


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

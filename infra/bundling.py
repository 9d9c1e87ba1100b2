"""The runner's deployment package, built by CDK *local* bundling (no Docker).

CDK calls `RunnerLocalBundling.try_bundle(output_dir, options)` while it stages the asset; we
hand the work to `runner.bundle.build.build_bundle`, which installs the runtime dependencies for the
Lambda platform and copies the runner, the migrations and the CA bundle into `output_dir`.
`runner.bundle.build` is imported only then, so a synth that skips bundling (the unit tests, or
`cdk synth --exclusively` of another stack) does not need it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent

# Kept out of the asset's source fingerprint: local state, build output, tests and tooling.
ASSET_EXCLUDES: tuple[str, ...] = (
    ".venv",
    "venv",
    ".git",
    "cdk.out",
    "build",
    "dist",
    ".devdb",
    "bench",
    "tests",
    "infra",
    "node_modules",
    "**/__pycache__",
    "*.pyc",
    "*.egg-info",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "cdk.json",
    "cdk.context.json",
)


class BuildBundle(Protocol):
    """The signature of `runner.bundle.build.build_bundle`."""

    def __call__(self, out_dir: Path, *, arch: str, python_version: str) -> object: ...


def _import_build_bundle() -> BuildBundle:
    try:
        from runner.bundle.build import build_bundle
    except ImportError as exc:
        raise RuntimeError(
            "cannot bundle the runner: runner.bundle.build.build_bundle is not importable "
            f"({exc}); install the project (pip install -e .) or skip bundling with "
            "--context aws:cdk:bundling-stacks=[]"
        ) from exc
    build: BuildBundle = build_bundle
    return build


@jsii.implements(cdk.ILocalBundling)
class RunnerLocalBundling:
    """Builds the runner bundle in-process; CDK never falls back to Docker."""

    def __init__(
        self,
        *,
        arch: str,
        python_version: str,
        build_bundle: Callable[[], BuildBundle] = _import_build_bundle,
    ) -> None:
        self.arch = arch
        self.python_version = python_version
        self._load_build_bundle = build_bundle

    def try_bundle(self, output_dir: str, *_options: Any, **_keyword_options: Any) -> bool:
        """Build into `output_dir`; jsii passes the `BundlingOptions` positionally."""
        build = self._load_build_bundle()
        build(Path(output_dir), arch=self.arch, python_version=self.python_version)
        return True


def bundle_target(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> tuple[str, str]:
    """(arch, python_version) for `build_bundle`, e.g. ("arm64", "3.12") for python3.12 on arm64."""
    if not runtime.name.startswith("python"):
        raise ValueError(f"the runner needs a Python runtime, not {runtime.name}")
    return architecture.name, runtime.name.removeprefix("python")


def runner_code(
    *,
    runtime: lambda_.Runtime,
    architecture: lambda_.Architecture,
    source_dir: Path = REPO_ROOT,
) -> lambda_.Code:
    """The Lambda code asset: the repo root, turned into a bundle by local bundling."""
    arch, python_version = bundle_target(runtime, architecture)
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=list(ASSET_EXCLUDES),
        bundling=cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry("none"),
            local=RunnerLocalBundling(arch=arch, python_version=python_version),
        ),
    )

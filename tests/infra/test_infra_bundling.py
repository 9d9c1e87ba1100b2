"""The runner's code asset: CDK local bundling hands the build to runner.bundle, never Docker."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from infra_testkit import (
    ISOLATED,
    imported_database_sg,
    imported_secret,
    imported_vpc,
    only_resource,
)

from infra.bundling import ASSET_EXCLUDES, RunnerLocalBundling, bundle_target
from infra.components.network import NewSecretsManagerEndpoint
from infra.stacks.runner import MigrationsRunnerProps, MigrationsRunnerStack


def runner_stack(app: cdk.App) -> MigrationsRunnerStack:
    def props(stack: cdk.Stack) -> MigrationsRunnerProps:
        return MigrationsRunnerProps(
            vpc=imported_vpc(stack),
            subnets=ISOLATED,
            database_security_group=imported_database_sg(stack),
            database_port=5432,
            database_secret=imported_secret(stack),
            secrets_manager=NewSecretsManagerEndpoint(private_dns=True),
        )

    return MigrationsRunnerStack(app, "Runner", make_props=props)


def staged_asset(outdir: Path, stack: cdk.Stack) -> Path:
    """The directory CDK staged as the function's code asset (the stack's one zip asset)."""
    manifest = json.loads((outdir / f"{stack.artifact_id}.assets.json").read_text())
    zips: list[str] = [
        entry["source"]["path"]
        for entry in manifest["files"].values()
        if entry["source"].get("packaging") == "zip"
    ]
    assert len(zips) == 1, zips
    code = only_resource(Template.from_stack(stack), "AWS::Lambda::Function")["Properties"]
    assert code["Code"]["S3Key"].startswith(zips[0].removeprefix("asset."))
    return outdir / zips[0]


@pytest.mark.parametrize(
    ("runtime", "architecture", "expected"),
    [
        (lambda_.Runtime.PYTHON_3_12, lambda_.Architecture.ARM_64, ("arm64", "3.12")),
        (lambda_.Runtime.PYTHON_3_13, lambda_.Architecture.X86_64, ("x86_64", "3.13")),
    ],
)
def test_bundle_target_follows_the_function_runtime_and_architecture(
    runtime: lambda_.Runtime, architecture: lambda_.Architecture, expected: tuple[str, str]
) -> None:
    assert bundle_target(runtime, architecture) == expected


def test_bundle_target_refuses_a_non_python_runtime() -> None:
    with pytest.raises(ValueError, match="Python runtime"):
        bundle_target(lambda_.Runtime.NODEJS_22_X, lambda_.Architecture.ARM_64)


def test_local_bundling_calls_build_bundle_with_the_target(tmp_path: Path) -> None:
    calls: list[tuple[Path, dict[str, Any]]] = []

    def build_bundle(out_dir: Path, **kwargs: Any) -> object:
        calls.append((out_dir, kwargs))
        return None

    bundler = RunnerLocalBundling(
        arch="arm64", python_version="3.12", build_bundle=lambda: build_bundle
    )
    options = cdk.BundlingOptions(image=cdk.DockerImage.from_registry("none"))
    assert bundler.try_bundle(str(tmp_path), options) is True
    assert calls == [(tmp_path, {"arch": "arm64", "python_version": "3.12"})]


def test_a_missing_runner_bundle_module_says_how_to_proceed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "runner.bundle.build", None)  # import now raises ImportError
    bundler = RunnerLocalBundling(arch="arm64", python_version="3.12")
    with pytest.raises(
        RuntimeError, match=r"runner\.bundle\.build\.build_bundle is not importable"
    ):
        bundler.try_bundle(str(tmp_path))


def test_asset_hash_ignores_local_state_and_tests() -> None:
    for excluded in (".venv", ".git", "cdk.out", "tests", ".devdb", "build", "bench"):
        assert excluded in ASSET_EXCLUDES


def test_synth_stages_what_build_bundle_writes_without_docker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """CDK calls our bundler through jsii and stages its output as the code asset."""
    seen: dict[str, Any] = {}

    def build_bundle(out_dir: Path, *, arch: str, python_version: str) -> object:
        seen.update(arch=arch, python_version=python_version)
        (out_dir / "runner" / "adapters").mkdir(parents=True)
        (out_dir / "runner" / "adapters" / "handler.py").write_text("def handler(event, c): ...\n")
        return None

    fake = types.ModuleType("runner.bundle.build")
    fake.build_bundle = build_bundle  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "runner.bundle.build", fake)

    app = cdk.App(outdir=str(tmp_path))  # no bundling-stacks context: bundling runs
    stack = runner_stack(app)
    app.synth()
    assert seen == {"arch": "arm64", "python_version": "3.12"}
    assert (staged_asset(tmp_path, stack) / "runner" / "adapters" / "handler.py").is_file()


@pytest.mark.bundling
def test_synth_with_real_local_bundling_builds_the_runner_bundle(tmp_path: Path) -> None:
    """The real thing: runner.bundle.build installs the arm64 wheels and copies the project."""
    app = cdk.App(outdir=str(tmp_path))
    stack = runner_stack(app)
    app.synth()
    asset = staged_asset(tmp_path, stack)
    assert (asset / "runner" / "adapters" / "handler.py").is_file()
    assert any(asset.glob("psycopg2*")), sorted(p.name for p in asset.iterdir())
    assert not any(asset.glob("boto3")), "the Lambda runtime provides boto3"
    manifest = json.loads((asset / "manifest.json").read_text())
    assert manifest["arch"] == "arm64"
    assert manifest["python_version"] == "3.12"

"""The deployment bundle: what goes in, what stays out, and the manifest that describes it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from runner.bundle.build import (
    BUDGET_UNZIPPED,
    BUDGET_ZIPPED,
    BundleReport,
    build_bundle,
    has_debug_info,
    pip_platforms,
    runtime_requirements,
)
from runner.core.errors import BundleFailed
from runner.core.settings import PROJECT_ROOT

RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "jmespath")


def manifest(report: BundleReport) -> dict[str, Any]:
    return dict(json.loads((Path(report.out_dir) / "manifest.json").read_text()))


def test_the_manifest_lists_every_revision_with_its_sha256(bundle: BundleReport) -> None:
    script = ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini")))
    versions = PROJECT_ROOT / "alembic" / "versions"
    data = manifest(bundle)

    assert set(data["revisions"]) == {rev.revision for rev in script.walk_revisions()}
    assert data["heads"] == list(script.get_heads())
    assert data["revision_files"] == {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(versions.glob("*.py"))
    }
    assert (data["arch"], data["python_version"]) == (bundle.arch, bundle.python_version)


def test_the_bundle_runs_the_projects_migrations_from_migrations_folder(
    bundle: BundleReport,
) -> None:
    """`alembic/` would collide with the alembic package installed beside it."""
    root = Path(bundle.out_dir)
    config = Config(str(root / "alembic.ini"))

    assert Path(config.get_main_option("script_location") or "") == root / "migrations"
    assert (root / "migrations" / "env.py").is_file()
    assert (root / "alembic" / "__init__.py").is_file()  # the library
    assert (root / "runner" / "certs" / "rds-global-bundle.pem").is_file()


def test_boto3_and_the_cli_only_packages_stay_out(bundle: BundleReport) -> None:
    """The Lambda runtime provides boto3; rich (and Pygments) only serve the CLI."""
    root = Path(bundle.out_dir)

    for package in (*RUNTIME_PACKAGES, "rich", "pygments"):
        assert not (root / package).exists(), package
    assert not any(name in bundle.dependencies for name in ("boto3", "botocore", "rich"))
    assert manifest(bundle)["removed_after_pip"] in ([], ["jmespath"])  # no boto3 pulled in


def test_no_bytecode_tests_or_scripts_are_shipped(bundle: BundleReport) -> None:
    root = Path(bundle.out_dir)

    assert not list(root.rglob("__pycache__"))
    assert not list(root.rglob("*.pyc"))
    assert not (root / "runner" / "tests").exists()
    assert not (root / "bin").exists()


def test_the_bundle_fits_the_size_budget(bundle: BundleReport) -> None:
    assert bundle.unzipped_bytes < BUDGET_UNZIPPED
    assert bundle.zipped_bytes < BUDGET_ZIPPED
    assert bundle.within_budget
    assert json.loads(json.dumps(bundle.to_dict()))["zipped_mb"] > 0


def test_runtime_requirements_come_from_pyproject_without_boto3() -> None:
    requirements = runtime_requirements(PROJECT_ROOT / "pyproject.toml")

    names = " ".join(requirements)
    assert "alembic" in names and "psycopg2-binary" in names
    assert "boto3" not in names and "rich" not in names


def test_wheels_are_chosen_for_the_runtimes_glibc() -> None:
    """python3.12 runs on Amazon Linux 2023 (glibc 2.34); 3.11 on Amazon Linux 2 (2.26)."""
    arm = pip_platforms("arm64", "3.12")
    old = pip_platforms("x86_64", "3.11")

    assert "manylinux2014_aarch64" in arm and "manylinux_2_28_aarch64" in arm
    assert "manylinux_2_17_x86_64" in old and "manylinux_2_28_x86_64" not in old


@pytest.mark.parametrize(
    ("arch", "python", "says"),
    [("sparc", "3.12", "Unknown arch"), ("arm64", "python3.12", "Unknown Python version")],
)
def test_bad_arguments_are_refused(tmp_path: Path, arch: str, python: str, says: str) -> None:
    with pytest.raises(BundleFailed, match=says):
        build_bundle(tmp_path / "out", arch=arch, python_version=python)


def test_the_bundle_command_reports_what_it_built(
    bundle_command: subprocess.CompletedProcess[str], bundle: BundleReport
) -> None:
    """`aurora-migrate bundle --json` (the run that built the session's bundle): exit 0, and a
    report that agrees with the folder and its manifest."""
    report = json.loads(bundle_command.stdout)
    root = Path(bundle.out_dir)
    data = manifest(bundle)

    assert bundle_command.returncode == 0
    assert (report["arch"], report["python_version"]) == (data["arch"], data["python_version"])
    assert report["revisions"] == data["revisions"] and report["heads"] == data["heads"]
    assert report["dependencies"] == data["dependencies"]
    assert report["files"] == sum(1 for p in root.rglob("*") if p.is_file())
    assert report["within_budget"] is True and report["zipped_mb"] > 0
    logged = [json.loads(line) for line in bundle_command.stderr.splitlines() if line[:1] == "{"]
    assert "bundle.built" in {line.get("event") for line in logged}


def test_a_non_empty_output_folder_is_refused_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "stale.py").write_text("")

    done = subprocess.run(
        [str(Path(sys.executable).parent / "aurora-migrate"), "bundle", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    assert "FAILED: BundleFailed:" in done.stderr
    assert "not an empty folder" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["stale.py"]


def test_native_modules_lose_their_debug_info_but_still_load(bundle: BundleReport) -> None:
    """SQLAlchemy's Cython modules come with debug info; it is stripped when a strip tool is
    there. (That they still load and work is what test_lambda_runtime.py runs on.)"""
    if not (shutil.which("llvm-strip") or shutil.which("strip")):
        assert bundle.debug_info_stripped == 0  # nothing to strip with: the report says so
        return
    libraries = [p for p in Path(bundle.out_dir).rglob("*.so*") if p.is_file()]

    assert bundle.debug_info_stripped > 0
    assert not [p.name for p in libraries if has_debug_info(p)]

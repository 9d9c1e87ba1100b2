"""The bundle ships the expected schema and the checksums beside manifest.json; without the
PostgreSQL server binaries it refuses, unless told to skip the schema (and says so)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from runner.bundle import build as bundle
from runner.core.errors import ExpectedSchemaUnavailable, LocalDatabaseError
from runner.local import localpg
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def _no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip is not what these tests are about (tests/aws/test_bundle.py builds a real bundle)."""
    monkeypatch.setattr(bundle, "_pip_install", lambda *a, **k: None)


@pytest.mark.slow
def test_the_bundle_ships_the_expected_schema_and_checksums(tmp_path: Path) -> None:
    out = tmp_path / "out"
    bundle.build_bundle(out, arch="arm64", python_version="3.12")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["integrity_files"] == ["checksums.json", "expected_schema.json"]
    assert manifest["expected_schema"] == "built"
    schema = json.loads((out / "expected_schema.json").read_text())
    assert "dry_run_log" in schema["revisions"]["0017"]["tables"]
    sums = json.loads((out / "checksums.json").read_text())
    digest = hashlib.sha256(
        (REPO / "alembic" / "versions" / "0017_create_dry_run_log.py").read_bytes()
    ).hexdigest()
    assert sums["revisions"]["0017"]["sha256"] == digest
    assert manifest["revision_files"]["0017_create_dry_run_log.py"] == digest
    assert (out / "runner" / "integrity" / "verbatim.py").exists(), "imported revisions need it"
    assert not (out / "runner" / "integrity" / "import_sql.py").exists(), "authoring only"


def test_without_server_binaries_the_bundle_refuses_unless_no_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> Path:
        raise LocalDatabaseError("PostgreSQL server binaries were not found.")

    monkeypatch.setattr(localpg, "find_bindir", missing)
    with pytest.raises(ExpectedSchemaUnavailable, match="--no-schema"):
        bundle.build_bundle(tmp_path / "refused", arch="arm64", python_version="3.12")
    out = tmp_path / "skipped"
    bundle.build_bundle(out, arch="arm64", python_version="3.12", expected_schema=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["expected_schema"] == "skipped (--no-schema)"
    assert not (out / "expected_schema.json").exists() and (out / "checksums.json").exists()

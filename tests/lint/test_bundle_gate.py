"""The bundle builder refuses revisions with lint findings unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.bundle import build as bundle
from runner.core.errors import LintFindingsRefused
from tests.integrity.support import copy_project

RISKY = '''"""index an existing table the blocking way"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_dry_run_log_motivo", "dry_run_log", ["motivo_decisao"])


def downgrade() -> None:
    op.drop_index("ix_dry_run_log_motivo", table_name="dry_run_log")
'''


def test_a_risky_revision_stops_the_bundle_before_anything_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = copy_project(tmp_path / "project")
    (ini.parent / "alembic" / "versions" / "0018_index_dry_run_log.py").write_text(RISKY)
    monkeypatch.setattr(bundle, "PROJECT_ROOT", ini.parent)
    out = tmp_path / "bundle"

    with pytest.raises(LintFindingsRefused) as refused:
        bundle.build_bundle(out, arch="x86_64", python_version="3.12")

    assert "require-concurrent-index-creation" in refused.value.message
    assert "--allow-lint-findings" in refused.value.message
    assert not out.exists(), "nothing was built"

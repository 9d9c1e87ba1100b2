"""`lint` finds what would block live traffic, says where, and honours reasoned opt-outs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.core.errors import LinterUnavailable, LintFindingsRefused, UnknownRevision
from runner.lint import Finding, blocking, bundle_gate, lint, report
from tests.conftest import FIXTURE_TREE, REPO
from tests.revision_factory import Rev, write_tree

RISKY = FIXTURE_TREE / "risky"
OPT_OUT_REASON = "accounts has at most a few rows in every environment"


def brief(findings: list[Finding]) -> set[tuple[str | None, str, int | None, bool]]:
    return {(f.revision, f.id, f.line, f.ignored is not None) for f in findings}


def test_every_revision_in_alembic_versions_lints_clean() -> None:
    """The project's own revisions ship without findings (0017's indexes are on the table it
    creates, which nobody else can see until it commits, so squawk does not flag them)."""
    findings = lint(REPO / "alembic.ini")

    assert blocking(findings) == [], report.text(findings)


def test_each_risky_pattern_is_found_at_its_line_in_the_revision_file() -> None:
    findings = lint(RISKY)

    assert brief(findings) == {
        ("0002", "plain-set-timeout", 14, False),
        ("0002", "require-concurrent-index-creation", 15, False),
        ("0002", "adding-field-with-default", 16, False),
        ("0002", "backfill-without-batching", 20, False),
        ("0003", "require-concurrent-index-creation", 16, True),
        ("0004", "commit-in-revision", 13, False),
        ("0004", "offline-render-failed", None, False),
    }
    # 0001's index is on the table 0001 creates; SET LOCAL and the downgrade's SET are fine
    assert {Path(f.file or "").resolve().parent for f in findings} == {RISKY / "versions"}


def test_an_opt_out_shows_its_reason_in_every_report() -> None:
    findings = lint(RISKY, ["0003"])

    assert [f.ignored for f in findings] == [OPT_OUT_REASON]
    assert blocking(findings) == []
    assert f"opted out: {OPT_OUT_REASON}" in report.text(findings)
    assert f"opted out: {OPT_OUT_REASON}" in report.markdown(findings)
    assert json.loads(report.as_json(findings))["findings"][0]["ignored"] == OPT_OUT_REASON


def test_lint_takes_revisions_by_id_or_prefix(tmp_path: Path) -> None:
    assert {f.revision for f in lint(RISKY, ["0004", "0002"])} == {"0002", "0004"}
    with pytest.raises(UnknownRevision, match="9999"):
        lint(RISKY, ["9999"])


def lint_one(tmp_path: Path, upgrade: str, extra: str = "") -> list[Finding]:
    base = Rev("0001", None, "op.execute('CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)')")
    ini = write_tree(tmp_path, [base, Rev("0002", "0001", upgrade, imports=extra)])
    return lint(ini, ["0002"])


def test_a_malformed_opt_out_is_a_finding_that_cannot_be_opted_out(tmp_path: Path) -> None:
    extra = 'lint_ignore = {"no-such-rule": "why not", "invalid-lint-ignore": "sneaky"}\n'
    findings = lint_one(tmp_path, "op.execute('SELECT 1')", extra)

    assert [(f.id, f.ignored) for f in findings] == [("invalid-lint-ignore", None)]
    assert "'no-such-rule'" in findings[0].message


def test_an_opt_out_needs_a_reason(tmp_path: Path) -> None:
    extra = 'lint_ignore = {"require-concurrent-index-creation": "  "}\n'
    findings = lint_one(tmp_path, "op.create_index('ix', 't', ['v'])", extra)

    assert brief(findings) == {
        ("0002", "invalid-lint-ignore", 6, False),
        ("0002", "require-concurrent-index-creation", 15, False),
    }


def test_a_squawk_ignore_comment_in_a_revision_does_not_opt_out(tmp_path: Path) -> None:
    """Only `lint_ignore`, with its reason, opts out; squawk's own comment is neutralised."""
    upgrade = (
        'op.execute("-- squawk-ignore require-concurrent-index-creation\\n'
        'CREATE INDEX ix ON t (v)")'
    )
    findings = lint_one(tmp_path, upgrade)

    assert [f.id for f in findings] == ["require-concurrent-index-creation"]


def test_a_batched_update_and_an_update_of_a_new_table_are_not_backfill_findings(
    tmp_path: Path,
) -> None:
    upgrade = """
    op.execute("CREATE TABLE fresh (id BIGINT PRIMARY KEY, v TEXT)")
    op.execute("UPDATE fresh SET v = 'x'")
    safe_ddl.backfill_in_batches("t", "v = 'x'", where="v IS NULL")
    """
    assert lint_one(tmp_path, upgrade, "from runner.authoring import safe_ddl\n") == []


def test_lint_refuses_to_run_without_squawk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(LinterUnavailable, match="squawk-cli"):
        lint(RISKY)


def test_the_bundle_gate_refuses_findings_unless_allowed_and_records_them() -> None:
    with pytest.raises(LintFindingsRefused) as refused:
        bundle_gate(RISKY, allow_findings=False)
    assert "0002 require-concurrent-index-creation" in refused.value.message
    assert "--allow-lint-findings" in refused.value.message

    record = bundle_gate(RISKY, allow_findings=True)

    assert record["allowed_findings"] is True
    assert len(record["findings"]) == 6
    assert [f["ignored"] for f in record["opted_out"]] == [OPT_OUT_REASON]
    assert bundle_gate(REPO / "alembic.ini", allow_findings=False)["allowed_findings"] is False


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner.lint", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_entry_point_exits_2_with_findings_and_prints_json() -> None:
    done = run_module("--config", str(RISKY), "--json")

    assert done.returncode == 2, done.stderr
    data = json.loads(done.stdout)
    assert (data["ok"], data["blocking"], data["opted_out"]) == (False, 6, 1)


def test_the_entry_point_exits_0_when_every_finding_is_opted_out() -> None:
    done = run_module("--config", str(RISKY), "0001", "0003")

    assert done.returncode == 0, done.stderr
    assert "0 lint finding(s) to fix, 1 opted out with a reason." in done.stdout


def test_the_entry_point_lints_the_project_by_default() -> None:
    done = run_module()

    assert (done.returncode, done.stdout) == (0, "No lint findings.\n"), done.stderr


def test_the_entry_point_refuses_an_unknown_revision_with_exit_2() -> None:
    done = run_module("--config", str(RISKY), "abcd")

    assert done.returncode == 2
    assert done.stderr.startswith("FAILED: Cannot lint 'abcd'")

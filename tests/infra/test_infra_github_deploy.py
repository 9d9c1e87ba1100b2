"""GitHub Actions' deploy role: who may assume it, and what it may do, per environment.

Invariants:
- only an OIDC token of the one repository assumes a role: dev's from its main branch,
  staging's and prod's only from the GitHub environment of the same name (no wildcards);
- a role may invoke its environment's runner and assume the CDK bootstrap deploy roles, and
  nothing else; prod's may also snapshot its one cluster, describe it and read the project's
  stack outputs, exactly what `aurora-migrate --env prod upgrade --snapshot` calls;
- the provider is created, or the existing one is used; no stack without githubRepository;
- cdk-nag, cfn-lint and checkov pass; bad context is refused with what to change.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from infra_testkit import (
    EXISTING_WITH_IAM_AUTH,
    NO_BUNDLING,
    cfn_lint_errors,
    checkov_failures,
    nag_findings,
    new_stack,
    only_resource,
    resources_of,
)

from infra.application import EnvironmentStacks, build
from infra.components.github_deploy import GitHubDeployRole, GitHubOidcProvider, SnapshotRights
from infra.errors import ConfigurationError
from runner.adapters.remote.resolve import conventional_function, database_stack, runner_stack
from runner.adapters.remote.snapshot import snapshot_name

REPOSITORY = "acme/aurora-migrations"
PROVIDER_ARN = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
SUBJECTS = {
    "dev": f"repo:{REPOSITORY}:ref:refs/heads/main",
    "staging": f"repo:{REPOSITORY}:environment:staging",
    "prod": f"repo:{REPOSITORY}:environment:prod",
}
DEPLOY_ACTIONS = {"lambda:InvokeFunction", "sts:AssumeRole"}
SNAPSHOT_ACTIONS = {
    "rds:CreateDBClusterSnapshot",
    "rds:DescribeDBClusterSnapshots",
    "rds:AddTagsToResource",
    "rds:DescribeDBClusters",
    "cloudformation:DescribeStacks",
}


def flat(value: Any) -> str:
    """A resolved ARN as text, pseudo parameters as `<AWS::Region>` (as cdk-nag writes them)."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    _separator, parts = value["Fn::Join"]
    return "".join(flat(part) for part in parts)


def statements(template: Template) -> dict[str, tuple[set[str], set[str]]]:
    """Sid -> (actions, resources) of the (one) deploy policy."""
    policy = only_resource(template, "AWS::IAM::Policy")["Properties"]["PolicyDocument"]
    found = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and "Condition" not in statement
        actions = statement["Action"]
        resources = statement["Resource"]
        found[statement["Sid"]] = (
            set(actions if isinstance(actions, list) else [actions]),
            {flat(r) for r in (resources if isinstance(resources, list) else [resources])},
        )
    return found


def trust(template: Template) -> dict[str, Any]:
    role = only_resource(template, "AWS::IAM::Role")["Properties"]
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    return dict(statement)


def app_for(env: str, **context: Any) -> EnvironmentStacks:
    app = cdk.App(context={**NO_BUNDLING, "env": env, "githubRepository": REPOSITORY, **context})
    return build(app)


def github_template(stacks: EnvironmentStacks) -> Template:
    assert stacks.github is not None
    return Template.from_stack(stacks.github)


# --- the construct, alone ------------------------------------------------------------------


def bare_role(*, snapshot: SnapshotRights | None = None, existing: str | None = None) -> Template:
    stack = new_stack()
    provider = GitHubOidcProvider(stack, "Oidc", existing_arn=existing)
    GitHubDeployRole(
        stack,
        "Deploy",
        provider=provider.provider,
        subject=SUBJECTS["staging"],
        function_name="aurora-migrations-staging",
        snapshot=snapshot,
    )
    assert nag_findings(stack) == []
    return Template.from_stack(stack)


def test_the_role_trusts_one_subject_of_one_repository_through_the_provider() -> None:
    template = bare_role()
    provider = only_resource(template, "AWS::IAM::OIDCProvider")["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]
    statement = trust(template)
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": SUBJECTS["staging"],
        }
    }
    assert "Ref" in statement["Principal"]["Federated"], "the provider created here"


def test_an_existing_provider_is_used_and_none_is_created() -> None:
    template = bare_role(existing=PROVIDER_ARN)
    assert resources_of(template, "AWS::IAM::OIDCProvider") == []
    assert trust(template)["Principal"]["Federated"] == PROVIDER_ARN


def test_the_role_may_invoke_its_runner_and_assume_the_bootstrap_roles_only() -> None:
    found = statements(bare_role())
    assert found == {
        "InvokeRunner": (
            {"lambda:InvokeFunction"},
            {
                "arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:"
                "aurora-migrations-staging"
            },
        ),
        "AssumeCdkBootstrapRoles": (
            {"sts:AssumeRole"},
            {
                f"arn:<AWS::Partition>:iam::<AWS::AccountId>:role/cdk-hnb659fds-{kind}-"
                "<AWS::AccountId>-<AWS::Region>"
                for kind in ("deploy-role", "file-publishing-role")
            },
        ),
    }


def test_snapshot_rights_name_one_cluster_its_snapshots_and_the_stacks() -> None:
    rights = SnapshotRights(
        cluster_identifier="aurora-migrations-prod",
        snapshot_prefix="aurora-migrate-prod-",
        stack_names=("AuroraMigrations-prod-Runner", "AuroraMigrations-prod-Database"),
    )
    found = statements(bare_role(snapshot=rights))
    prefix = "arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>"
    cluster = f"{prefix}:cluster:aurora-migrations-prod"
    assert found["SnapshotCluster"] == (
        {"rds:CreateDBClusterSnapshot", "rds:DescribeDBClusterSnapshots", "rds:AddTagsToResource"},
        {cluster, f"{prefix}:cluster-snapshot:aurora-migrate-prod-*"},
    )
    assert found["DescribeCluster"] == ({"rds:DescribeDBClusters"}, {cluster})
    assert found["ReadStackOutputs"] == (
        {"cloudformation:DescribeStacks"},
        {
            f"arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/{name}/*"
            for name in rights.stack_names
        },
    )


@pytest.mark.parametrize("subject", [f"repo:{REPOSITORY}:*", "repo:acme/*:environment:prod"])
def test_a_wildcard_subject_is_refused(subject: str) -> None:
    stack = new_stack()
    provider = GitHubOidcProvider(stack, "Oidc", existing_arn=None)
    with pytest.raises(ValueError, match="must name one"):
        GitHubDeployRole(
            stack, "Deploy", provider=provider.provider, subject=subject, function_name="f"
        )


# --- the app, per environment ----------------------------------------------------------------


def test_no_github_stack_without_the_repository() -> None:
    app = cdk.App(context={**NO_BUNDLING, "env": "prod"})
    stacks = build(app)
    assert stacks.github is None
    assert [s.stack_name for s in app.node.children if isinstance(s, cdk.Stack)] == [
        "AuroraMigrations-prod-Database",
        "AuroraMigrations-prod-Runner",
    ]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_environment_trusts_its_own_subject_and_invokes_its_own_runner(env: str) -> None:
    stacks = app_for(env)
    assert stacks.github is not None
    assert stacks.github.stack_name == f"AuroraMigrations-{env}-GitHubDeploy"
    template = github_template(stacks)
    sub = trust(template)["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert sub == SUBJECTS[env]
    role = only_resource(template, "AWS::IAM::Role")["Properties"]
    assert role["RoleName"] == f"aurora-migrations-github-{env}"
    found = statements(template)
    [invoked] = found["InvokeRunner"][1]
    runner_function = Template.from_stack(stacks.runner).find_resources("AWS::Lambda::Function")
    names = {r["Properties"].get("FunctionName") for r in runner_function.values()}
    assert invoked.endswith(f":function:{conventional_function(env)}")
    assert conventional_function(env) in names, "the role invokes the function the stack deploys"
    actions = set().union(*(actions for actions, _ in found.values()))
    assert actions == (DEPLOY_ACTIONS | SNAPSHOT_ACTIONS if env == "prod" else DEPLOY_ACTIONS)
    template.has_output("RoleArn", {})


def test_prods_snapshot_rights_are_what_the_remote_mode_calls() -> None:
    found = statements(github_template(app_for("prod")))
    stacks = {arn.split(":stack/")[1] for arn in found["ReadStackOutputs"][1]}
    assert stacks == {f"{runner_stack('prod')}/*", f"{database_stack('prod')}/*"}
    [pattern] = [arn for arn in found["SnapshotCluster"][1] if "cluster-snapshot:" in arn]
    made = snapshot_name(label="prod", head="0018", now=datetime(2026, 11, 29, tzinfo=UTC))
    assert made.startswith(pattern.split("cluster-snapshot:")[1].rstrip("*"))
    assert any(
        arn.endswith(":cluster:aurora-migrations-prod") for arn in found["DescribeCluster"][1]
    )


def test_prod_on_an_existing_cluster_needs_the_cluster_to_snapshot() -> None:
    existing = {"existingDatabase": {"prod": EXISTING_WITH_IAM_AUTH}}
    with pytest.raises(ConfigurationError, match="snapshotCluster=<cluster identifier>"):
        app_for("prod", **existing)
    found = statements(github_template(app_for("prod", snapshotCluster="app-db", **existing)))
    assert any(arn.endswith(":cluster:app-db") for arn in found["DescribeCluster"][1])
    assert {arn.split("/")[0].rsplit(":", 1)[1] for arn in found["ReadStackOutputs"][1]} == {
        "stack"
    }
    assert len(found["ReadStackOutputs"][1]) == 1, "no database stack to read"


def test_the_existing_provider_and_bootstrap_qualifier_come_from_context() -> None:
    template = github_template(
        app_for(
            "dev",
            githubOidcProviderArn=PROVIDER_ARN,
            **{"@aws-cdk/core:bootstrapQualifier": "custom123"},
        )
    )
    assert resources_of(template, "AWS::IAM::OIDCProvider") == []
    assert trust(template)["Principal"]["Federated"] == PROVIDER_ARN
    assert all(
        "cdk-custom123-" in arn for arn in statements(template)["AssumeCdkBootstrapRoles"][1]
    )


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"githubRepository": "acme"}, "must be owner/name"),
        ({"githubRepository": "acme/x y"}, "must be owner/name"),
        ({"githubOidcProviderArn": "arn:aws:iam::1:oidc-provider/x"}, "must be the ARN"),
        ({"snapshotCluster": "app-db"}, "takes no snapshot in CI"),
        ({"githubRepository": "", "githubOidcProviderArn": PROVIDER_ARN}, "only mean something"),
        ({"githubRepository": 42}, "must be a string"),
    ],
)
def test_bad_github_context_is_refused_with_what_to_change(
    context: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        app_for("dev", **context)


def test_prods_sandbox_cluster_is_not_overridden() -> None:
    with pytest.raises(ConfigurationError, match="leave the key out"):
        app_for("prod", snapshotCluster="some-other-cluster")


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_github_stack_passes_nag_cfn_lint_and_checkov(env: str, tmp_path: Path) -> None:
    app = cdk.App(
        context={**NO_BUNDLING, "env": env, "githubRepository": REPOSITORY}, outdir=str(tmp_path)
    )
    stacks = build(app)
    assembly = app.synth()  # cdk-nag runs here and raises on any unacknowledged finding
    assert stacks.github is not None and nag_findings(stacks.github) == []
    template = Path(assembly.get_stack_by_name(stacks.github.stack_name).template_full_path)
    assert json.loads(template.read_text())["Resources"]
    assert cfn_lint_errors(template) == []
    assert checkov_failures(template) == []

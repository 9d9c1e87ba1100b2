"""GitHub Actions' way into one environment, with no stored keys: an OIDC provider and a role.

The role can be assumed only with a GitHub OIDC token for one repository, and only from one
subject: the deploy branch (dev), or the repository's GitHub environment of the same name
(staging, prod), whose protection rules (a required reviewer) then guard the role itself. It
may invoke that environment's runner function and assume the CDK bootstrap roles that
`cdk deploy` uses, and nothing else; with `snapshot`, it may also snapshot one cluster and read
the stacks the remote mode resolves the function and cluster from.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.nag import acknowledge

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
AUDIENCE = "sts.amazonaws.com"
# The bootstrap roles `cdk deploy` assumes: CloudFormation deploys, and the asset upload.
# There are no Docker image assets and no context lookups, so neither of those roles.
BOOTSTRAP_ROLES = ("deploy-role", "file-publishing-role")
MAX_SESSION = cdk.Duration.hours(2)  # a prod snapshot may take up to an hour to be available


class GitHubOidcProvider(Construct):
    """The account's GitHub OIDC provider: created here, or the existing one when its ARN is
    given (an account has one provider per URL, so a second environment there reuses it)."""

    provider: iam.IOidcProvider

    def __init__(self, scope: Construct, construct_id: str, *, existing_arn: str | None) -> None:
        super().__init__(scope, construct_id)
        if existing_arn:
            self.provider = iam.OidcProviderNative.from_oidc_provider_arn(
                self, "Existing", existing_arn
            )
            return
        self.provider = iam.OidcProviderNative(
            self,
            "Provider",
            url=GITHUB_OIDC_URL,
            client_ids=[AUDIENCE],
            # Other environments' roles may trust it: deleting this stack must not break them.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )


@dataclass(frozen=True, kw_only=True)
class SnapshotRights:
    """The one cluster the role may snapshot, and the stacks it may read outputs from."""

    cluster_identifier: str
    snapshot_prefix: str  # the snapshots `aurora-migrate --env ENV` names: aurora-migrate-ENV-
    stack_names: tuple[str, ...]


class GitHubDeployRole(Construct):
    """One environment's role for GitHub Actions (see the module docstring)."""

    role: iam.Role

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        provider: iam.IOidcProvider,
        subject: str,
        function_name: str,
        role_name: str | None = None,
        bootstrap_qualifier: str = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER,
        snapshot: SnapshotRights | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if "*" in subject or "?" in subject:
            raise ValueError(f"the subject {subject!r} must name one repository ref or environment")
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description=f"GitHub Actions ({subject}): deploy and migrate {function_name}",
            max_session_duration=MAX_SESSION,
            assumed_by=iam.WebIdentityPrincipal(
                provider.oidc_provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subject,
                    }
                },
            ),
        )
        statements = [
            iam.PolicyStatement(
                sid="InvokeRunner",
                actions=["lambda:InvokeFunction"],
                resources=[
                    stack.format_arn(
                        service="lambda",
                        resource="function",
                        resource_name=function_name,
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                actions=["sts:AssumeRole"],
                resources=[
                    stack.format_arn(
                        service="iam",
                        region="",
                        resource="role",
                        resource_name=f"cdk-{bootstrap_qualifier}-{kind}-{stack.account}-"
                        f"{stack.region}",
                    )
                    for kind in BOOTSTRAP_ROLES
                ],
            ),
        ]
        wildcards: dict[str, str] = {}
        if snapshot is not None:
            statements += _snapshot_statements(stack, snapshot, wildcards)
        self.policy = iam.Policy(self, "Policy", statements=statements, roles=[self.role])
        for arn, reason in wildcards.items():
            acknowledge(
                self.policy, f"AwsSolutions-IAM5[Resource::{_nag_form(stack, arn)}]", reason
            )


def _snapshot_statements(
    stack: cdk.Stack, rights: SnapshotRights, wildcards: dict[str, str]
) -> list[iam.PolicyStatement]:
    """The snapshot rights; `wildcards` gets each wildcard resource with why it is one."""
    cluster = stack.format_arn(
        service="rds",
        resource="cluster",
        resource_name=rights.cluster_identifier,
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    snapshots = stack.format_arn(
        service="rds",
        resource="cluster-snapshot",
        resource_name=f"{rights.snapshot_prefix}*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    wildcards[snapshots] = (
        "snapshot names are made at run time (prefix, UTC time, head revision); the prefix "
        "limits the role to this environment's own migration snapshots"
    )
    stacks = [
        stack.format_arn(service="cloudformation", resource="stack", resource_name=f"{name}/*")
        for name in rights.stack_names
    ]
    for arn in stacks:
        wildcards[arn] = (
            "a stack ARN ends in the id CloudFormation generates; the name fixes the one stack "
            "whose outputs name the function or the cluster"
        )
    return [
        iam.PolicyStatement(
            sid="SnapshotCluster",
            actions=[
                "rds:CreateDBClusterSnapshot",
                "rds:DescribeDBClusterSnapshots",
                "rds:AddTagsToResource",
            ],
            resources=[cluster, snapshots],
        ),
        iam.PolicyStatement(
            sid="DescribeCluster", actions=["rds:DescribeDBClusters"], resources=[cluster]
        ),
        iam.PolicyStatement(
            sid="ReadStackOutputs",
            actions=["cloudformation:DescribeStacks"],
            resources=stacks,
        ),
    ]


def _nag_form(stack: cdk.Stack, arn: str) -> str:
    """An ARN as cdk-nag names it in a finding: pseudo parameters as `<AWS::Region>`."""
    resolved = stack.resolve(arn)
    if isinstance(resolved, str):
        return resolved
    _separator, parts = resolved["Fn::Join"]
    return "".join(part if isinstance(part, str) else f"<{part['Ref']}>" for part in parts)

"""GitHubDeployStack: the OIDC provider and the role GitHub Actions deploys one environment with.

A stack of its own, deployed once by an administrator (`cdk deploy ...-GitHubDeploy`): the
workflows deploy only the runner's stacks, so the role never rewrites its own trust policy.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.components.github_deploy import GitHubDeployRole, GitHubOidcProvider, SnapshotRights
from infra.github import GitHubDeploySettings


class GitHubDeployStack(cdk.Stack):
    provider: GitHubOidcProvider
    deploy_role: GitHubDeployRole

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        github: GitHubDeploySettings,
        function_name: str,
        project_stacks: tuple[str, ...],
        **stack_options: Any,
    ) -> None:
        super().__init__(scope, construct_id, **stack_options)
        self.provider = GitHubOidcProvider(
            self, "GitHubOidc", existing_arn=github.existing_provider_arn
        )
        snapshot = (
            SnapshotRights(
                cluster_identifier=github.snapshot_cluster,
                snapshot_prefix=github.snapshot_prefix,
                stack_names=project_stacks,
            )
            if github.snapshot_cluster
            else None
        )
        self.deploy_role = GitHubDeployRole(
            self,
            "DeployRole",
            provider=self.provider.provider,
            subject=github.subject,
            function_name=function_name,
            role_name=github.role_name,
            bootstrap_qualifier=github.bootstrap_qualifier
            or cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER,
            snapshot=snapshot,
        )
        cdk.CfnOutput(
            self,
            "RoleArn",
            value=self.deploy_role.role.role_arn,
            description=f"GitHub variable AWS_ROLE_ARN_{github.environment.upper()}",
        )

"""The CDK context keys that add GitHub Actions' deploy role to an environment.

    githubRepository        owner/name: with it, the app adds the stack
                            AuroraMigrations-<env>-GitHubDeploy (an OIDC provider and one
                            role); without it, no such stack.
    githubOidcProviderArn   optional: the account's existing GitHub OIDC provider
                            (arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com);
                            without it the stack creates one. An account has one per URL, so
                            the second environment deployed to an account gives the first's.
    snapshotCluster         prod on an existing cluster only: the cluster identifier the role
                            may snapshot (the sandbox's is known: aurora-migrations-prod).

Who may assume the role (the OIDC token's `sub`): dev, the deploy branch `main` of the
repository (`repo:owner/name:ref:refs/heads/main`); staging and prod, only the repository's
GitHub environment of that name (`repo:owner/name:environment:prod`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from constructs import Node

from infra.config import EnvironmentSettings
from infra.errors import ConfigurationError

CONTEXT_GITHUB_REPOSITORY = "githubRepository"
CONTEXT_GITHUB_OIDC_PROVIDER_ARN = "githubOidcProviderArn"
CONTEXT_SNAPSHOT_CLUSTER = "snapshotCluster"
CONTEXT_BOOTSTRAP_QUALIFIER = "@aws-cdk/core:bootstrapQualifier"

DEPLOY_BRANCH = "main"
# Environments whose GitHub job waits in a GitHub environment of the same name (approval).
GATED_ENVIRONMENTS = frozenset({"staging", "prod"})
# Environments whose upgrade in CI takes a cluster snapshot first (`upgrade --snapshot`).
SNAPSHOT_ENVIRONMENTS = frozenset({"prod"})
SNAPSHOT_NAME_PREFIX = "aurora-migrate"  # runner/adapters/remote/snapshot.py names them so

_REPOSITORY = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
_PROVIDER_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$"
)
_CLUSTER = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$")


@dataclass(frozen=True, kw_only=True)
class GitHubDeploySettings:
    repository: str
    environment: str
    existing_provider_arn: str | None
    snapshot_cluster: str | None  # None: this environment's role takes no snapshot
    bootstrap_qualifier: str | None

    @property
    def subject(self) -> str:
        """The OIDC `sub` the role trusts, and nothing else."""
        if self.environment in GATED_ENVIRONMENTS:
            return f"repo:{self.repository}:environment:{self.environment}"
        return f"repo:{self.repository}:ref:refs/heads/{DEPLOY_BRANCH}"

    @property
    def role_name(self) -> str:
        return f"aurora-migrations-github-{self.environment}"

    @property
    def snapshot_prefix(self) -> str:
        return f"{SNAPSHOT_NAME_PREFIX}-{self.environment}-"


def github_deploy_from_context(
    node: Node, settings: EnvironmentSettings
) -> GitHubDeploySettings | None:
    """The settings when `githubRepository` is given, else None; bad values are refused."""
    repository = _text(node.try_get_context(CONTEXT_GITHUB_REPOSITORY))
    provider = _text(node.try_get_context(CONTEXT_GITHUB_OIDC_PROVIDER_ARN))
    cluster = _text(node.try_get_context(CONTEXT_SNAPSHOT_CLUSTER))
    if repository is None:
        if provider or cluster:
            raise ConfigurationError(
                f"context {CONTEXT_GITHUB_OIDC_PROVIDER_ARN} and {CONTEXT_SNAPSHOT_CLUSTER} "
                f"only mean something with {CONTEXT_GITHUB_REPOSITORY}=owner/name"
            )
        return None
    if not _REPOSITORY.match(repository):
        raise ConfigurationError(
            f"context {CONTEXT_GITHUB_REPOSITORY} must be owner/name (as in the repository's "
            f"URL), not {repository!r}"
        )
    if provider is not None and not _PROVIDER_ARN.match(provider):
        raise ConfigurationError(
            f"context {CONTEXT_GITHUB_OIDC_PROVIDER_ARN} must be the ARN of the account's "
            "GitHub OIDC provider, arn:aws:iam::<account>:oidc-provider/"
            f"token.actions.githubusercontent.com, not {provider!r}"
        )
    if cluster is not None and not _CLUSTER.match(cluster):
        raise ConfigurationError(
            f"context {CONTEXT_SNAPSHOT_CLUSTER} must be a cluster identifier, not {cluster!r}"
        )
    return GitHubDeploySettings(
        repository=repository,
        environment=settings.name,
        existing_provider_arn=provider,
        snapshot_cluster=_snapshot_cluster(settings, cluster),
        bootstrap_qualifier=_text(node.try_get_context(CONTEXT_BOOTSTRAP_QUALIFIER)),
    )


def _snapshot_cluster(settings: EnvironmentSettings, given: str | None) -> str | None:
    if settings.name not in SNAPSHOT_ENVIRONMENTS:
        if given is not None:
            raise ConfigurationError(
                f"context {CONTEXT_SNAPSHOT_CLUSTER}: {settings.name} takes no snapshot in CI "
                f"(only {', '.join(sorted(SNAPSHOT_ENVIRONMENTS))}); leave it out"
            )
        return None
    if settings.existing_database is None:
        if given is not None and given != settings.cluster_identifier:
            raise ConfigurationError(
                f"context {CONTEXT_SNAPSHOT_CLUSTER}: {settings.name}'s sandbox cluster is "
                f"{settings.cluster_identifier}; leave the key out"
            )
        return settings.cluster_identifier
    if given is None:
        raise ConfigurationError(
            f"{settings.name} runs on an existing cluster: give its identifier with context "
            f"{CONTEXT_SNAPSHOT_CLUSTER}=<cluster identifier>, so that the GitHub role may "
            "snapshot it before each upgrade"
        )
    return given


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"a GitHub context value must be a string, not {value!r}")
    return value.strip()

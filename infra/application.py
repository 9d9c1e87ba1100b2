"""Builds the stacks of one environment into an app; `infra/app.py` and the tests call `build`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import aws_cdk as cdk

from infra.components.permissions import IamDatabaseAuth
from infra.config import EnvironmentSettings, settings_from_context
from infra.existing_database import ExistingDatabase, import_existing_database
from infra.github import github_deploy_from_context
from infra.nag import add_nag_checks
from infra.stacks.github_deploy import GitHubDeployStack
from infra.stacks.runner import MigrationsRunnerProps, MigrationsRunnerStack
from infra.stacks.sandbox import SandboxProps, SandboxStack

STACK_PREFIX = "AuroraMigrations"
PROJECT = "aurora-migrations"


@dataclass(frozen=True)
class EnvironmentStacks:
    settings: EnvironmentSettings
    runner: MigrationsRunnerStack
    database: SandboxStack | None  # None when the runner targets an existing cluster
    github: GitHubDeployStack | None = None  # only with context githubRepository


def build(app: cdk.App) -> EnvironmentStacks:
    """Add the environment named by the context to `app`, with cdk-nag checking it on synth.

    Stacks are environment-agnostic (no account/region): the CLI's credentials decide at
    deploy time, and synth never needs AWS.
    """
    settings = settings_from_context(app.node)
    prefix = f"{STACK_PREFIX}-{settings.name}"

    database: SandboxStack | None = None
    make_props: Callable[[cdk.Stack], MigrationsRunnerProps]
    if settings.existing_database is None:
        database = SandboxStack(
            app,
            f"{prefix}-Database",
            props=SandboxProps(
                cluster_identifier=settings.cluster_identifier,
                vpc_cidr=settings.vpc_cidr,
                min_capacity=settings.min_capacity,
                max_capacity=settings.max_capacity,
                deletion_protection=settings.deletion_protection,
                removal_policy=settings.database_removal_policy,
                backup_retention=cdk.Duration.days(settings.backup_retention_days),
                log_retention=settings.log_retention,
                encrypt_database_logs=settings.encrypt_database_logs,
            ),
            description=f"{PROJECT} ({settings.name}): sandbox VPC and Aurora PostgreSQL",
            termination_protection=settings.termination_protection,
        )
        make_props = partial(sandbox_runner_props, settings, database)
    else:
        # Imports need a scope inside the runner stack: the stack calls this with itself.
        make_props = partial(existing_runner_props, settings, settings.existing_database)

    runner = MigrationsRunnerStack(
        app,
        f"{prefix}-Runner",
        make_props=make_props,
        description=f"{PROJECT} ({settings.name}): the migrations runner Lambda",
        termination_protection=settings.termination_protection,
    )
    github = github_deploy_from_context(app.node, settings)
    github_stack = None
    if github is not None:
        github_stack = GitHubDeployStack(
            app,
            f"{prefix}-GitHubDeploy",
            github=github,
            function_name=settings.function_name,
            project_stacks=(runner.stack_name, *([database.stack_name] if database else [])),
            description=f"{PROJECT} ({settings.name}): the role GitHub Actions deploys with",
            termination_protection=settings.termination_protection,
        )
    cdk.Tags.of(app).add("project", PROJECT)
    cdk.Tags.of(app).add("environment", settings.name)
    add_nag_checks(app)
    return EnvironmentStacks(
        settings=settings, runner=runner, database=database, github=github_stack
    )


def sandbox_runner_props(
    settings: EnvironmentSettings, database: SandboxStack, _stack: cdk.Stack
) -> MigrationsRunnerProps:
    """The runner against the sandbox cluster, as the migration user with IAM auth.

    Nothing is imported into the runner stack: the sandbox stack's resources are referenced.

    The runner never gets the master secret. The user (`migration_user`, with `rds_iam`) must
    be created once with the master credentials, before the first run (see the README).
    """
    return MigrationsRunnerProps(
        vpc=database.vpc,
        subnets=database.subnets,
        database_security_group=database.database_security_group,
        database_port=database.database_port,
        iam_auth=IamDatabaseAuth(
            db_user=database.migration_user, cluster_resource_id=database.cluster_resource_id
        ),
        database_name=database.database_name,
        database_host=database.database_host,
        function_name=settings.function_name,
        timeout=cdk.Duration.minutes(settings.function_timeout_minutes),
        log_retention=settings.log_retention,
        removal_policy=settings.removal_policy,
        alarm_email=settings.alarm_email,
        invoke_trail=settings.invoke_trail,
        code_signing_profile_arn=settings.code_signing_profile_arn,
    )


def existing_runner_props(
    settings: EnvironmentSettings, existing: ExistingDatabase, stack: cdk.Stack
) -> MigrationsRunnerProps:
    """The runner against an existing cluster, whose resources are imported into `stack`."""
    imported = import_existing_database(stack, existing)
    return MigrationsRunnerProps(
        vpc=imported.vpc,
        subnets=imported.subnets,
        database_security_group=imported.database_security_group,
        database_port=existing.database_port,
        database_secret=imported.database_secret,
        secrets_manager=imported.secrets_manager,
        database_name=existing.database_name,
        database_host=existing.database_host,
        iam_auth=existing.iam_auth,
        function_name=settings.function_name,
        timeout=cdk.Duration.minutes(settings.function_timeout_minutes),
        log_retention=settings.log_retention,
        removal_policy=settings.removal_policy,
        alarm_email=settings.alarm_email,
        invoke_trail=settings.invoke_trail,
        code_signing_profile_arn=settings.code_signing_profile_arn,
    )

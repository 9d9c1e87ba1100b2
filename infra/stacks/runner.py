"""MigrationsRunnerStack: the migrations Lambda next to an existing Aurora cluster."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.bundling import runner_code
from infra.components.alarm_topic import AlarmTopic
from infra.components.function import (
    ARCHITECTURE,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT,
    RUNTIME,
    MigrationsFunction,
)
from infra.components.invoke_trail import InvokeTrail
from infra.components.monitoring import MigrationsMonitoring
from infra.components.network import RunnerNetworkAccess, SecretsManagerRoute
from infra.components.permissions import IamDatabaseAuth, RunnerPermissions
from runner.core import contract

# Set explicitly, not left to the runner's default: the stack promises verified TLS.
SSL_MODE = "verify-full"


@dataclass(frozen=True, kw_only=True)
class MigrationsRunnerProps:
    """Where the database is, how the runner logs in and reaches it, and how it is sized.

    `subnets` should be private (isolated is fine: the runner needs no internet).

    The runner logs in one of two ways, never both:
    - password auth: `database_secret`, plus `secrets_manager`, the explicit choice of how the
      runner reaches Secrets Manager (see `infra.components.network`). The runner takes host
      and dbname from the secret unless `database_host` / `database_name` are given:
      RDS-attached secrets carry no dbname, and RDS-managed master secrets carry neither.
    - IAM auth: `iam_auth` with `database_host` and `database_name`; no secret is passed,
      granted or reachable.
    The port is always passed, so the connection and the security group rules cannot disagree.
    """

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    database_security_group: ec2.ISecurityGroup
    database_port: int
    database_secret: secretsmanager.ISecret | None = None
    secrets_manager: SecretsManagerRoute | None = None
    database_name: str | None = None
    database_host: str | None = None
    iam_auth: IamDatabaseAuth | None = None
    code: lambda_.Code | None = None  # None: the runner bundle, built by local bundling
    function_name: str | None = None
    timeout: cdk.Duration = DEFAULT_TIMEOUT
    memory_size: int = DEFAULT_MEMORY_MB
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN  # log group and alarm key
    alarm_email: str | None = None
    invoke_trail: bool = False  # a CloudTrail trail of this function's Invoke data events
    # AWS Signer profile version ARN: only code it signed deploys (the asset must be signed).
    code_signing_profile_arn: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.database_port < 65536:
            raise ValueError(f"database_port {self.database_port} is not a TCP port")
        if (self.database_secret is None) == (self.iam_auth is None):
            raise ValueError(
                "give exactly one of database_secret (password auth) and iam_auth: with IAM "
                "auth the runner needs no secret and must not be able to read one"
            )
        if (self.database_secret is None) != (self.secrets_manager is None):
            raise ValueError(
                "with database_secret, choose secrets_manager (how the runner reaches Secrets "
                "Manager); without a secret, give no secrets_manager"
            )
        if self.iam_auth is not None and not (self.database_host and self.database_name):
            raise ValueError(
                "iam_auth needs database_host and database_name: without a secret the runner "
                "learns its target from DB_HOST and DB_NAME"
            )


def database_environment(props: MigrationsRunnerProps) -> dict[str, str]:
    """The runner's connection settings (see runner/core/settings.py)."""
    environment = {
        contract.ENV_DB_SSL_MODE: SSL_MODE,
        contract.ENV_DB_IAM_AUTH: "true" if props.iam_auth else "false",
        contract.ENV_DB_PORT: str(props.database_port),
    }
    if props.database_secret is not None:
        environment[contract.ENV_DB_SECRET_ARN] = props.database_secret.secret_arn
    if props.database_host:
        environment[contract.ENV_DB_HOST] = props.database_host
    if props.database_name:
        environment[contract.ENV_DB_NAME] = props.database_name
    if props.iam_auth:
        environment[contract.ENV_DB_USER] = props.iam_auth.db_user
    return environment


class MigrationsRunnerStack(cdk.Stack):
    """Network access, the function, its permissions and its monitoring, wired together.

    `make_props` receives this stack and returns the props: an existing cluster's VPC,
    subnets, security group and secret must be imported into the stack that uses them
    (`Vpc.from_vpc_attributes(stack, ...)`), so the props cannot exist before it. Props that
    need nothing from the stack: `make_props=lambda _stack: props`.
    """

    network: RunnerNetworkAccess
    alarm_topic: AlarmTopic
    runner: MigrationsFunction
    permissions: RunnerPermissions
    monitoring: MigrationsMonitoring
    invoke_trail: InvokeTrail | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        make_props: Callable[[cdk.Stack], MigrationsRunnerProps],
        **stack_options: Any,
    ) -> None:
        super().__init__(scope, construct_id, **stack_options)
        props = make_props(self)
        self.props = props

        self.network = RunnerNetworkAccess(
            self,
            "Network",
            vpc=props.vpc,
            subnets=props.subnets,
            database_security_group=props.database_security_group,
            database_port=props.database_port,
            secret=props.database_secret,
            secrets_manager=props.secrets_manager,
        )
        environment = database_environment(props)
        if self.network.endpoint_url is not None:
            environment[contract.ENV_AWS_ENDPOINT_URL_SECRETS_MANAGER] = self.network.endpoint_url
        self.alarm_topic = AlarmTopic(
            self,
            "Alarms",
            alarm_email=props.alarm_email,
            removal_policy=props.removal_policy,
        )
        self.runner = MigrationsFunction(
            self,
            "Runner",
            code=props.code or runner_code(runtime=RUNTIME, architecture=ARCHITECTURE),
            vpc=props.vpc,
            subnets=props.subnets,
            security_group=self.network.security_group,
            environment=environment,
            timeout=props.timeout,
            memory_size=props.memory_size,
            function_name=props.function_name,
            code_signing_profile_version_arn=props.code_signing_profile_arn,
            log_retention=props.log_retention,
            log_removal_policy=props.removal_policy,
            on_failure_topic=self.alarm_topic,
        )
        self.permissions = RunnerPermissions(
            self,
            "Permissions",
            role=self.runner.role,
            secret=props.database_secret,
            iam_auth=props.iam_auth,
        )
        # The function is usable (invokable) once it may log in and can reach its secret.
        self.runner.function.node.add_dependency(self.permissions.policy)
        if self.network.secrets_manager_endpoint is not None:
            self.runner.function.node.add_dependency(self.network.secrets_manager_endpoint)

        self.monitoring = MigrationsMonitoring(
            self,
            "Monitoring",
            function=self.runner.function,
            timeout=props.timeout,
            alarm_topic=self.alarm_topic.topic,
            dashboard_name=f"{self.stack_name}-migration-status",
        )

        self.invoke_trail = None
        if props.invoke_trail:
            self.invoke_trail = InvokeTrail(
                self,
                "InvokeTrail",
                function=self.runner.function,
                trail_name=f"{props.function_name or self.stack_name}-invokes",
                retention=props.log_retention,
            )
            cdk.CfnOutput(
                self, "InvokeTrailLogGroupName", value=self.invoke_trail.log_group.log_group_name
            )

        self._add_outputs()

    def _add_outputs(self) -> None:
        cdk.CfnOutput(
            self,
            "FunctionName",
            value=self.runner.function.function_name,
            description="aws lambda invoke --function-name <this> ...",
        )
        cdk.CfnOutput(self, "FunctionArn", value=self.runner.function.function_arn)
        cdk.CfnOutput(self, "LogGroupName", value=self.runner.log_group.log_group_name)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic.topic_arn)
        cdk.CfnOutput(
            self,
            "DashboardName",
            value=self.monitoring.dashboard.dashboard_name,
        )

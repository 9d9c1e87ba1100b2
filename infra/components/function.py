"""The migrations Lambda: one function, its log group and its role (`execution_role.py`).

A migration must never run twice at once and never be retried behind the operator's back, so
the function has a reserved concurrency of 1 and no retries for asynchronous invokes. An
asynchronous invoke that is throttled (likely, with a concurrency of 1) waits in Lambda's queue
at most `MAX_EVENT_AGE` (60 s, the minimum; the default would be 6 hours), so a queued
`downgrade` cannot run long after the operator gave up; a dropped event goes to the
`on_failure_topic`, so it is seen. The handler cannot tell an asynchronous invoke from a
synchronous one (the Lambda context does not say), so this bound is kept here. The
runner stops starting new revisions when less than `MIGRATION_TIME_GUARD_MARGIN_MS` of the
Lambda's time is left; that margin is derived from the timeout here.

The log format and levels are pinned (JSON, application INFO, system WARN): a change in the
console could otherwise turn on DEBUG logging, which may carry what INFO never logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.checkov_skips import skip_check
from infra.components.alarm_topic import AlarmTopic
from infra.components.execution_role import RunnerExecutionRole
from infra.nag import acknowledge
from runner.core import contract

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
DEFAULT_TIMEOUT = cdk.Duration.minutes(10)
DEFAULT_MEMORY_MB = 512
MIN_TIME_GUARD_MARGIN_MS = 30_000
MAX_EVENT_AGE = cdk.Duration.seconds(60)


@jsii.implements(lambda_.IDestination)
class _TopicDestination:
    """An on-failure destination that names the topic and grants nothing.

    CDK's `SnsDestination` would grant `kms:GenerateDataKey*` on the key from anywhere; the
    role gets `AlarmTopic.publish_statements()` (the key only via SNS) instead.
    """

    def __init__(self, topic_arn: str) -> None:
        self._topic_arn = topic_arn

    def bind(self, *_args: Any, **_kwargs: Any) -> lambda_.DestinationConfig:
        return lambda_.DestinationConfig(destination=self._topic_arn)


def code_signing_config(scope: Construct, profile_version_arn: str) -> lambda_.ICodeSigningConfig:
    """Only code signed by this AWS Signer profile version deploys (`Enforce`)."""
    config = lambda_.CfnCodeSigningConfig(
        scope,
        "CodeSigningConfig",
        description="aurora-migrations runner: only signed code deploys",
        allowed_publishers=lambda_.CfnCodeSigningConfig.AllowedPublishersProperty(
            signing_profile_version_arns=[profile_version_arn]
        ),
        code_signing_policies=lambda_.CfnCodeSigningConfig.CodeSigningPoliciesProperty(
            untrusted_artifact_on_deployment="Enforce"
        ),
    )
    return lambda_.CodeSigningConfig.from_code_signing_config_arn(
        scope, "CodeSigning", config.attr_code_signing_config_arn
    )


def time_guard_margin_ms(timeout: cdk.Duration) -> int:
    """20% of the timeout, at least 30 s: room to commit, release the lock and report."""
    return max(int(timeout.to_milliseconds()) // 5, MIN_TIME_GUARD_MARGIN_MS)


class MigrationsFunction(Construct):
    """The runner function in the given subnets, behind the given security group."""

    function: lambda_.Function
    role: RunnerExecutionRole
    log_group: logs.LogGroup
    timeout: cdk.Duration

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        environment: Mapping[str, str],
        timeout: cdk.Duration = DEFAULT_TIMEOUT,
        memory_size: int = DEFAULT_MEMORY_MB,
        function_name: str | None = None,
        code_signing_profile_version_arn: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        log_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        on_failure_topic: AlarmTopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        margin_ms = time_guard_margin_ms(timeout)
        if margin_ms >= timeout.to_milliseconds():
            raise ValueError(f"timeout {timeout.to_human_string()} leaves no time to migrate")
        self.timeout = timeout
        # A concrete name: the role's ENI Deny names the function's ARN, which cannot be a
        # reference to the function (the function depends on its role).
        name = function_name or cdk.Names.unique_resource_name(self, max_length=64, separator="-")
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=log_retention, removal_policy=log_removal_policy
        )
        self.role = RunnerExecutionRole(
            self,
            "Role",
            function_arn=cdk.Stack.of(self).format_arn(
                service="lambda",
                resource="function",
                resource_name=name,
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            ),
            log_group=self.log_group,
            on_failure_topic=on_failure_topic,
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=name,
            code_signing_config=(
                code_signing_config(self, code_signing_profile_version_arn)
                if code_signing_profile_version_arn
                else None
            ),
            description="Applies Alembic migrations to Aurora PostgreSQL (aurora-migrations)",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=contract.HANDLER,
            code=code,
            memory_size=memory_size,
            timeout=timeout,
            role=self.role,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            reserved_concurrent_executions=1,
            retry_attempts=0,
            max_event_age=MAX_EVENT_AGE,
            on_failure=(
                _TopicDestination(on_failure_topic.topic.topic_arn)
                if on_failure_topic is not None
                else None
            ),
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=self.log_group,
            environment={
                contract.ENV_POWERTOOLS_SERVICE_NAME: contract.SERVICE_NAME,
                contract.ENV_POWERTOOLS_METRICS_NAMESPACE: contract.METRICS_NAMESPACE,
                contract.ENV_MIGRATION_TIME_GUARD_MARGIN_MS: str(margin_ms),
                **environment,
            },
        )
        self.role.acknowledge_tracing_policy()
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        skip_check(
            self.function,
            "CKV_AWS_116",
            "Asynchronous failures go to the on-failure destination (the alarm topic), the "
            "successor of a DLQ; a DLQ as well would report every dropped event twice.",
        )
        skip_check(
            self.function,
            "CKV_AWS_173",
            "The environment holds no secret (ARNs, host, port, names, flags); Lambda encrypts "
            "it at rest with its AWS-managed key.",
        )
        skip_check(
            self.log_group,
            "CKV_AWS_158",
            "The runner's logs are encrypted at rest by CloudWatch Logs with an AWS-owned key "
            "and carry no secrets (the runner redacts them).",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"Pinned to {RUNTIME.name}: the deployment bundle's compiled wheels "
            "(psycopg2-binary) are built for this Python version; bump both together.",
        )

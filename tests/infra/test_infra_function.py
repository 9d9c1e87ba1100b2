"""MigrationsFunction: one arm64 Python function in private subnets, serialized and traced."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from infra_testkit import (
    ISOLATED,
    SUBNET_IDS,
    imported_vpc,
    logical_id_of,
    nag_findings,
    new_stack,
    only_resource,
)

from infra.components.alarm_topic import AlarmTopic
from infra.components.execution_role import VPC_ENI_ACTIONS
from infra.components.function import MigrationsFunction, time_guard_margin_ms

FUNCTION_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":lambda:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":function:aurora-migrations-test",
        ],
    ]
}
SIGNING_PROFILE = (
    "arn:aws:signer:eu-west-1:111122223333:/signing-profiles/aurora_migrations/a1b2c3d4e5"
)


def build(**options: Any) -> cdk.Stack:
    stack: cdk.Stack = new_stack()
    vpc = imported_vpc(stack)
    security_group = ec2.SecurityGroup(stack, "RunnerSg", vpc=vpc, allow_all_outbound=False)
    MigrationsFunction(
        stack,
        "Runner",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        vpc=vpc,
        subnets=ISOLATED,
        security_group=security_group,
        environment={"DB_SECRET_ARN": "arn:example", "DB_IAM_AUTH": "false"},
        function_name="aurora-migrations-test",
        on_failure_topic=AlarmTopic(stack, "Alarms"),
        **options,
    )
    return stack


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    return build()


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def function(template: Template) -> dict[str, Any]:
    resource: dict[str, Any] = only_resource(template, "AWS::Lambda::Function")
    return resource


def test_runs_python_312_on_arm64_with_the_runner_handler(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "Handler": "runner.adapters.handler.handler",
            "FunctionName": "aurora-migrations-test",
        },
    )


def test_is_sized_for_migrations_and_stays_under_the_lambda_limit(template: Template) -> None:
    template.has_resource_properties("AWS::Lambda::Function", {"MemorySize": 512, "Timeout": 600})


def test_runs_one_at_a_time_and_is_never_retried(template: Template) -> None:
    template.has_resource_properties("AWS::Lambda::Function", {"ReservedConcurrentExecutions": 1})
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"MaximumRetryAttempts": 0, "Qualifier": "$LATEST"},
    )


def test_a_queued_async_event_expires_after_a_minute_and_a_dropped_one_is_published(
    template: Template,
) -> None:
    """A throttled async `downgrade` must not run hours later, and must not vanish unseen."""
    topic = logical_id_of(template, "AWS::SNS::Topic")
    template.resource_count_is("AWS::Lambda::EventInvokeConfig", 1)
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumEventAgeInSeconds": 60,
            "MaximumRetryAttempts": 0,
            "DestinationConfig": {"OnFailure": {"Destination": {"Ref": topic}}},
        },
    )


def test_sits_in_the_given_subnets_behind_the_given_security_group(
    template: Template, function: dict[str, Any]
) -> None:
    vpc_config = function["Properties"]["VpcConfig"]
    assert vpc_config["SubnetIds"] == SUBNET_IDS
    assert vpc_config["SecurityGroupIds"] == [
        {"Fn::GetAtt": [logical_id_of(template, "AWS::EC2::SecurityGroup"), "GroupId"]}
    ]


def test_traces_with_xray(template: Template) -> None:
    template.has_resource_properties("AWS::Lambda::Function", {"TracingConfig": {"Mode": "Active"}})


def test_logs_json_at_pinned_levels_to_its_own_log_group_kept_one_month(
    template: Template,
) -> None:
    """Pinned levels: a console change cannot turn on DEBUG logging."""
    log_group = logical_id_of(template, "AWS::Logs::LogGroup")
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "LoggingConfig": {
                "LogFormat": "JSON",
                "ApplicationLogLevel": "INFO",
                "SystemLogLevel": "WARN",
                "LogGroup": {"Ref": log_group},
            }
        },
    )


def test_environment_merges_runtime_settings_with_the_callers(function: dict[str, Any]) -> None:
    assert function["Properties"]["Environment"]["Variables"] == {
        "POWERTOOLS_SERVICE_NAME": "aurora-migrations",
        "POWERTOOLS_METRICS_NAMESPACE": "AuroraMigrations",
        "MIGRATION_TIME_GUARD_MARGIN_MS": "120000",
        "DB_SECRET_ARN": "arn:example",
        "DB_IAM_AUTH": "false",
    }


def test_role_has_only_eni_log_and_publish_permissions_and_no_managed_policies(
    template: Template,
) -> None:
    log_group = logical_id_of(template, "AWS::Logs::LogGroup")
    role = only_resource(template, "AWS::IAM::Role")["Properties"]
    assert "ManagedPolicyArns" not in role
    inline = {p["PolicyName"]: p["PolicyDocument"]["Statement"] for p in role["Policies"]}
    topic = logical_id_of(template, "AWS::SNS::Topic")
    publish = inline.pop("PublishDroppedEvents")
    assert [(s["Action"], s["Resource"]) for s in publish] == [
        ("sns:Publish", {"Ref": topic}),
        (
            ["kms:GenerateDataKey", "kms:Decrypt"],
            {"Fn::GetAtt": [logical_id_of(template, "AWS::KMS::Key"), "Arn"]},
        ),
    ]
    assert inline == {
        "VpcNetworkInterfaces": [
            {"Action": list(VPC_ENI_ACTIONS), "Effect": "Allow", "Resource": "*"},
            {
                "Sid": "NotFromTheFunctionsOwnCode",
                "Action": list(VPC_ENI_ACTIONS),
                "Effect": "Deny",
                "Resource": "*",
                "Condition": {"ArnEquals": {"lambda:SourceFunctionArn": FUNCTION_ARN}},
            },
        ],
        "WriteLogs": [
            {
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
            }
        ],
    }
    # CDK adds the X-Ray statement for active tracing to the role's default policy.
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                        "Effect": "Allow",
                        "Resource": "*",
                    }
                ]
            }
        },
    )


def test_its_wildcard_resources_and_runtime_pin_are_acknowledged(stack: cdk.Stack) -> None:
    assert nag_findings(stack) == []


@pytest.mark.parametrize(
    ("timeout", "margin_ms"),
    [
        (cdk.Duration.minutes(10), 120_000),
        (cdk.Duration.minutes(14), 168_000),
        (cdk.Duration.minutes(2), 30_000),  # 20% would be 24 s; never below 30 s
    ],
)
def test_time_guard_margin_is_a_fifth_of_the_timeout_at_least_30_seconds(
    timeout: cdk.Duration, margin_ms: int
) -> None:
    assert time_guard_margin_ms(timeout) == margin_ms


def test_rejects_a_timeout_that_leaves_no_time_to_migrate() -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    with pytest.raises(ValueError, match="leaves no time to migrate"):
        MigrationsFunction(
            stack,
            "Runner",
            code=lambda_.Code.from_inline("x = 1"),
            vpc=vpc,
            subnets=ISOLATED,
            security_group=ec2.SecurityGroup(stack, "Sg", vpc=vpc),
            environment={},
            timeout=cdk.Duration.seconds(30),
        )


def test_default_log_group_is_retained(template: Template) -> None:
    template.has_resource(
        "AWS::Logs::LogGroup", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )


def test_eni_actions_are_denied_to_the_functions_own_code(template: Template) -> None:
    """The role needs the ENI actions on "*" for Lambda; the code must not use them."""
    template.has_resource_properties(
        "AWS::Lambda::Function", {"FunctionName": "aurora-migrations-test"}
    )
    role = only_resource(template, "AWS::IAM::Role")["Properties"]
    statements = {p["PolicyName"]: p["PolicyDocument"]["Statement"] for p in role["Policies"]}
    deny = [s for s in statements["VpcNetworkInterfaces"] if s["Effect"] == "Deny"]
    assert deny[0]["Condition"] == {"ArnEquals": {"lambda:SourceFunctionArn": FUNCTION_ARN}}


def test_without_a_name_the_deny_names_the_generated_one() -> None:
    stack = new_stack()
    vpc = imported_vpc(stack)
    runner = MigrationsFunction(
        stack,
        "Runner",
        code=lambda_.Code.from_inline("x = 1"),
        vpc=vpc,
        subnets=ISOLATED,
        security_group=ec2.SecurityGroup(stack, "Sg", vpc=vpc),
        environment={},
    )
    template = Template.from_stack(stack)
    name = only_resource(template, "AWS::Lambda::Function")["Properties"]["FunctionName"]
    assert isinstance(name, str)
    assert 0 < len(name) <= 64
    role = only_resource(template, "AWS::IAM::Role")["Properties"]
    deny = role["Policies"][0]["PolicyDocument"]["Statement"][1]
    assert deny["Condition"]["ArnEquals"]["lambda:SourceFunctionArn"]["Fn::Join"][1][-1] == (
        f":function:{name}"
    )
    assert runner.function.node.default_child is not None


def test_no_code_signing_unless_asked(template: Template) -> None:
    template.resource_count_is("AWS::Lambda::CodeSigningConfig", 0)


def test_code_signing_enforces_the_given_profile() -> None:
    template = Template.from_stack(build(code_signing_profile_version_arn=SIGNING_PROFILE))
    config = logical_id_of(template, "AWS::Lambda::CodeSigningConfig")
    template.has_resource_properties(
        "AWS::Lambda::CodeSigningConfig",
        {
            "AllowedPublishers": {"SigningProfileVersionArns": [SIGNING_PROFILE]},
            "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Enforce"},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"CodeSigningConfigArn": {"Fn::GetAtt": [config, "CodeSigningConfigArn"]}},
    )

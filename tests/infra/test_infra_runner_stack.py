"""MigrationsRunnerStack: the constructs wired around an existing cluster, outputs, nag."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template
from infra_testkit import (
    DB_SG_ID,
    ISOLATED,
    KEY_ARN,
    NO_BUNDLING,
    SECRET_ARN,
    SUBNET_IDS,
    as_list,
    imported_database_sg,
    imported_secret,
    imported_vpc,
    iter_policy_statements,
    logical_id_of,
    nag_findings,
    only_resource,
)

from infra.components.permissions import IamDatabaseAuth
from infra.stacks.runner import MigrationsRunnerProps, MigrationsRunnerStack

IAM_AUTH = IamDatabaseAuth(db_user="migrator", cluster_resource_id="cluster-ABCDEFGHIJKLMNOP")


def runner_stack(
    *, iam_auth: IamDatabaseAuth | None, with_key: bool, **options: Any
) -> MigrationsRunnerStack:
    def props(stack: cdk.Stack) -> MigrationsRunnerProps:
        return MigrationsRunnerProps(
            vpc=imported_vpc(stack),
            subnets=ISOLATED,
            database_security_group=imported_database_sg(stack),
            database_port=5432,
            database_secret=imported_secret(stack, with_key=with_key),
            iam_auth=iam_auth,
            **options,
            function_name="aurora-migrations-test",
        )

    return MigrationsRunnerStack(
        cdk.App(context=NO_BUNDLING), "AuroraMigrations-test-Runner", props=props
    )


@pytest.fixture(scope="module")
def iam_stack() -> MigrationsRunnerStack:
    return runner_stack(iam_auth=IAM_AUTH, with_key=True)


@pytest.fixture(scope="module")
def iam_template(iam_stack: MigrationsRunnerStack) -> Template:
    return Template.from_stack(iam_stack)


@pytest.fixture(scope="module")
def password_template() -> Template:
    return Template.from_stack(
        runner_stack(
            iam_auth=None,
            with_key=False,
            database_name="app",
            database_host="db.cluster-abc.eu-west-1.rds.amazonaws.com",
        )
    )


def variables(template: Template) -> dict[str, Any]:
    function = only_resource(template, "AWS::Lambda::Function")
    result: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return result


def test_tells_the_runner_where_the_secret_is_and_to_use_iam_auth(
    iam_template: Template,
) -> None:
    assert variables(iam_template) == {
        "POWERTOOLS_SERVICE_NAME": "aurora-migrations",
        "POWERTOOLS_METRICS_NAMESPACE": "AuroraMigrations",
        "MIGRATION_TIME_GUARD_MARGIN_MS": "120000",
        "DB_SECRET_ARN": SECRET_ARN,
        "DB_SSL_MODE": "verify-full",
        "DB_IAM_AUTH": "true",
        "DB_USER": "migrator",
        "DB_PORT": "5432",
    }


def test_password_auth_sets_no_database_user(password_template: Template) -> None:
    env = variables(password_template)
    assert env["DB_IAM_AUTH"] == "false"
    assert "DB_USER" not in env


def test_host_and_name_override_the_secret_only_when_given(
    iam_template: Template, password_template: Template
) -> None:
    assert "DB_HOST" not in variables(iam_template)
    assert "DB_NAME" not in variables(iam_template)
    env = variables(password_template)
    assert env["DB_HOST"] == "db.cluster-abc.eu-west-1.rds.amazonaws.com"
    assert env["DB_NAME"] == "app"


def test_function_is_in_the_private_subnets_behind_its_own_group(
    iam_template: Template,
) -> None:
    runner_sg = logical_id_of_runner_sg(iam_template)
    iam_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "VpcConfig": {
                "SubnetIds": SUBNET_IDS,
                "SecurityGroupIds": [{"Fn::GetAtt": [runner_sg, "GroupId"]}],
            },
            "Architectures": ["arm64"],
            "Runtime": "python3.12",
            "ReservedConcurrentExecutions": 1,
        },
    )
    iam_template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": DB_SG_ID,
            "SourceSecurityGroupId": {"Fn::GetAtt": [runner_sg, "GroupId"]},
            "FromPort": 5432,
            "ToPort": 5432,
        },
    )


def logical_id_of_runner_sg(template: Template) -> str:
    found = template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"GroupDescription": Match.string_like_regexp("^aurora-migrations runner")}},
    )
    assert len(found) == 1
    return next(iter(found))


def test_identity_policies_use_wildcard_resources_only_for_eni_and_xray(
    iam_template: Template,
) -> None:
    allowed_with_star = {
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    for statement in iter_policy_statements(iam_template):
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= allowed_with_star, statement


def test_reads_the_secret_decrypts_with_its_key_and_connects_as_the_user(
    iam_template: Template,
) -> None:
    granted = {
        action: as_list(statement["Resource"])
        for statement in iter_policy_statements(iam_template)
        for action in as_list(statement["Action"])
    }
    assert granted["secretsmanager:GetSecretValue"] == [SECRET_ARN]
    assert granted["kms:Decrypt"] == [KEY_ARN]
    assert "rds-db:connect" in granted
    assert "secretsmanager:DescribeSecret" not in granted


def test_function_waits_for_its_permissions_and_the_endpoint(iam_template: Template) -> None:
    function = only_resource(iam_template, "AWS::Lambda::Function")
    endpoint = logical_id_of(iam_template, "AWS::EC2::VPCEndpoint")
    policies = [
        logical_id
        for logical_id, policy in iam_template.find_resources("AWS::IAM::Policy").items()
        if "ReadDatabaseSecret" in str(policy)
    ]
    assert len(policies) == 1
    assert {endpoint, policies[0]} <= set(function["DependsOn"])


def test_outputs_the_function_name_and_arn_and_log_group(iam_template: Template) -> None:
    function = logical_id_of(iam_template, "AWS::Lambda::Function")
    log_group = logical_id_of(iam_template, "AWS::Logs::LogGroup")
    iam_template.has_output("FunctionName", {"Value": {"Ref": function}})
    iam_template.has_output("FunctionArn", {"Value": {"Fn::GetAtt": [function, "Arn"]}})
    iam_template.has_output("LogGroupName", {"Value": {"Ref": log_group}})
    iam_template.has_output("AlarmTopicArn", {"Value": Match.any_value()})


def test_dashboard_is_named_after_the_stack(iam_template: Template) -> None:
    iam_template.has_resource_properties(
        "AWS::CloudWatch::Dashboard",
        {"DashboardName": "AuroraMigrations-test-Runner-migration-status"},
    )


def test_creates_the_secrets_manager_endpoint_by_default(iam_template: Template) -> None:
    iam_template.resource_count_is("AWS::EC2::VPCEndpoint", 1)


def test_has_no_unacknowledged_nag_findings(iam_stack: MigrationsRunnerStack) -> None:
    assert nag_findings(iam_stack) == []


def test_accepts_ready_made_props_and_skips_the_endpoint() -> None:
    app = cdk.App(context=NO_BUNDLING)
    network = cdk.Stack(app, "Network")
    vpc = ec2.Vpc(network, "Vpc", nat_gateways=0, max_azs=2)
    db_sg = ec2.SecurityGroup(network, "Db", vpc=vpc)
    endpoint_sg = ec2.SecurityGroup(network, "Endpoint", vpc=vpc)
    stack = MigrationsRunnerStack(
        app,
        "Runner",
        props=MigrationsRunnerProps(
            vpc=vpc,
            subnets=ISOLATED,
            database_security_group=db_sg,
            database_port=5432,
            database_secret=imported_secret(network),
            create_secrets_manager_endpoint=False,
            secrets_manager_endpoint_security_group=endpoint_sg,
        ),
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"FromPort": 443, "ToPort": 443, "DestinationSecurityGroupId": Match.any_value()},
    )


def test_rejects_a_port_that_is_not_a_port() -> None:
    stack = cdk.Stack(cdk.App(context=NO_BUNDLING), "S")
    with pytest.raises(ValueError, match="not a TCP port"):
        MigrationsRunnerProps(
            vpc=imported_vpc(stack),
            subnets=ISOLATED,
            database_security_group=imported_database_sg(stack),
            database_port=0,
            database_secret=imported_secret(stack),
        )

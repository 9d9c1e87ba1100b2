"""MigrationsRunnerStack: the constructs wired around an existing cluster, outputs, nag."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template
from infra_testkit import (
    DB_HOST,
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

from infra.components.network import (
    ExistingSecretsManagerEndpoint,
    NewSecretsManagerEndpoint,
    SecretsManagerRoute,
)
from infra.components.permissions import IamDatabaseAuth
from infra.stacks.runner import MigrationsRunnerProps, MigrationsRunnerStack

IAM_AUTH = IamDatabaseAuth(db_user="migrator", cluster_resource_id="cluster-ABCDEFGHIJKLMNOP")
PRIVATE_DNS = NewSecretsManagerEndpoint(private_dns=True)


def runner_stack(
    *,
    with_secret: bool,
    with_key: bool = False,
    secrets_manager: SecretsManagerRoute | None = None,
    **options: Any,
) -> MigrationsRunnerStack:
    def props(stack: cdk.Stack) -> MigrationsRunnerProps:
        return MigrationsRunnerProps(
            vpc=imported_vpc(stack),
            subnets=ISOLATED,
            database_security_group=imported_database_sg(stack),
            database_port=5432,
            database_secret=imported_secret(stack, with_key=with_key) if with_secret else None,
            secrets_manager=secrets_manager,
            **options,
            function_name="aurora-migrations-test",
        )

    return MigrationsRunnerStack(
        cdk.App(context=NO_BUNDLING), "AuroraMigrations-test-Runner", make_props=props
    )


@pytest.fixture(scope="module")
def iam_stack() -> MigrationsRunnerStack:
    return runner_stack(
        with_secret=False, iam_auth=IAM_AUTH, database_host=DB_HOST, database_name="app"
    )


@pytest.fixture(scope="module")
def iam_template(iam_stack: MigrationsRunnerStack) -> Template:
    return Template.from_stack(iam_stack)


@pytest.fixture(scope="module")
def password_stack() -> MigrationsRunnerStack:
    return runner_stack(
        with_secret=True,
        with_key=True,
        secrets_manager=PRIVATE_DNS,
        database_name="app",
        database_host=DB_HOST,
    )


@pytest.fixture(scope="module")
def password_template(password_stack: MigrationsRunnerStack) -> Template:
    return Template.from_stack(password_stack)


def variables(template: Template) -> dict[str, Any]:
    function = only_resource(template, "AWS::Lambda::Function")
    result: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return result


RUNTIME_SETTINGS = {
    "POWERTOOLS_SERVICE_NAME": "aurora-migrations",
    "POWERTOOLS_METRICS_NAMESPACE": "AuroraMigrations",
    "MIGRATION_TIME_GUARD_MARGIN_MS": "120000",
    "DB_SSL_MODE": "verify-full",
    "DB_PORT": "5432",
}


def test_iam_auth_tells_the_runner_its_target_and_user_and_no_secret(
    iam_template: Template,
) -> None:
    assert variables(iam_template) == {
        **RUNTIME_SETTINGS,
        "DB_IAM_AUTH": "true",
        "DB_HOST": DB_HOST,
        "DB_NAME": "app",
        "DB_USER": "migrator",
    }


def test_password_auth_tells_the_runner_its_secret_and_no_user(
    password_template: Template,
) -> None:
    assert variables(password_template) == {
        **RUNTIME_SETTINGS,
        "DB_IAM_AUTH": "false",
        "DB_SECRET_ARN": SECRET_ARN,
        "DB_HOST": DB_HOST,
        "DB_NAME": "app",
    }


def test_with_a_secret_host_and_name_are_passed_only_when_given() -> None:
    env = variables(
        Template.from_stack(runner_stack(with_secret=True, secrets_manager=PRIVATE_DNS))
    )
    assert "DB_HOST" not in env
    assert "DB_NAME" not in env
    assert env["DB_SECRET_ARN"] == SECRET_ARN


def test_without_private_dns_the_runner_calls_the_endpoint_by_its_own_name() -> None:
    stack = runner_stack(
        with_secret=True, secrets_manager=NewSecretsManagerEndpoint(private_dns=False)
    )
    template = Template.from_stack(stack)
    endpoint = logical_id_of(template, "AWS::EC2::VPCEndpoint")
    url = variables(template)["AWS_ENDPOINT_URL_SECRETS_MANAGER"]
    assert url["Fn::Join"][1][0] == "https://"
    assert {"Fn::GetAtt": [endpoint, "DnsEntries"]} in _leaves(url)
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {"PrivateDnsEnabled": False})


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict) and set(value) != {"Fn::GetAtt"}:
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


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


def granted(template: Template) -> dict[str, list[Any]]:
    """Each allowed action, with every resource any statement allows it on."""
    result: dict[str, list[Any]] = {}
    for statement in iter_policy_statements(template):
        for action in as_list(statement["Action"]):
            result.setdefault(action, []).extend(as_list(statement["Resource"]))
    return result


def test_password_auth_reads_the_secret_and_decrypts_with_its_key_only(
    password_template: Template,
) -> None:
    actions = granted(password_template)
    assert actions["secretsmanager:GetSecretValue"] == [SECRET_ARN]
    assert KEY_ARN in actions["kms:Decrypt"]
    assert "rds-db:connect" not in actions
    assert "secretsmanager:DescribeSecret" not in actions


def test_iam_auth_connects_as_the_user_and_can_read_no_secret(iam_template: Template) -> None:
    actions = granted(iam_template)
    assert "rds-db:connect" in actions
    policies = json.dumps(list(iter_policy_statements(iam_template)))
    assert "secretsmanager" not in policies
    assert KEY_ARN not in policies
    iam_template.resource_count_is("AWS::EC2::VPCEndpoint", 0)


def test_function_waits_for_its_permissions_and_the_endpoint(password_template: Template) -> None:
    function = only_resource(password_template, "AWS::Lambda::Function")
    endpoint = logical_id_of(password_template, "AWS::EC2::VPCEndpoint")
    policies = [
        logical_id
        for logical_id, policy in password_template.find_resources("AWS::IAM::Policy").items()
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


def test_creates_the_secrets_manager_endpoint_it_was_asked_for(
    password_template: Template,
) -> None:
    password_template.resource_count_is("AWS::EC2::VPCEndpoint", 1)
    password_template.has_resource_properties("AWS::EC2::VPCEndpoint", {"PrivateDnsEnabled": True})


def test_has_no_unacknowledged_nag_findings(
    iam_stack: MigrationsRunnerStack, password_stack: MigrationsRunnerStack
) -> None:
    assert nag_findings(iam_stack) == []
    assert nag_findings(password_stack) == []


def test_accepts_ready_made_props_and_skips_the_endpoint() -> None:
    app = cdk.App(context=NO_BUNDLING)
    network = cdk.Stack(app, "Network")
    vpc = ec2.Vpc(network, "Vpc", nat_gateways=0, max_azs=2)
    db_sg = ec2.SecurityGroup(network, "Db", vpc=vpc)
    endpoint_sg = ec2.SecurityGroup(network, "Endpoint", vpc=vpc)
    props = MigrationsRunnerProps(
        vpc=vpc,
        subnets=ISOLATED,
        database_security_group=db_sg,
        database_port=5432,
        database_secret=imported_secret(network),
        secrets_manager=ExistingSecretsManagerEndpoint(security_group=endpoint_sg),
    )
    stack = MigrationsRunnerStack(app, "Runner", make_props=lambda _stack: props)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"FromPort": 443, "ToPort": 443, "DestinationSecurityGroupId": Match.any_value()},
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"database_port": 0}, "not a TCP port"),
        ({"iam_auth": IAM_AUTH}, "exactly one of database_secret"),
        ({"with_secret": False}, "exactly one of database_secret"),
        ({"secrets_manager": None}, "choose secrets_manager"),
        (
            {"with_secret": False, "secrets_manager": None, "iam_auth": IAM_AUTH},
            "iam_auth needs database_host and database_name",
        ),
        (
            {
                "with_secret": False,
                "secrets_manager": None,
                "iam_auth": IAM_AUTH,
                "database_host": DB_HOST,
            },
            "iam_auth needs database_host and database_name",
        ),
    ],
)
def test_props_refuse_an_ambiguous_or_incomplete_login(
    options: dict[str, Any], message: str
) -> None:
    stack = cdk.Stack(cdk.App(context=NO_BUNDLING), "S")
    with_secret = options.pop("with_secret", True)
    arguments: dict[str, Any] = {
        "database_port": 5432,
        "database_secret": imported_secret(stack) if with_secret else None,
        "secrets_manager": PRIVATE_DNS,
        **options,
    }
    with pytest.raises(ValueError, match=message):
        MigrationsRunnerProps(
            vpc=imported_vpc(stack),
            subnets=ISOLATED,
            database_security_group=imported_database_sg(stack),
            **arguments,
        )

"""RunnerNetworkAccess: egress only to the database port and, for a secret, Secrets Manager."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template
from infra_testkit import (
    DB_SG_ID,
    ENDPOINT_SG_ID,
    ISOLATED,
    SECRET_ARN,
    SUBNET_IDS,
    VPC_CIDR,
    imported_database_sg,
    imported_secret,
    imported_vpc,
    nag_findings,
    new_stack,
    resources_of,
)

from infra.components.network import (
    ExistingSecretsManagerEndpoint,
    NewSecretsManagerEndpoint,
    RunnerNetworkAccess,
    SecretsManagerRoute,
)

DB_PORT = 5433  # not the default, so a hard-coded 5432 would show
PRIVATE_DNS = NewSecretsManagerEndpoint(private_dns=True)


def build(
    stack: cdk.Stack | None = None,
    *,
    secrets_manager: SecretsManagerRoute | None = PRIVATE_DNS,
    with_secret: bool = True,
) -> tuple[cdk.Stack, RunnerNetworkAccess]:
    stack = stack or new_stack()
    access = RunnerNetworkAccess(
        stack,
        "Network",
        vpc=imported_vpc(stack),
        subnets=ISOLATED,
        database_security_group=imported_database_sg(stack),
        database_port=DB_PORT,
        secret=imported_secret(stack) if with_secret else None,
        secrets_manager=secrets_manager,
    )
    return stack, access


def group_id(stack: cdk.Stack, security_group: ec2.ISecurityGroup) -> Any:
    return stack.resolve(security_group.security_group_id)


@pytest.fixture(scope="module")
def default() -> tuple[cdk.Stack, RunnerNetworkAccess, Template]:
    stack, access = build()
    return stack, access, Template.from_stack(stack)


def test_runner_security_group_does_not_allow_all_outbound(
    default: tuple[cdk.Stack, RunnerNetworkAccess, Template],
) -> None:
    _, _, template = default
    runner_sgs = template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"GroupDescription": Match.string_like_regexp("^aurora-migrations runner")}},
    )
    assert len(runner_sgs) == 1
    # No inline rule at all: CloudFormation drops the default allow-all egress as soon as the
    # separate egress rules (asserted below) are attached.
    for group in runner_sgs.values():
        assert "SecurityGroupEgress" not in group["Properties"]


def test_egress_to_the_database_security_group_on_the_database_port(
    default: tuple[cdk.Stack, RunnerNetworkAccess, Template],
) -> None:
    stack, access, template = default
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {
            "GroupId": group_id(stack, access.security_group),
            "DestinationSecurityGroupId": DB_SG_ID,
            "IpProtocol": "tcp",
            "FromPort": DB_PORT,
            "ToPort": DB_PORT,
        },
    )


def test_database_security_group_admits_the_runner_on_the_database_port(
    default: tuple[cdk.Stack, RunnerNetworkAccess, Template],
) -> None:
    stack, access, template = default
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": DB_SG_ID,
            "SourceSecurityGroupId": group_id(stack, access.security_group),
            "IpProtocol": "tcp",
            "FromPort": DB_PORT,
            "ToPort": DB_PORT,
        },
    )


def test_egress_to_the_secrets_manager_endpoint_on_443_and_its_ingress(
    default: tuple[cdk.Stack, RunnerNetworkAccess, Template],
) -> None:
    stack, access, template = default
    assert access.secrets_manager_endpoint_security_group is not None
    endpoint_sg = group_id(stack, access.secrets_manager_endpoint_security_group)
    runner_sg = group_id(stack, access.security_group)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {
            "GroupId": runner_sg,
            "DestinationSecurityGroupId": endpoint_sg,
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
        },
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": endpoint_sg,
            "SourceSecurityGroupId": runner_sg,
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
        },
    )


def test_there_are_exactly_these_two_egress_and_two_ingress_rules(
    default: tuple[cdk.Stack, RunnerNetworkAccess, Template],
) -> None:
    _, _, template = default
    template.resource_count_is("AWS::EC2::SecurityGroupEgress", 2)
    template.resource_count_is("AWS::EC2::SecurityGroupIngress", 2)
    for group in resources_of(template, "AWS::EC2::SecurityGroup"):
        assert "SecurityGroupIngress" not in group["Properties"]


def test_creates_a_private_dns_secrets_manager_endpoint_in_the_subnets(
    default: tuple[cdk.Stack, RunnerNetworkAccess, Template],
) -> None:
    stack, access, template = default
    assert access.secrets_manager_endpoint_security_group is not None
    template.resource_count_is("AWS::EC2::VPCEndpoint", 1)
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Interface",
            "ServiceName": {
                "Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".secretsmanager"]]
            },
            "PrivateDnsEnabled": True,
            "SubnetIds": SUBNET_IDS,
            "SecurityGroupIds": [group_id(stack, access.secrets_manager_endpoint_security_group)],
        },
    )


def test_endpoint_policy_allows_only_reading_the_runner_secret_from_this_account(
    default: tuple[cdk.Stack, RunnerNetworkAccess, Template],
) -> None:
    _, _, template = default
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": SECRET_ARN,
                        "Condition": {
                            "StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}
                        },
                    }
                ],
                "Version": "2012-10-17",
            }
        },
    )


def test_is_nag_clean(default: tuple[cdk.Stack, RunnerNetworkAccess, Template]) -> None:
    stack, _, _ = default
    assert nag_findings(stack) == []


def test_endpoint_without_private_dns_leaves_the_vpc_dns_and_names_itself() -> None:
    stack, access = build(secrets_manager=NewSecretsManagerEndpoint(private_dns=False))
    template = Template.from_stack(stack)
    endpoint = next(iter(template.find_resources("AWS::EC2::VPCEndpoint")))
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {"PrivateDnsEnabled": False, "PolicyDocument": Match.object_like({})},
    )
    assert access.endpoint_url is not None
    first_dns_entry = {"Fn::Select": [0, {"Fn::GetAtt": [endpoint, "DnsEntries"]}]}
    assert stack.resolve(access.endpoint_url) == {
        "Fn::Join": [
            "",
            ["https://", {"Fn::Select": [1, {"Fn::Split": [":", first_dns_entry]}]}],
        ]
    }


def test_private_dns_endpoint_needs_no_url() -> None:
    _, access = build()
    assert access.endpoint_url is None


def test_without_a_secret_there_is_no_route_to_secrets_manager() -> None:
    stack, access = build(secrets_manager=None, with_secret=False)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    assert access.secrets_manager_endpoint_security_group is None
    template.resource_count_is("AWS::EC2::SecurityGroupEgress", 1)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"DestinationSecurityGroupId": DB_SG_ID, "FromPort": DB_PORT},
    )
    for group in resources_of(template, "AWS::EC2::SecurityGroup"):
        assert "SecurityGroupEgress" not in group["Properties"]
    assert nag_findings(stack) == []


@pytest.mark.parametrize(
    ("with_secret", "secrets_manager"),
    [(True, None), (False, PRIVATE_DNS)],
    ids=["secret-without-route", "route-without-secret"],
)
def test_refuses_a_secret_without_a_route_and_a_route_without_a_secret(
    with_secret: bool, secrets_manager: SecretsManagerRoute | None
) -> None:
    with pytest.raises(ValueError, match="give secret and secrets_manager together"):
        build(secrets_manager=secrets_manager, with_secret=with_secret)


def test_existing_endpoint_sends_443_to_its_security_group() -> None:
    stack = new_stack()
    stack, access = build(
        stack,
        secrets_manager=ExistingSecretsManagerEndpoint(
            security_group=ec2.SecurityGroup.from_security_group_id(
                stack, "EndpointSg", ENDPOINT_SG_ID
            )
        ),
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {
            "GroupId": group_id(stack, access.security_group),
            "DestinationSecurityGroupId": ENDPOINT_SG_ID,
            "FromPort": 443,
            "ToPort": 443,
        },
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": ENDPOINT_SG_ID,
            "SourceSecurityGroupId": group_id(stack, access.security_group),
            "FromPort": 443,
            "ToPort": 443,
        },
    )


def test_existing_endpoint_without_its_group_sends_443_to_the_vpc_cidr() -> None:
    stack, _ = build(secrets_manager=ExistingSecretsManagerEndpoint())
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": Match.string_like_regexp("aurora-migrations runner"),
            "SecurityGroupEgress": [
                Match.object_like(
                    {"CidrIp": VPC_CIDR, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
                )
            ],
        },
    )
    template.resource_count_is("AWS::EC2::SecurityGroupEgress", 1)  # the database rule

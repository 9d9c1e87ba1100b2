"""SandboxStack: an isolated VPC with flow logs, and Aurora Serverless v2 with IAM auth."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template
from infra_testkit import NO_BUNDLING, logical_id_of, nag_findings, resources_of

from infra.components.sandbox_database import ENGINE_VERSION
from infra.stacks.sandbox import SandboxProps, SandboxStack


def sandbox(**props: object) -> SandboxStack:
    return SandboxStack(
        cdk.App(context=NO_BUNDLING),
        "Sandbox",
        props=SandboxProps(cluster_identifier="aurora-migrations-test", **props),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def dev() -> SandboxStack:
    return sandbox()


@pytest.fixture(scope="module")
def template(dev: SandboxStack) -> Template:
    return Template.from_stack(dev)


def test_vpc_has_isolated_subnets_only_and_no_way_out(template: Template) -> None:
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::Subnet", 2)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_count_is("AWS::EC2::Route", 0)
    for subnet in resources_of(template, "AWS::EC2::Subnet"):
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    template.has_resource_properties(
        "AWS::EC2::VPC",
        {"CidrBlock": "10.42.0.0/16", "EnableDnsHostnames": True, "EnableDnsSupport": True},
    )


def test_default_security_group_is_emptied(template: Template) -> None:
    """Security Hub EC2.2: nothing can use the VPC's default security group."""
    vpc = logical_id_of(template, "AWS::EC2::VPC")
    template.has_resource_properties(
        "Custom::VpcRestrictDefaultSG",
        {"DefaultSecurityGroupId": {"Fn::GetAtt": [vpc, "DefaultSecurityGroup"]}},
    )


def test_vpc_flow_logs_go_to_a_log_group_kept_one_month(template: Template) -> None:
    vpc = logical_id_of(template, "AWS::EC2::VPC")
    template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {
            "ResourceId": {"Ref": vpc},
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogDestinationType": "cloud-watch-logs",
        },
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"RetentionInDays": 30, "LogGroupName": Match.absent()},
    )


def test_cluster_is_aurora_postgres_16_serverless_v2_encrypted_with_iam_auth(
    template: Template,
) -> None:
    assert ENGINE_VERSION.aurora_postgres_major_version == "16"
    template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "Engine": "aurora-postgresql",
            "EngineVersion": ENGINE_VERSION.aurora_postgres_full_version,
            "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 2},
            "EnableIAMDatabaseAuthentication": True,
            "StorageEncrypted": True,
            "DeletionProtection": False,
            "Port": 5432,
            "DBClusterIdentifier": "aurora-migrations-test",
            "EnableCloudwatchLogsExports": ["postgresql"],
        },
    )
    template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {"DBInstanceClass": "db.serverless", "Engine": "aurora-postgresql"},
    )
    template.resource_count_is("AWS::RDS::DBInstance", 1)


def test_cluster_insists_on_tls_and_audits_ddl_role_changes_and_connections(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::RDS::DBClusterParameterGroup",
        {
            "Parameters": {
                "rds.force_ssl": "1",
                "shared_preload_libraries": Match.string_like_regexp(r"(^|,)pgaudit(,|$)"),
                "pgaudit.log": "ddl,role",
                "pgaudit.log_parameter": "0",
                "log_connections": "1",
                "log_disconnections": "1",
            }
        },
    )


def test_dev_postgresql_logs_keep_a_month_without_a_key_of_their_own(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": "/aws/rds/cluster/aurora-migrations-test/postgresql",
            "RetentionInDays": 30,
            "KmsKeyId": Match.absent(),
        },
    )
    template.resource_count_is("AWS::KMS::Key", 0)


def test_prod_postgresql_logs_keep_a_year_under_a_key_only_logs_may_use_for_them() -> None:
    stack = sandbox(
        log_retention=logs.RetentionDays.ONE_YEAR,
        encrypt_database_logs=True,
        removal_policy=cdk.RemovalPolicy.SNAPSHOT,
    )
    template = Template.from_stack(stack)
    key = logical_id_of(template, "AWS::KMS::Key")
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": "/aws/rds/cluster/aurora-migrations-test/postgresql",
            "RetentionInDays": 365,
            "KmsKeyId": {"Fn::GetAtt": [key, "Arn"]},
        },
    )
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Retain"})
    statements = resources_of(template, "AWS::KMS::Key")[0]["Properties"]["KeyPolicy"]["Statement"]
    for_logs = [s for s in statements if "Service" in s["Principal"]]
    assert len(for_logs) == 1
    assert for_logs[0]["Principal"] == {
        "Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    }
    assert for_logs[0]["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":logs:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":log-group:/aws/rds/cluster/aurora-migrations-test/postgresql",
                    ],
                ]
            }
        }
    }
    assert nag_findings(stack) == []


def test_master_password_is_managed_and_rotated_by_rds(template: Template) -> None:
    """No secret of our own: RDS keeps the password, rotates it, and deletes it with the
    cluster, whatever the stack's removal policy."""
    template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "ManageMasterUserPassword": True,
            "MasterUsername": "aurora_admin",
            "MasterUserPassword": Match.absent(),
        },
    )
    template.resource_count_is("AWS::SecretsManager::Secret", 0)


def test_outputs_the_master_secret_and_the_migration_user_for_the_bootstrap(
    template: Template, dev: SandboxStack
) -> None:
    cluster = logical_id_of(template, "AWS::RDS::DBCluster")
    template.has_output(
        "SecretArn", {"Value": {"Fn::GetAtt": [cluster, "MasterUserSecret.SecretArn"]}}
    )
    template.has_output("MigrationUser", {"Value": "migrator"})
    assert dev.migration_user == "migrator"


def test_database_security_group_admits_nobody_by_itself(template: Template) -> None:
    template.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)
    for group in resources_of(template, "AWS::EC2::SecurityGroup"):
        assert "SecurityGroupIngress" not in group["Properties"]


def test_dev_cluster_is_disposable(template: Template) -> None:
    template.has_resource("AWS::RDS::DBCluster", {"DeletionPolicy": "Delete"})


def test_prod_settings_protect_the_cluster() -> None:
    template = Template.from_stack(
        sandbox(deletion_protection=True, removal_policy=cdk.RemovalPolicy.SNAPSHOT)
    )
    template.has_resource(
        "AWS::RDS::DBCluster",
        {
            "DeletionPolicy": "Snapshot",
            "Properties": Match.object_like({"DeletionProtection": True}),
        },
    )


def test_exposes_what_the_runner_stack_needs(dev: SandboxStack) -> None:
    assert dev.database_port == 5432
    assert dev.subnets.subnet_type is not None
    assert dev.database_secret is dev.database.secret
    assert dev.vpc is dev.network.vpc


def test_has_no_unacknowledged_nag_findings(dev: SandboxStack) -> None:
    assert nag_findings(dev) == []

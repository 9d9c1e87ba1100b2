"""SandboxStack: a VPC and an Aurora cluster for the runner to migrate.

Every environment (dev, staging and prod) gets this sandbox unless its context names an
`existingDatabase`; the sizes and the safety settings come per environment from `app.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.components.sandbox_database import DEFAULT_PORT, SandboxDatabase
from infra.components.sandbox_network import SandboxNetwork

SANDBOX_BACKUP_RETENTION = cdk.Duration.days(1)
# The database user the runner logs in as (IAM auth); created once with the master credentials.
MIGRATION_USER = "migrator"


@dataclass(frozen=True, kw_only=True)
class SandboxProps:
    """Sizing and safety settings of the sandbox; `app.py` picks them per environment."""

    cluster_identifier: str
    vpc_cidr: str = "10.42.0.0/16"
    max_azs: int = 2
    database_name: str = "app"
    migration_user: str = MIGRATION_USER
    database_port: int = DEFAULT_PORT
    min_capacity: float = 0.5
    max_capacity: float = 2
    deletion_protection: bool = False
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY
    backup_retention: cdk.Duration = SANDBOX_BACKUP_RETENTION
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH  # PostgreSQL's logs
    encrypt_database_logs: bool = False


class SandboxStack(cdk.Stack):
    """An isolated VPC with flow logs, and Aurora PostgreSQL Serverless v2 inside it."""

    network: SandboxNetwork
    database: SandboxDatabase

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: SandboxProps,
        **stack_options: Any,
    ) -> None:
        super().__init__(scope, construct_id, **stack_options)
        self.migration_user = props.migration_user
        self.network = SandboxNetwork(
            self,
            "Network",
            cidr=props.vpc_cidr,
            max_azs=props.max_azs,
            removal_policy=(
                cdk.RemovalPolicy.DESTROY
                if props.removal_policy == cdk.RemovalPolicy.DESTROY
                else cdk.RemovalPolicy.RETAIN
            ),
        )
        self.database = SandboxDatabase(
            self,
            "Database",
            vpc=self.network.vpc,
            subnets=self.network.subnets,
            cluster_identifier=props.cluster_identifier,
            database_name=props.database_name,
            port=props.database_port,
            min_capacity=props.min_capacity,
            max_capacity=props.max_capacity,
            deletion_protection=props.deletion_protection,
            removal_policy=props.removal_policy,
            backup_retention=props.backup_retention,
            log_retention=props.log_retention,
            encrypt_logs=props.encrypt_database_logs,
        )

        cdk.CfnOutput(self, "VpcId", value=self.network.vpc.vpc_id)
        cdk.CfnOutput(
            self, "ClusterEndpoint", value=self.database.cluster.cluster_endpoint.hostname
        )
        cdk.CfnOutput(self, "ClusterResourceId", value=self.database.cluster_resource_id)
        cdk.CfnOutput(
            self,
            "SecretArn",
            value=self.database.secret.secret_arn,
            description="The RDS-managed master secret: for creating the migration user only",
        )
        cdk.CfnOutput(
            self,
            "MigrationUser",
            value=self.migration_user,
            description="The runner logs in as this user with IAM auth (GRANT rds_iam)",
        )

    # What MigrationsRunnerProps needs, named as it names them.
    @property
    def vpc(self) -> ec2.IVpc:
        return self.network.vpc

    @property
    def subnets(self) -> ec2.SubnetSelection:
        return self.network.subnets

    @property
    def database_security_group(self) -> ec2.ISecurityGroup:
        return self.database.security_group

    @property
    def database_name(self) -> str:
        return self.database.database_name

    @property
    def database_host(self) -> str:
        return self.database.host

    @property
    def database_port(self) -> int:
        return self.database.port

    @property
    def database_secret(self) -> secretsmanager.ISecret:
        return self.database.secret

    @property
    def cluster_resource_id(self) -> str:
        return self.database.cluster_resource_id

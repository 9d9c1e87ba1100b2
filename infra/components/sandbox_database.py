"""Aurora PostgreSQL Serverless v2 for the sandbox, with IAM auth on and storage encrypted.

The master password is managed by RDS (`ManageMasterUserPassword`): RDS keeps it in a secret
of its own and rotates it (every 7 days by default), and deletes that secret with the cluster
(a restored snapshot gets a new one). The secret holds only `username` and `password`, so a
reader needs the host and database name from elsewhere. The cluster accepts TLS only
(`rds.force_ssl`), matching the runner's `verify-full`.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge

ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_13
DEFAULT_PORT = 5432
DEFAULT_BACKUP_RETENTION = cdk.Duration.days(7)


class SandboxDatabase(Construct):
    """The cluster, its security group (no rules: clients add their own) and its RDS-managed
    master secret."""

    cluster: rds.DatabaseCluster
    security_group: ec2.SecurityGroup
    secret: secretsmanager.ISecret
    port: int
    database_name: str
    log_group: logs.LogGroup

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        cluster_identifier: str,
        database_name: str = "app",
        master_username: str = "aurora_admin",
        port: int = DEFAULT_PORT,
        min_capacity: float = 0.5,
        max_capacity: float = 2,
        deletion_protection: bool = False,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.SNAPSHOT,
        backup_retention: cdk.Duration = DEFAULT_BACKUP_RETENTION,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        self.port = port
        self.database_name = database_name
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Aurora PostgreSQL cluster: ingress only from named clients",
            allow_all_outbound=False,
        )
        # Created here rather than by RDS so that it has a retention period.
        self.log_group = logs.LogGroup(
            self,
            "PostgresqlLogGroup",
            log_group_name=f"/aws/rds/cluster/{cluster_identifier}/postgresql",
            retention=log_retention,
            removal_policy=(
                cdk.RemovalPolicy.RETAIN
                if removal_policy == cdk.RemovalPolicy.SNAPSHOT
                else removal_policy
            ),
        )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            cluster_identifier=cluster_identifier,
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION),
            credentials=rds.Credentials.from_username(master_username),
            manage_master_user_password=True,
            default_database_name=database_name,
            port=port,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            writer=rds.ClusterInstance.serverless_v2("Writer", publicly_accessible=False),
            serverless_v2_min_capacity=min_capacity,
            serverless_v2_max_capacity=max_capacity,
            iam_authentication=True,
            storage_encrypted=True,
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
            backup=rds.BackupProps(retention=backup_retention),
            parameters={"rds.force_ssl": "1"},
            cloudwatch_logs_exports=["postgresql"],
            copy_tags_to_snapshot=True,
        )
        self.cluster.node.add_dependency(self.log_group)
        if self.cluster.secret is None:  # pragma: no cover - the managed password sets it
            raise RuntimeError("the cluster has no master user secret")
        self.secret = self.cluster.secret
        if not deletion_protection:
            acknowledge(
                self.cluster,
                "AwsSolutions-RDS10",
                "Deletion protection is off on purpose in this disposable sandbox "
                "environment; staging and prod turn it on.",
            )

    @property
    def host(self) -> str:
        """The cluster (writer) endpoint name, which its TLS certificate names."""
        return self.cluster.cluster_endpoint.hostname

    @property
    def cluster_resource_id(self) -> str:
        """The `DbClusterResourceId`, for `rds-db:connect` ARNs."""
        return self.cluster.cluster_resource_identifier

"""Aurora PostgreSQL Serverless v2 for the sandbox, with IAM auth on and storage encrypted.

The master password is managed by RDS (`ManageMasterUserPassword`): RDS keeps it in a secret
of its own and rotates it (every 7 days by default), and deletes that secret with the cluster
(a restored snapshot gets a new one). The secret holds only `username` and `password`, so a
reader needs the host and database name from elsewhere. The cluster accepts TLS only
(`rds.force_ssl`), matching the runner's `verify-full`.

Audit: `pgaudit` is preloaded and logs DDL and role changes (`pgaudit.log = ddl, role`), and
connections are logged (`log_connections`, `log_disconnections`), all to the exported
PostgreSQL log group; `CREATE EXTENSION pgaudit` once per database completes the set-up. With
`encrypt_logs` that group gets a customer-managed key that only CloudWatch Logs may use, and
only for this log group.

"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.checkov_skips import skip_check
from infra.nag import acknowledge

ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_13
DEFAULT_PORT = 5432
DEFAULT_BACKUP_RETENTION = cdk.Duration.days(7)
# The cluster parameter group: TLS only, and an audit trail of schema and role changes.
CLUSTER_PARAMETERS: dict[str, str] = {
    "rds.force_ssl": "1",
    "shared_preload_libraries": "pg_stat_statements,pgaudit",
    "pgaudit.log": "ddl,role",
    "pgaudit.log_parameter": "0",
    "log_connections": "1",
    "log_disconnections": "1",
}


def logs_key(
    scope: Construct, log_group_name: str, *, removal_policy: cdk.RemovalPolicy
) -> kms.Key:
    """A key that CloudWatch Logs may use for exactly one log group of this account.

    It outlives the log group's data as long as the group is retained: a deleted key would make
    the retained logs unreadable.
    """
    key = kms.Key(
        scope,
        "PostgresqlLogKey",
        description=f"Encrypts {log_group_name}",
        enable_key_rotation=True,
        removal_policy=removal_policy,
    )
    stack = cdk.Stack.of(scope)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsForThisLogGroupOnly",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={
                "ArnEquals": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=log_group_name,
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
    return key


class SandboxDatabase(Construct):
    """The cluster, its security group (no rules: clients add their own) and its RDS-managed
    master secret."""

    cluster: rds.DatabaseCluster
    security_group: ec2.SecurityGroup
    secret: secretsmanager.ISecret
    port: int
    database_name: str
    log_group: logs.LogGroup
    log_key: kms.Key | None

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
        encrypt_logs: bool = False,
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
        # Created here rather than by RDS so that it has a retention period (and a key).
        log_group_name = f"/aws/rds/cluster/{cluster_identifier}/postgresql"
        logs_removal_policy = (
            cdk.RemovalPolicy.RETAIN
            if removal_policy == cdk.RemovalPolicy.SNAPSHOT
            else removal_policy
        )
        self.log_key = (
            logs_key(self, log_group_name, removal_policy=logs_removal_policy)
            if encrypt_logs
            else None
        )
        self.log_group = logs.LogGroup(
            self,
            "PostgresqlLogGroup",
            log_group_name=log_group_name,
            retention=log_retention,
            encryption_key=self.log_key,
            removal_policy=logs_removal_policy,
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
            parameters=dict(CLUSTER_PARAMETERS),
            cloudwatch_logs_exports=["postgresql"],
            copy_tags_to_snapshot=True,
        )
        self.cluster.node.add_dependency(self.log_group)
        if self.log_key is None:
            skip_check(
                self.log_group,
                "CKV_AWS_158",
                "Encrypted at rest by CloudWatch Logs with an AWS-owned key; prod's PostgreSQL "
                "logs get a customer-managed key (encrypt_logs).",
            )
        skip_check(
            self.cluster.node.find_child("Writer"),
            "CKV_AWS_118",
            "Sandbox cluster: enhanced monitoring would add a role with an AWS managed policy "
            "(AwsSolutions-IAM4) for per-second OS metrics a migrations sandbox does not need.",
        )
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

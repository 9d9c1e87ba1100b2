"""What the runner may do beyond running: read one secret (password auth), or connect as one
database user (IAM auth), never both.

The statements are written out rather than taken from `secret.grant_read()`, which would also
allow `secretsmanager:DescribeSecret`; the runner only calls `GetSecretValue`. With IAM auth
the runner gets no secret at all, so it cannot read a password (say, the master secret's).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class IamDatabaseAuth:
    """IAM database authentication: the runner connects as `db_user` with a token.

    `cluster_resource_id` is the cluster's `DbClusterResourceId` (`cluster-ABC...`), not its
    name; the user must exist in the database and hold the `rds_iam` role.
    """

    db_user: str
    cluster_resource_id: str


def read_secret_statement(secret: secretsmanager.ISecret) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="ReadDatabaseSecret",
        actions=["secretsmanager:GetSecretValue"],
        resources=[secret.secret_arn],
    )


def decrypt_secret_statement(
    scope: Construct, secret: secretsmanager.ISecret
) -> iam.PolicyStatement | None:
    """kms:Decrypt on the secret's customer-managed key, only through Secrets Manager."""
    if secret.encryption_key is None:
        return None
    return iam.PolicyStatement(
        sid="DecryptDatabaseSecret",
        actions=["kms:Decrypt"],
        resources=[secret.encryption_key.key_arn],
        conditions={
            "StringEquals": {
                "kms:ViaService": f"secretsmanager.{cdk.Stack.of(scope).region}.amazonaws.com"
            }
        },
    )


def connect_statement(scope: Construct, iam_auth: IamDatabaseAuth) -> iam.PolicyStatement:
    """rds-db:connect as exactly one database user of exactly one cluster."""
    return iam.PolicyStatement(
        sid="ConnectAsMigrationUser",
        actions=["rds-db:connect"],
        resources=[
            cdk.Stack.of(scope).format_arn(
                service="rds-db",
                resource="dbuser",
                resource_name=f"{iam_auth.cluster_resource_id}/{iam_auth.db_user}",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
        ],
    )


class RunnerPermissions(Construct):
    """One IAM policy with the runner's data-access statements, attached to its role."""

    policy: iam.Policy
    statements: tuple[iam.PolicyStatement, ...]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role: iam.IRole,
        secret: secretsmanager.ISecret | None = None,
        iam_auth: IamDatabaseAuth | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if (secret is None) == (iam_auth is None):
            raise ValueError(
                "give exactly one of secret (password auth) and iam_auth: with IAM auth the "
                "runner needs no secret and must not be able to read one"
            )
        statements: list[iam.PolicyStatement] = []
        if secret is not None:
            statements.append(read_secret_statement(secret))
            decrypt = decrypt_secret_statement(self, secret)
            if decrypt is not None:
                statements.append(decrypt)
        if iam_auth is not None:
            statements.append(connect_statement(self, iam_auth))
        self.statements = tuple(statements)
        self.policy = iam.Policy(self, "Policy", statements=statements, roles=[role])

"""An existing Aurora cluster, described in CDK context, and imported into the runner stack.

Context `existingDatabase` maps an environment name to an object with these keys (camelCase,
as in cdk.json); environments without an entry get the sandbox from DevEnvironmentStack:

    vpcId                                   required  "vpc-0123..."
    availabilityZones                       required  ["eu-west-1a", "eu-west-1b"]
    subnetIds                               required  one private subnet per AZ, same order
    databaseSecurityGroupId                 required  the cluster's security group
    databaseSecretArn                       required  complete ARN (with the 6-char suffix)
    databasePort                            optional  default 5432
    databaseName                            optional  if the secret has no "dbname"
    databaseHost                            optional  if the secret has no "host" (RDS-managed
                                                      master secrets have neither)
    secretKmsKeyArn                         optional  the secret's customer-managed key
    iamAuth                                 optional  {"dbUser": ..., "clusterResourceId": ...}
    createSecretsManagerEndpoint            optional  default true
    secretsManagerEndpointSecurityGroupId   optional  with createSecretsManagerEndpoint=false
    vpcCidrBlock                            optional  needed when neither of the two above
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.components.permissions import IamDatabaseAuth
from infra.errors import ConfigurationError

_REQUIRED = (
    "vpcId",
    "availabilityZones",
    "subnetIds",
    "databaseSecurityGroupId",
    "databaseSecretArn",
)
_OPTIONAL = (
    "databasePort",
    "databaseName",
    "databaseHost",
    "secretKmsKeyArn",
    "iamAuth",
    "createSecretsManagerEndpoint",
    "secretsManagerEndpointSecurityGroupId",
    "vpcCidrBlock",
)


@dataclass(frozen=True, kw_only=True)
class ExistingDatabase:
    """Identifiers of an existing VPC, cluster and secret; nothing here calls AWS."""

    vpc_id: str
    availability_zones: tuple[str, ...]
    subnet_ids: tuple[str, ...]
    database_security_group_id: str
    database_secret_arn: str
    database_port: int = 5432
    database_name: str | None = None
    database_host: str | None = None
    secret_kms_key_arn: str | None = None
    iam_auth: IamDatabaseAuth | None = None
    create_secrets_manager_endpoint: bool = True
    secrets_manager_endpoint_security_group_id: str | None = None
    vpc_cidr_block: str | None = None

    @classmethod
    def from_context(cls, environment: str, raw: Mapping[str, Any]) -> ExistingDatabase:
        where = f"context existingDatabase.{environment}"
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"{where} must be an object, not {type(raw).__name__}")
        missing = [key for key in _REQUIRED if not raw.get(key)]
        unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
        if missing or unknown:
            raise ConfigurationError(
                f"{where}: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}; "
                f"the keys are {', '.join(_REQUIRED + _OPTIONAL)}"
            )
        zones = _strings(raw["availabilityZones"], f"{where}.availabilityZones")
        subnets = _strings(raw["subnetIds"], f"{where}.subnetIds")
        if len(subnets) % len(zones):
            raise ConfigurationError(
                f"{where}: give one subnet per availability zone ({len(zones)} zones, "
                f"{len(subnets)} subnets)"
            )
        iam_auth = None
        if raw.get("iamAuth"):
            auth = raw["iamAuth"]
            if not isinstance(auth, Mapping) or set(auth) != {"dbUser", "clusterResourceId"}:
                raise ConfigurationError(
                    f'{where}.iamAuth must be {{"dbUser": ..., "clusterResourceId": ...}}'
                )
            iam_auth = IamDatabaseAuth(
                db_user=str(auth["dbUser"]), cluster_resource_id=str(auth["clusterResourceId"])
            )
        existing = cls(
            vpc_id=str(raw["vpcId"]),
            availability_zones=zones,
            subnet_ids=subnets,
            database_security_group_id=str(raw["databaseSecurityGroupId"]),
            database_secret_arn=str(raw["databaseSecretArn"]),
            database_port=int(raw.get("databasePort", 5432)),
            database_name=raw.get("databaseName") or None,
            database_host=raw.get("databaseHost") or None,
            secret_kms_key_arn=raw.get("secretKmsKeyArn") or None,
            iam_auth=iam_auth,
            create_secrets_manager_endpoint=bool(raw.get("createSecretsManagerEndpoint", True)),
            secrets_manager_endpoint_security_group_id=(
                raw.get("secretsManagerEndpointSecurityGroupId") or None
            ),
            vpc_cidr_block=raw.get("vpcCidrBlock") or None,
        )
        existing.check(where)
        return existing

    def check(self, where: str) -> None:
        if self.create_secrets_manager_endpoint and self.secrets_manager_endpoint_security_group_id:
            raise ConfigurationError(
                f"{where}: secretsManagerEndpointSecurityGroupId names an existing endpoint; "
                "set createSecretsManagerEndpoint to false with it"
            )
        if (
            not self.create_secrets_manager_endpoint
            and not self.secrets_manager_endpoint_security_group_id
            and not self.vpc_cidr_block
        ):
            raise ConfigurationError(
                f"{where}: without a new Secrets Manager endpoint, give "
                "secretsManagerEndpointSecurityGroupId or vpcCidrBlock for the HTTPS egress rule"
            )
        if not self.database_secret_arn.startswith("arn:"):
            raise ConfigurationError(f"{where}.databaseSecretArn must be a complete secret ARN")


@dataclass(frozen=True, kw_only=True)
class ImportedDatabase:
    """The CDK references that `ExistingDatabase.import_into` creates."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    database_security_group: ec2.ISecurityGroup
    database_secret: secretsmanager.ISecret
    secrets_manager_endpoint_security_group: ec2.ISecurityGroup | None


def import_existing_database(scope: Construct, existing: ExistingDatabase) -> ImportedDatabase:
    """References (no lookups, no AWS calls) to the existing resources, inside `scope`."""
    vpc = ec2.Vpc.from_vpc_attributes(
        scope,
        "ExistingVpc",
        vpc_id=existing.vpc_id,
        availability_zones=list(existing.availability_zones),
        isolated_subnet_ids=list(existing.subnet_ids),
        vpc_cidr_block=existing.vpc_cidr_block,
    )
    encryption_key = (
        kms.Key.from_key_arn(scope, "ExistingSecretKey", existing.secret_kms_key_arn)
        if existing.secret_kms_key_arn
        else None
    )
    secret = secretsmanager.Secret.from_secret_attributes(
        scope,
        "ExistingSecret",
        secret_complete_arn=existing.database_secret_arn,
        encryption_key=encryption_key,
    )
    endpoint_sg = (
        ec2.SecurityGroup.from_security_group_id(
            scope,
            "ExistingSecretsManagerEndpointSecurityGroup",
            existing.secrets_manager_endpoint_security_group_id,
            mutable=True,
        )
        if existing.secrets_manager_endpoint_security_group_id
        else None
    )
    return ImportedDatabase(
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        database_security_group=ec2.SecurityGroup.from_security_group_id(
            scope,
            "ExistingDatabaseSecurityGroup",
            existing.database_security_group_id,
            mutable=True,
        ),
        database_secret=secret,
        secrets_manager_endpoint_security_group=endpoint_sg,
    )


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise ConfigurationError(f"{where} must be a non-empty list of strings")
    return tuple(value)


__all__ = ["ExistingDatabase", "ImportedDatabase", "import_existing_database"]

"""An existing Aurora cluster, described in CDK context, and imported into the runner stack.

Context `existingDatabase` maps an environment name to an object with these keys (camelCase,
as in cdk.json); environments without an entry get the sandbox from SandboxStack:

    vpcId                                   required  "vpc-0123..."
    availabilityZones                       required  ["eu-west-1a", "eu-west-1b"]
    subnetIds                               required  one private subnet per AZ, same order
    databaseSecurityGroupId                 required  the cluster's security group
    databasePort                            optional  default 5432
    databaseName                            optional  if the secret has no "dbname"
    databaseHost                            optional  if the secret has no "host" (RDS-managed
                                                      master secrets have neither)
  and exactly one way to log in:
    iamAuth                                 {"dbUser": ..., "clusterResourceId": ...}; needs
                                            databaseHost and databaseName; no secret, no
                                            Secrets Manager endpoint
    databaseSecretArn                       complete ARN (with the 6-char suffix), plus:
      secretKmsKeyArn                         optional  the secret's customer-managed key
      createSecretsManagerEndpoint            required  true: a new endpoint; false: the VPC's
      secretsManagerEndpointPrivateDns        required with a new endpoint (no default: true
                                                        takes over Secrets Manager's name for
                                                        the whole VPC)
      secretsManagerEndpointSecurityGroupId   with an existing endpoint: its group, or
      vpcCidrBlock                            with an existing endpoint: 443 to the whole VPC
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.components.network import (
    ExistingSecretsManagerEndpoint,
    NewSecretsManagerEndpoint,
    SecretsManagerRoute,
)
from infra.components.permissions import IamDatabaseAuth
from infra.errors import ConfigurationError

_REQUIRED = (
    "vpcId",
    "availabilityZones",
    "subnetIds",
    "databaseSecurityGroupId",
)
_OPTIONAL = (
    "databasePort",
    "databaseName",
    "databaseHost",
    "iamAuth",
    "databaseSecretArn",
)
# Keys that only mean something when the runner reads a secret.
_SECRET_KEYS = (
    "secretKmsKeyArn",
    "createSecretsManagerEndpoint",
    "secretsManagerEndpointPrivateDns",
    "secretsManagerEndpointSecurityGroupId",
    "vpcCidrBlock",
)


@dataclass(frozen=True, kw_only=True)
class ExistingDatabase:
    """Identifiers of an existing VPC, cluster and (password auth) secret; nothing calls AWS."""

    vpc_id: str
    availability_zones: tuple[str, ...]
    subnet_ids: tuple[str, ...]
    database_security_group_id: str
    database_port: int = 5432
    database_name: str | None = None
    database_host: str | None = None
    iam_auth: IamDatabaseAuth | None = None
    database_secret_arn: str | None = None
    secret_kms_key_arn: str | None = None
    create_secrets_manager_endpoint: bool | None = None
    secrets_manager_endpoint_private_dns: bool | None = None
    secrets_manager_endpoint_security_group_id: str | None = None
    vpc_cidr_block: str | None = None

    @classmethod
    def from_context(cls, environment: str, raw: Mapping[str, Any]) -> ExistingDatabase:
        where = f"context existingDatabase.{environment}"
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"{where} must be an object, not {type(raw).__name__}")
        raw = {key: value for key, value in raw.items() if value is not None}
        missing = [key for key in _REQUIRED if not raw.get(key)]
        known = _REQUIRED + _OPTIONAL + _SECRET_KEYS
        unknown = sorted(set(raw) - set(known))
        if missing or unknown:
            raise ConfigurationError(
                f"{where}: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}; "
                f"the keys are {', '.join(known)}"
            )
        zones = _strings(raw["availabilityZones"], f"{where}.availabilityZones")
        subnets = _strings(raw["subnetIds"], f"{where}.subnetIds")
        if len(subnets) % len(zones):
            raise ConfigurationError(
                f"{where}: give one subnet per availability zone ({len(zones)} zones, "
                f"{len(subnets)} subnets)"
            )
        existing = cls(
            vpc_id=str(raw["vpcId"]),
            availability_zones=zones,
            subnet_ids=subnets,
            database_security_group_id=str(raw["databaseSecurityGroupId"]),
            database_port=int(raw.get("databasePort", 5432)),
            database_name=raw.get("databaseName") or None,
            database_host=raw.get("databaseHost") or None,
            iam_auth=_iam_auth(raw.get("iamAuth"), f"{where}.iamAuth"),
            database_secret_arn=raw.get("databaseSecretArn") or None,
            secret_kms_key_arn=raw.get("secretKmsKeyArn") or None,
            create_secrets_manager_endpoint=_flag(raw, "createSecretsManagerEndpoint", where),
            secrets_manager_endpoint_private_dns=_flag(
                raw, "secretsManagerEndpointPrivateDns", where
            ),
            secrets_manager_endpoint_security_group_id=(
                raw.get("secretsManagerEndpointSecurityGroupId") or None
            ),
            vpc_cidr_block=raw.get("vpcCidrBlock") or None,
        )
        existing.check(where, given=set(raw))
        return existing

    def check(self, where: str, *, given: set[str]) -> None:
        """Refuse a login that is missing, doubled, or half-described, saying what to change."""
        if self.iam_auth is None and self.database_secret_arn is None:
            raise ConfigurationError(
                f"{where}: give databaseSecretArn (password auth) or iamAuth (IAM auth, which "
                "needs no secret)"
            )
        if self.iam_auth is not None:
            self._check_iam_auth(where, given)
        else:
            self._check_secret(where)

    def _check_iam_auth(self, where: str, given: set[str]) -> None:
        if self.database_secret_arn is not None:
            raise ConfigurationError(
                f"{where}: iamAuth logs in with a token, so the runner gets no secret; remove "
                "databaseSecretArn (give databaseHost and databaseName instead)"
            )
        missing = [
            key
            for key, value in (
                ("databaseHost", self.database_host),
                ("databaseName", self.database_name),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(
                f"{where}: iamAuth needs {' and '.join(missing)}: without a secret they tell "
                "the runner where to connect (the cluster endpoint name, for TLS verify-full)"
            )
        extra = sorted(given & set(_SECRET_KEYS))
        if extra:
            raise ConfigurationError(
                f"{where}: with iamAuth the runner reads no secret and needs no Secrets Manager "
                f"endpoint; remove {', '.join(extra)}"
            )

    def _check_secret(self, where: str) -> None:
        assert self.database_secret_arn is not None
        if not self.database_secret_arn.startswith("arn:"):
            raise ConfigurationError(f"{where}.databaseSecretArn must be a complete secret ARN")
        if self.create_secrets_manager_endpoint is None:
            raise ConfigurationError(
                f"{where}: set createSecretsManagerEndpoint: true creates a Secrets Manager "
                "endpoint in the runner's subnets, false uses the one the VPC already has "
                "(with secretsManagerEndpointSecurityGroupId or vpcCidrBlock)"
            )
        if self.create_secrets_manager_endpoint:
            if self.secrets_manager_endpoint_private_dns is None:
                raise ConfigurationError(
                    f"{where}: set secretsManagerEndpointPrivateDns: true makes the new "
                    "endpoint answer for Secrets Manager in the whole VPC, and it admits only "
                    "the runner, so other workloads there that reach Secrets Manager (through "
                    "a NAT) would be refused; false leaves the VPC's DNS alone and points only "
                    "the runner at the endpoint"
                )
            for key, value in (
                (
                    "secretsManagerEndpointSecurityGroupId",
                    self.secrets_manager_endpoint_security_group_id,
                ),
                ("vpcCidrBlock", self.vpc_cidr_block),
            ):
                if value:
                    raise ConfigurationError(
                        f"{where}: {key} describes an existing endpoint; remove it, or set "
                        "createSecretsManagerEndpoint to false"
                    )
            return
        if self.secrets_manager_endpoint_private_dns is not None:
            raise ConfigurationError(
                f"{where}: secretsManagerEndpointPrivateDns is for a new endpoint; remove it "
                "with createSecretsManagerEndpoint false"
            )
        if not self.secrets_manager_endpoint_security_group_id and not self.vpc_cidr_block:
            raise ConfigurationError(
                f"{where}: without a new Secrets Manager endpoint, give "
                "secretsManagerEndpointSecurityGroupId (preferred) or vpcCidrBlock for the "
                "HTTPS egress rule"
            )


@dataclass(frozen=True, kw_only=True)
class ImportedDatabase:
    """The CDK references that `import_existing_database` creates."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    database_security_group: ec2.ISecurityGroup
    database_secret: secretsmanager.ISecret | None  # None with IAM auth
    secrets_manager: SecretsManagerRoute | None  # None with IAM auth


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
    secret = None
    route: SecretsManagerRoute | None = None
    if existing.database_secret_arn is not None:
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
        route = _secrets_manager_route(scope, existing)
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
        secrets_manager=route,
    )


def _secrets_manager_route(scope: Construct, existing: ExistingDatabase) -> SecretsManagerRoute:
    if existing.create_secrets_manager_endpoint:
        return NewSecretsManagerEndpoint(
            private_dns=bool(existing.secrets_manager_endpoint_private_dns)
        )
    group_id = existing.secrets_manager_endpoint_security_group_id
    return ExistingSecretsManagerEndpoint(
        security_group=(
            ec2.SecurityGroup.from_security_group_id(
                scope, "ExistingSecretsManagerEndpointSecurityGroup", group_id, mutable=True
            )
            if group_id
            else None
        )
    )


def _iam_auth(value: Any, where: str) -> IamDatabaseAuth | None:
    if not value:
        return None
    if not isinstance(value, Mapping) or set(value) != {"dbUser", "clusterResourceId"}:
        raise ConfigurationError(f'{where} must be {{"dbUser": ..., "clusterResourceId": ...}}')
    return IamDatabaseAuth(
        db_user=str(value["dbUser"]), cluster_resource_id=str(value["clusterResourceId"])
    )


def _flag(raw: Mapping[str, Any], key: str, where: str) -> bool | None:
    """A JSON boolean, or None when absent: "false" as a string would read as true."""
    value = raw.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise ConfigurationError(f"{where}.{key} must be true or false (a JSON boolean), not {value!r}")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise ConfigurationError(f"{where} must be a non-empty list of strings")
    return tuple(value)


__all__ = ["ExistingDatabase", "ImportedDatabase", "import_existing_database"]

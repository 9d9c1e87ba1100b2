"""The runner's network access: its own security group, and nothing it does not need.

Egress goes to the database security group on the database port and, when the runner reads a
secret, to Secrets Manager on 443. Each target group gets the matching ingress rule. With IAM
database authentication there is no secret, so no Secrets Manager route at all.

The subnets are isolated (no NAT), so Secrets Manager is reached through an interface VPC
endpoint, and how is the caller's explicit choice (`secrets_manager`):

- `NewSecretsManagerEndpoint(private_dns=True)`: an endpoint in the runner's subnets that
  takes over `secretsmanager.<region>.amazonaws.com` for the whole VPC. Its policy and its
  security group admit only the runner, so any other workload in that VPC that reaches Secrets
  Manager today (through a NAT) would start resolving to it and be refused. Right for a VPC of
  its own (the sandbox); a VPC can hold only one such endpoint.
- `NewSecretsManagerEndpoint(private_dns=False)`: the same endpoint, but the VPC's DNS is left
  alone; the runner is given the endpoint's own DNS name (`endpoint_url`) to call instead.
- `ExistingSecretsManagerEndpoint(security_group=...)`: the VPC already has an endpoint;
  egress 443 goes to its group, which gets a matching ingress rule (import it mutable). Without
  the group, egress 443 goes to the VPC's whole CIDR block: a broad fallback, since it admits
  any HTTPS listener in the VPC; prefer the group.

A new endpoint carries an endpoint policy: only `secretsmanager:GetSecretValue`, only on the
runner's secret, only by principals of this account. Without it, code inside could use the
endpoint, the one AWS API route out of the VPC, with other credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

HTTPS = ec2.Port.tcp(443)


@dataclass(frozen=True, kw_only=True)
class NewSecretsManagerEndpoint:
    """Create an interface endpoint in the runner's subnets; private DNS is a deliberate choice."""

    private_dns: bool


@dataclass(frozen=True, kw_only=True)
class ExistingSecretsManagerEndpoint:
    """Use the VPC's endpoint: 443 to its security group, else to the VPC's CIDR block."""

    security_group: ec2.ISecurityGroup | None = None


SecretsManagerRoute = NewSecretsManagerEndpoint | ExistingSecretsManagerEndpoint


def endpoint_policy_statement(secret: secretsmanager.ISecret) -> iam.PolicyStatement:
    """GetSecretValue on the runner's secret, by principals of this account, nothing else."""
    return iam.PolicyStatement(
        principals=[iam.StarPrincipal()],
        actions=["secretsmanager:GetSecretValue"],
        resources=[secret.secret_arn],
        conditions={"StringEquals": {"aws:PrincipalAccount": cdk.Aws.ACCOUNT_ID}},
    )


class RunnerNetworkAccess(Construct):
    """Security group of the runner, its rules, and (if asked) the Secrets Manager endpoint."""

    security_group: ec2.SecurityGroup
    secrets_manager_endpoint: ec2.InterfaceVpcEndpoint | None
    secrets_manager_endpoint_security_group: ec2.ISecurityGroup | None
    # https://<the endpoint's own DNS name>, for a new endpoint without private DNS.
    endpoint_url: str | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        database_security_group: ec2.ISecurityGroup,
        database_port: int,
        secret: secretsmanager.ISecret | None,
        secrets_manager: SecretsManagerRoute | None,
    ) -> None:
        super().__init__(scope, construct_id)
        if (secret is None) != (secrets_manager is None):
            raise ValueError(
                "give secret and secrets_manager together: the route to Secrets Manager exists "
                "only to read the runner's secret (IAM auth needs neither)"
            )

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="aurora-migrations runner: egress to the database and Secrets Manager",
            allow_all_outbound=False,
        )
        self.security_group.connections.allow_to(
            database_security_group,
            ec2.Port.tcp(database_port),
            "aurora-migrations runner to the database",
        )

        self.secrets_manager_endpoint = None
        self.secrets_manager_endpoint_security_group = None
        self.endpoint_url = None
        if secret is None or secrets_manager is None:
            return
        if isinstance(secrets_manager, NewSecretsManagerEndpoint):
            self._create_endpoint(vpc, subnets, secret, private_dns=secrets_manager.private_dns)
        else:
            self.secrets_manager_endpoint_security_group = secrets_manager.security_group

        if self.secrets_manager_endpoint_security_group is not None:
            self.security_group.connections.allow_to(
                self.secrets_manager_endpoint_security_group,
                HTTPS,
                "aurora-migrations runner to Secrets Manager",
            )
        else:
            self.security_group.add_egress_rule(
                ec2.Peer.ipv4(vpc.vpc_cidr_block),
                HTTPS,
                "aurora-migrations runner to the VPC's Secrets Manager endpoint (whole VPC CIDR)",
            )

    def _create_endpoint(
        self,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        secret: secretsmanager.ISecret,
        *,
        private_dns: bool,
    ) -> None:
        endpoint_sg = ec2.SecurityGroup(
            self,
            "SecretsManagerEndpointSecurityGroup",
            vpc=vpc,
            description="Secrets Manager interface endpoint: HTTPS from the runner only",
            allow_all_outbound=False,
        )
        endpoint = ec2.InterfaceVpcEndpoint(
            self,
            "SecretsManagerEndpoint",
            vpc=vpc,
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=subnets,
            private_dns_enabled=private_dns,
            security_groups=[endpoint_sg],
            open=False,
        )
        endpoint.add_to_policy(endpoint_policy_statement(secret))
        self.secrets_manager_endpoint = endpoint
        self.secrets_manager_endpoint_security_group = endpoint_sg
        if not private_dns:
            # DnsEntries are "<hosted zone id>:<name>"; the first is the regional name, which
            # the endpoint's certificate covers.
            first = cdk.Fn.select(0, endpoint.vpc_endpoint_dns_entries)
            self.endpoint_url = "https://" + cdk.Fn.select(1, cdk.Fn.split(":", first))

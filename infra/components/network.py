"""The runner's network access: its own security group, and nothing it does not need.

Egress goes to exactly two places: the database security group on the database port, and
Secrets Manager on 443. The database security group gets the matching ingress rule.

Secrets Manager is reached through an interface VPC endpoint with private DNS, because the
subnets are isolated (no NAT). By default this construct creates that endpoint in the runner's
subnets. A VPC can hold only one Secrets Manager endpoint with private DNS, so for a VPC that
already has one pass `create_secrets_manager_endpoint=False` and either
`secrets_manager_endpoint_security_group` (egress and a matching ingress rule go to that group;
import it mutable) or nothing, in which case egress 443 goes to the VPC's CIDR block, which is
where the endpoint's network interfaces live (the VPC must then expose `vpc_cidr_block`).
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

HTTPS = ec2.Port.tcp(443)


class RunnerNetworkAccess(Construct):
    """Security group of the runner, its rules, and (by default) the Secrets Manager endpoint."""

    security_group: ec2.SecurityGroup
    secrets_manager_endpoint: ec2.InterfaceVpcEndpoint | None
    secrets_manager_endpoint_security_group: ec2.ISecurityGroup | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        database_security_group: ec2.ISecurityGroup,
        database_port: int,
        create_secrets_manager_endpoint: bool = True,
        secrets_manager_endpoint_security_group: ec2.ISecurityGroup | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if create_secrets_manager_endpoint and secrets_manager_endpoint_security_group:
            raise ValueError(
                "secrets_manager_endpoint_security_group names an existing endpoint; "
                "pass create_secrets_manager_endpoint=False with it"
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
        self.secrets_manager_endpoint_security_group = secrets_manager_endpoint_security_group
        if create_secrets_manager_endpoint:
            endpoint_sg = ec2.SecurityGroup(
                self,
                "SecretsManagerEndpointSecurityGroup",
                vpc=vpc,
                description="Secrets Manager interface endpoint: HTTPS from the runner only",
                allow_all_outbound=False,
            )
            self.secrets_manager_endpoint = ec2.InterfaceVpcEndpoint(
                self,
                "SecretsManagerEndpoint",
                vpc=vpc,
                service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
                subnets=subnets,
                private_dns_enabled=True,
                security_groups=[endpoint_sg],
                open=False,
            )
            self.secrets_manager_endpoint_security_group = endpoint_sg

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
                "aurora-migrations runner to the VPC's Secrets Manager endpoint",
            )

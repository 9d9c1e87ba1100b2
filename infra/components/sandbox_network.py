"""A VPC for the sandbox: isolated subnets only (no NAT, no internet), with flow logs."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.checkov_skips import skip_check

RESTRICT_DEFAULT_SG_PROVIDER = "Custom::VpcRestrictDefaultSGCustomResourceProvider"

ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


class SandboxNetwork(Construct):
    """VPC with one isolated subnet per AZ; all traffic is logged to CloudWatch Logs."""

    vpc: ec2.Vpc
    subnets: ec2.SubnetSelection
    flow_log: ec2.FlowLog
    flow_log_group: logs.LogGroup

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        max_azs: int = 2,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
                )
            ],
            enable_dns_hostnames=True,  # needed by the interface endpoints' private DNS
            enable_dns_support=True,
            # Nothing may use the default security group (Security Hub EC2.2): CDK empties
            # its rules with a custom resource.
            restrict_default_security_group=True,
        )
        self.subnets = ISOLATED
        self.flow_log_group = logs.LogGroup(
            self, "FlowLogGroup", retention=log_retention, removal_policy=removal_policy
        )
        self.flow_log = self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        skip_check(
            self.flow_log_group,
            "CKV_AWS_158",
            "Flow logs of an isolated sandbox VPC, encrypted at rest by CloudWatch Logs with "
            "an AWS-owned key.",
        )
        provider = cdk.Stack.of(self).node.try_find_child(RESTRICT_DEFAULT_SG_PROVIDER)
        handler = provider.node.try_find_child("Handler") if provider is not None else None
        if handler is not None:
            for check_id, reason in (
                (
                    "CKV_AWS_115",
                    "CDK's own custom-resource handler that empties the default security "
                    "group; CloudFormation calls it once per deploy, no concurrency to cap.",
                ),
                (
                    "CKV_AWS_116",
                    "CDK's own custom-resource handler; CloudFormation reports its "
                    "failure on the stack event, there is no asynchronous event to keep.",
                ),
                (
                    "CKV_AWS_117",
                    "CDK's own custom-resource handler calls only the EC2 API; it "
                    "needs no VPC, and an isolated VPC has no route to that API.",
                ),
            ):
                skip_check(handler, check_id, reason)

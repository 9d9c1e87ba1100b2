"""The runner function's execution role: what Lambda needs to run it, and nothing to log in.

Network-interface, log and failure-destination permissions are inline in the role, so they
exist before the function and outlive it on delete (Lambda needs them to remove its ENIs). The
login permission (a secret, or `rds-db:connect`) is `RunnerPermissions`, attached by the stack.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.checkov_skips import skip_check
from infra.components.alarm_topic import AlarmTopic
from infra.nag import acknowledge

# What AWSLambdaVPCAccessExecutionRole grants for the function's network interfaces. These
# actions take no resource-level scoping that Lambda's service checks accept, hence "*". The
# same actions are denied to the function's own code (AWS's documented pattern: Lambda's
# service calls carry no `lambda:SourceFunctionArn`, calls made with the role's credentials
# from inside the function do), so the code cannot create or delete network interfaces.
VPC_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


class RunnerExecutionRole(iam.Role):
    """Network interfaces (not from the function's own code), its log group, and publishing
    dropped asynchronous events to the alarm topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_arn: str,
        log_group: logs.ILogGroup,
        on_failure_topic: AlarmTopic | None = None,
    ) -> None:
        inline_policies: dict[str, iam.PolicyDocument] = {}
        if on_failure_topic is not None:
            inline_policies["PublishDroppedEvents"] = iam.PolicyDocument(
                statements=on_failure_topic.publish_statements()
            )
        inline_policies["VpcNetworkInterfaces"] = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(actions=list(VPC_ENI_ACTIONS), resources=["*"]),
                iam.PolicyStatement(
                    sid="NotFromTheFunctionsOwnCode",
                    effect=iam.Effect.DENY,
                    actions=list(VPC_ENI_ACTIONS),
                    resources=["*"],
                    conditions={"ArnEquals": {"lambda:SourceFunctionArn": function_arn}},
                ),
            ]
        )
        inline_policies["WriteLogs"] = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                )
            ]
        )
        super().__init__(
            scope,
            construct_id,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Execution role of the aurora-migrations runner",
            inline_policies=inline_policies,
        )
        acknowledge(
            self.node.default_child or self,
            "AwsSolutions-IAM5[Resource::*]",
            "Inline policy VpcNetworkInterfaces: the EC2 network-interface actions of "
            "AWSLambdaVPCAccessExecutionRole, which Lambda requires on Resource '*' to attach "
            "the function to its VPC subnets.",
        )
        skip_check(
            self,
            "CKV_AWS_111",
            "The write actions on * are the EC2 network-interface actions Lambda needs to "
            "attach the function to its subnets (no resource scoping); the function's own code "
            "is denied them (lambda:SourceFunctionArn).",
        )

    def acknowledge_tracing_policy(self) -> None:
        """Once the function exists: CDK's policy for active tracing needs `*`."""
        default_policy = self.node.try_find_child("DefaultPolicy")
        if default_policy is not None:
            acknowledge(
                default_policy,
                "AwsSolutions-IAM5[Resource::*]",
                "Added by CDK for active tracing: xray:PutTraceSegments and "
                "xray:PutTelemetryRecords support no resource-level permissions.",
            )

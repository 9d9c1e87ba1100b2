"""An optional CloudTrail trail of who invoked the runner: Lambda `Invoke` data events.

`Invoke` is a CloudTrail *data* event, off by default, so without a trail nobody can tell who
started a run. This trail records only `Invoke` calls of this one function (no management
events, one region), to an S3 bucket and to a CloudWatch log group, where a Logs Insights
query can join an event (`requestID`) to the runner's log lines and history rows of the same
request (`request_id`).

CloudTrail may write to the bucket and the log group only for this trail (`aws:SourceArn`),
so no other trail, of this account or another, can use them. The bucket and the log group are
kept when the stack is deleted: they are the audit trail. The log group keeps the
environment's log retention; the bucket keeps everything until a lifecycle rule says
otherwise.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.checkov_skips import skip_check
from infra.nag import acknowledge


class InvokeTrail(Construct):
    """The trail, its bucket and its log group."""

    trail: cloudtrail.CfnTrail
    bucket: s3.Bucket
    log_group: logs.LogGroup

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        trail_name: str,
        retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        trail_arn = stack.format_arn(
            service="cloudtrail", resource="trail", resource_name=trail_name
        )
        only_this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
        cloudtrail_principal = iam.ServicePrincipal("cloudtrail.amazonaws.com")

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,  # an overwritten or deleted log file stays recoverable
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailAclCheckForThisTrailOnly",
                principals=[cloudtrail_principal],
                actions=["s3:GetBucketAcl"],
                resources=[self.bucket.bucket_arn],
                conditions=only_this_trail,
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailWriteForThisTrailOnly",
                principals=[cloudtrail_principal],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"AWSLogs/{cdk.Aws.ACCOUNT_ID}/*")],
                conditions={
                    "StringEquals": {
                        "s3:x-amz-acl": "bucket-owner-full-control",
                        "aws:SourceArn": trail_arn,
                    }
                },
            )
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "The bucket only receives this trail's log files, which CloudTrail log file "
            "validation makes tamper-evident; server access logs would need a second bucket.",
        )
        skip_check(
            self.bucket,
            "CKV_AWS_18",
            "The bucket only receives this trail's log files, which CloudTrail log file "
            "validation makes tamper-evident; server access logs would need a second bucket.",
        )

        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=retention, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        role = iam.Role(
            self,
            "LogsRole",
            assumed_by=iam.ServicePrincipal("cloudtrail.amazonaws.com", conditions=only_this_trail),
            description="Lets the aurora-migrations invoke trail write to its log group",
            inline_policies={
                "WriteTrailLogs": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[self.log_group.log_group_arn],
                        )
                    ]
                )
            },
        )

        self.trail = cloudtrail.CfnTrail(
            self,
            "Trail",
            trail_name=trail_name,
            is_logging=True,
            s3_bucket_name=self.bucket.bucket_name,
            is_multi_region_trail=False,
            include_global_service_events=False,
            enable_log_file_validation=True,
            cloud_watch_logs_log_group_arn=self.log_group.log_group_arn,
            cloud_watch_logs_role_arn=role.role_arn,
            advanced_event_selectors=[
                cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
                    name="Invoke of the aurora-migrations runner",
                    field_selectors=[
                        cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(
                            field="eventCategory", equal_to=["Data"]
                        ),
                        cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(
                            field="resources.type", equal_to=["AWS::Lambda::Function"]
                        ),
                        cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(
                            field="resources.ARN", equal_to=[function.function_arn]
                        ),
                    ],
                )
            ],
        )
        # CloudTrail checks that it may write before it creates the trail.
        if self.bucket.policy is not None:
            self.trail.node.add_dependency(self.bucket.policy)
        self.trail.node.add_dependency(role)
        skip_check(
            self.trail,
            "CKV_AWS_35",
            "The trail records only Invoke events of one function (who invoked, the request "
            "id; no payload), kept in an SSE-S3 bucket that only this trail may write.",
        )
        skip_check(
            self.trail,
            "CKV_AWS_67",
            "Deliberately one region: it records one function's Invoke events, not the "
            "account's activity, which is the account trail's job.",
        )
        skip_check(
            self.log_group,
            "CKV_AWS_158",
            "Invoke events of one function (no payload), encrypted at rest by CloudWatch Logs "
            "with an AWS-owned key.",
        )

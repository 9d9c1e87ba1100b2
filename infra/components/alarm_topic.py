"""The KMS-encrypted SNS topic that the alarms and the function's dropped async events notify.

It has its own key because CloudWatch must be allowed to use it, which the AWS-managed SNS key
does not allow. CloudWatch may publish and use the key only for alarms of this account and
region (`aws:SourceAccount`, `aws:SourceArn`), so no other account's alarm can use it (the
confused deputy). A role that publishes here (the runner's, for its on-failure destination)
gets `publish_statements()`: the topic, and the key only through SNS.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class AlarmTopic(Construct):
    """Topic, key and (optionally) an e-mail subscription."""

    topic: sns.Topic
    key: kms.Key

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_email: str | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        alarms_of_this_account = {
            "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
            "ArnLike": {
                "aws:SourceArn": cdk.Stack.of(self).format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name="*",
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            },
        }
        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the aurora-migrations alarm topic",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions=alarms_of_this_account,
            )
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name="aurora-migrations alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=alarms_of_this_account,
            )
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

    def publish_statements(self) -> list[iam.PolicyStatement]:
        """sns:Publish on the topic, and its key for SNS's envelope encryption only via SNS."""
        return [
            iam.PolicyStatement(
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
            ),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"sns.{cdk.Stack.of(self).region}.amazonaws.com"
                    }
                },
            ),
        ]

"""MigrationsMonitoring and AlarmTopic: alarms on errors, slow runs and failed migrations,
the encrypted topic they notify, and the dashboard."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template
from infra_testkit import dashboard_widgets, logical_id_of, nag_findings, new_stack, resources_of

from infra.components.alarm_topic import AlarmTopic
from infra.components.monitoring import MigrationsMonitoring


def build(*, alarm_email: str | None = None) -> cdk.Stack:
    stack: cdk.Stack = new_stack()
    function = lambda_.Function.from_function_arn(
        stack, "Runner", "arn:aws:lambda:eu-west-1:111122223333:function:aurora-migrations-test"
    )
    MigrationsMonitoring(
        stack,
        "Monitoring",
        function=function,
        timeout=cdk.Duration.minutes(10),
        alarm_topic=AlarmTopic(stack, "Alarms", alarm_email=alarm_email).topic,
        dashboard_name="aurora-migrations-test-migration-status",
    )
    return stack


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    return build()


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


FUNCTION_DIMENSION = [{"Name": "FunctionName", "Value": "aurora-migrations-test"}]


def test_alarms_on_any_function_error_in_five_minutes(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": FUNCTION_DIMENSION,
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
        },
    )


def test_alarms_when_a_run_takes_more_than_80_percent_of_the_timeout(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Duration",
            "Dimensions": FUNCTION_DIMENSION,
            "Statistic": "Maximum",
            "Period": 300,
            "Threshold": 480_000,  # ms: 80% of 10 minutes
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )


def test_alarms_on_failures_the_runner_reports(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AuroraMigrations",
            "MetricName": "MigrationFailures",
            "Dimensions": [{"Name": "service", "Value": "aurora-migrations"}],
            "Statistic": "Sum",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )


def test_every_alarm_notifies_the_encrypted_alarm_topic(template: Template) -> None:
    topic = logical_id_of(template, "AWS::SNS::Topic")
    key = logical_id_of(template, "AWS::KMS::Key")
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 3
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
    template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}}
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


ALARMS_OF_THIS_ACCOUNT = {
    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    "ArnLike": {
        "aws:SourceArn": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":cloudwatch:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":alarm:*",
                ],
            ]
        }
    },
}


def test_cloudwatch_may_publish_and_use_the_key_only_for_this_accounts_alarms(
    template: Template,
) -> None:
    cloudwatch = {"Service": "cloudwatch.amazonaws.com"}
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sns:Publish",
                                "Effect": "Allow",
                                "Principal": cloudwatch,
                                "Condition": ALARMS_OF_THIS_ACCOUNT,
                            }
                        )
                    ]
                )
            }
        },
    )
    key_policy = resources_of(template, "AWS::KMS::Key")[0]["Properties"]["KeyPolicy"]
    for_cloudwatch = [s for s in key_policy["Statement"] if s.get("Principal") == cloudwatch]
    assert for_cloudwatch == [
        {
            "Sid": "AllowCloudWatchAlarmsToPublish",
            "Effect": "Allow",
            "Principal": cloudwatch,
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": ALARMS_OF_THIS_ACCOUNT,
        }
    ]


def test_dashboard_shows_invocations_errors_duration_and_runner_metrics(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Dashboard",
        {"DashboardName": "aurora-migrations-test-migration-status"},
    )
    widgets = dashboard_widgets(template)
    graphed = {
        (metric[0], metric[1], tuple(metric[2:-1] if isinstance(metric[-1], dict) else metric[2:]))
        for widget in widgets
        for metric in widget["properties"].get("metrics", [])
    }
    lambda_dims = ("FunctionName", "aurora-migrations-test")
    for name in ("Invocations", "Errors", "Duration", "Throttles", "AsyncEventsDropped"):
        assert ("AWS/Lambda", name, lambda_dims) in graphed, name
    runner_dims = ("service", "aurora-migrations")
    for name in ("RevisionsApplied", "MigrationFailures", "RequestsRefused", "LockWaitMs"):
        assert ("AuroraMigrations", name, runner_dims) in graphed, name
    texts = [w["properties"]["markdown"] for w in widgets if w["type"] == "text"]
    assert any(text.startswith("# Migration status") for text in texts)
    alarm_widgets = [w for w in widgets if "alarms" in w["properties"]]
    assert len(alarm_widgets) == 1
    assert len(alarm_widgets[0]["properties"]["alarms"]) == 3


def test_no_email_subscription_unless_asked(template: Template) -> None:
    template.resource_count_is("AWS::SNS::Subscription", 0)


def test_subscribes_the_alarm_email() -> None:
    template = Template.from_stack(build(alarm_email="dba@example.com"))
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "dba@example.com"}
    )


def test_is_nag_clean(stack: cdk.Stack) -> None:
    assert nag_findings(stack) == []


def test_a_publisher_gets_the_topic_and_the_key_only_through_sns() -> None:
    stack = new_stack()
    alarms = AlarmTopic(stack, "Alarms")
    statements = [stack.resolve(s.to_statement_json()) for s in alarms.publish_statements()]
    topic = stack.resolve(alarms.topic.topic_arn)
    key = stack.resolve(alarms.key.key_arn)
    assert statements == [
        {"Action": "sns:Publish", "Effect": "Allow", "Resource": topic},
        {
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Effect": "Allow",
            "Resource": key,
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": {
                        "Fn::Join": ["", ["sns.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]
                    }
                }
            },
        },
    ]

"""InvokeTrail: who invoked the runner, as CloudTrail data events of this one function."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from infra_testkit import nag_findings, new_stack, only_resource, resources_of

from infra.components.invoke_trail import InvokeTrail

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:111122223333:function:aurora-migrations-test"
TRAIL_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":cloudtrail:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":trail/aurora-migrations-test-invokes",
        ],
    ]
}


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    stack: cdk.Stack = new_stack()
    InvokeTrail(
        stack,
        "InvokeTrail",
        function=lambda_.Function.from_function_arn(stack, "Runner", FUNCTION_ARN),
        trail_name="aurora-migrations-test-invokes",
        retention=logs.RetentionDays.ONE_YEAR,
    )
    return stack


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


def test_records_only_invoke_data_events_of_this_function(template: Template) -> None:
    trail = only_resource(template, "AWS::CloudTrail::Trail")["Properties"]
    assert "EventSelectors" not in trail  # no management events either
    assert trail["AdvancedEventSelectors"] == [
        {
            "Name": "Invoke of the aurora-migrations runner",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::Lambda::Function"]},
                {"Field": "resources.ARN", "Equals": [FUNCTION_ARN]},
            ],
        }
    ]
    assert trail["IsMultiRegionTrail"] is False
    assert trail["EnableLogFileValidation"] is True
    assert trail["IsLogging"] is True


def test_logs_to_a_kept_log_group_and_a_private_bucket(template: Template) -> None:
    template.has_resource(
        "AWS::Logs::LogGroup",
        {"DeletionPolicy": "Retain", "Properties": {"RetentionInDays": 365}},
    )
    template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            }
        },
    )


def test_cloudtrail_may_write_only_for_this_trail(template: Template) -> None:
    """Without aws:SourceArn, any trail (of any account) could write into the bucket."""
    policy = only_resource(template, "AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]
    for_cloudtrail = [
        s
        for s in policy["Statement"]
        if s.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}
    ]
    assert {s["Action"] for s in for_cloudtrail} == {"s3:GetBucketAcl", "s3:PutObject"}
    for statement in for_cloudtrail:
        assert statement["Condition"]["StringEquals"]["aws:SourceArn"] == TRAIL_ARN
    role = only_resource(template, "AWS::IAM::Role")["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceArn": TRAIL_ARN}
    }


def test_the_trail_waits_for_its_bucket_policy_and_role(template: Template) -> None:
    trail = only_resource(template, "AWS::CloudTrail::Trail")
    policy = next(iter(template.find_resources("AWS::S3::BucketPolicy")))
    role = next(iter(template.find_resources("AWS::IAM::Role")))
    assert {policy, role} <= set(trail["DependsOn"])


def test_is_nag_clean_with_its_acknowledgement(stack: cdk.Stack, template: Template) -> None:
    assert nag_findings(stack) == []
    assert len(resources_of(template, "AWS::S3::Bucket")) == 1

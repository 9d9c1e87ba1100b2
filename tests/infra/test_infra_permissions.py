"""RunnerPermissions: the one secret and its key if customer-managed, or one database user."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from infra_testkit import KEY_ARN, SECRET_ARN, imported_secret, nag_findings, new_stack

from infra.components.permissions import IamDatabaseAuth, RunnerPermissions

READ_SECRET = {
    "Sid": "ReadDatabaseSecret",
    "Action": "secretsmanager:GetSecretValue",
    "Effect": "Allow",
    "Resource": SECRET_ARN,
}
DECRYPT_SECRET = {
    "Sid": "DecryptDatabaseSecret",
    "Action": "kms:Decrypt",
    "Effect": "Allow",
    "Resource": KEY_ARN,
    "Condition": {
        "StringEquals": {
            "kms:ViaService": {
                "Fn::Join": ["", ["secretsmanager.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]
            }
        }
    },
}
CONNECT_AS_MIGRATOR = {
    "Sid": "ConnectAsMigrationUser",
    "Action": "rds-db:connect",
    "Effect": "Allow",
    "Resource": {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":rds-db:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":dbuser:cluster-ABCDEFGHIJKLMNOP/migrator",
            ],
        ]
    },
}


MIGRATOR = IamDatabaseAuth(db_user="migrator", cluster_resource_id="cluster-ABCDEFGHIJKLMNOP")


def build(*, with_secret: bool, with_key: bool, iam_auth: IamDatabaseAuth | None) -> cdk.Stack:
    stack: cdk.Stack = new_stack()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    RunnerPermissions(
        stack,
        "Permissions",
        role=role,
        secret=imported_secret(stack, with_key=with_key) if with_secret else None,
        iam_auth=iam_auth,
    )
    return stack


def statements(template: Template) -> list[dict[str, Any]]:
    policies = list(template.find_resources("AWS::IAM::Policy").values())
    assert len(policies) == 1
    result: list[dict[str, Any]] = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    return result


@pytest.mark.parametrize(
    ("with_secret", "with_key", "iam_auth", "expected"),
    [
        pytest.param(True, False, None, [READ_SECRET], id="secret-only"),
        pytest.param(True, True, None, [READ_SECRET, DECRYPT_SECRET], id="customer-managed-key"),
        pytest.param(False, False, MIGRATOR, [CONNECT_AS_MIGRATOR], id="iam-auth-no-secret"),
    ],
)
def test_policy_names_exactly_the_secret_and_its_key_or_the_database_user(
    with_secret: bool,
    with_key: bool,
    iam_auth: IamDatabaseAuth | None,
    expected: list[dict[str, Any]],
) -> None:
    stack = build(with_secret=with_secret, with_key=with_key, iam_auth=iam_auth)
    template = Template.from_stack(stack)
    assert statements(template) == expected
    role = next(iter(template.find_resources("AWS::IAM::Role")))
    template.has_resource_properties("AWS::IAM::Policy", {"Roles": [{"Ref": role}]})
    assert nag_findings(stack) == []


@pytest.mark.parametrize(
    ("with_secret", "iam_auth"),
    [(True, MIGRATOR), (False, None)],
    ids=["secret-and-iam-auth", "neither"],
)
def test_refuses_both_logins_or_none(with_secret: bool, iam_auth: IamDatabaseAuth | None) -> None:
    with pytest.raises(ValueError, match="exactly one of secret"):
        build(with_secret=with_secret, with_key=False, iam_auth=iam_auth)

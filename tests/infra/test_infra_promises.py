"""The stack's own promises, checked over every environment's synthesized templates.

Each test states one finding of the security review of the templates as the invariant that
fixes it, and holds for every context in `infra_testkit.CONTEXTS` (sandbox and existing
clusters, password and IAM auth, new and existing Secrets Manager endpoints).
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template
from infra_testkit import (
    Synthesized,
    as_list,
    iter_policy_statements,
    only_resource,
    resources_of,
)

# The contexts whose runner stack creates its own Secrets Manager endpoint (the sandbox runner
# logs in with IAM auth, so it has none).
CREATES_AN_ENDPOINT = {"staging-existing-secret"}
THIS_ACCOUNT = {"Ref": "AWS::AccountId"}


def runner_template(synthesized: Synthesized) -> Template:
    return Template.from_stack(synthesized.stacks.runner)


def function_properties(synthesized: Synthesized) -> dict[str, Any]:
    function = only_resource(runner_template(synthesized), "AWS::Lambda::Function")
    properties: dict[str, Any] = function["Properties"]
    return properties


def variables(synthesized: Synthesized) -> dict[str, Any]:
    result: dict[str, Any] = function_properties(synthesized)["Environment"]["Variables"]
    return result


def endpoints(synthesized: Synthesized) -> list[dict[str, Any]]:
    return [
        endpoint
        for template in synthesized.templates()
        for endpoint in resources_of(template, "AWS::EC2::VPCEndpoint")
    ]


def test_the_secrets_manager_endpoint_only_lets_this_account_read_the_runner_secret(
    synthesized: Synthesized,
) -> None:
    """Without a policy, code in the VPC could use the endpoint with other credentials, e.g. to
    PutSecretValue to another account's secret: the endpoint is the only way out of the VPC."""
    found = endpoints(synthesized)
    assert len(found) == (1 if synthesized.name in CREATES_AN_ENDPOINT else 0)
    for endpoint in found:
        assert endpoint["Properties"]["PolicyDocument"]["Statement"] == [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": variables(synthesized)["DB_SECRET_ARN"],
                "Condition": {"StringEquals": {"aws:PrincipalAccount": THIS_ACCOUNT}},
            }
        ]


def test_an_endpoint_without_private_dns_is_named_to_the_runner(
    synthesized: Synthesized,
) -> None:
    """Private DNS is a choice; without it the runner must be told the endpoint's own name."""
    env = variables(synthesized)
    for endpoint in endpoints(synthesized):
        private_dns = endpoint["Properties"]["PrivateDnsEnabled"]
        assert isinstance(private_dns, bool)
        assert ("AWS_ENDPOINT_URL_SECRETS_MANAGER" in env) is (not private_dns)
    if not endpoints(synthesized):
        assert "AWS_ENDPOINT_URL_SECRETS_MANAGER" not in env


def test_with_iam_auth_no_secret_is_passed_granted_or_reachable(
    synthesized: Synthesized,
) -> None:
    env = variables(synthesized)
    template = runner_template(synthesized)
    granted = {
        action
        for statement in iter_policy_statements(template)
        for action in as_list(statement["Action"])
    }
    if env["DB_IAM_AUTH"] != "true":
        assert "DB_SECRET_ARN" in env
        assert "secretsmanager:GetSecretValue" in granted
        return
    assert "DB_SECRET_ARN" not in env
    assert {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER"} <= set(env)
    assert "rds-db:connect" in granted
    # No Secrets Manager action, and no key used through Secrets Manager.
    assert "secretsmanager" not in json.dumps(list(iter_policy_statements(template)))
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    https_egress = [
        rule
        for rule in resources_of(template, "AWS::EC2::SecurityGroupEgress")
        if rule["Properties"].get("FromPort") == 443
    ]
    assert https_egress == []


RESOURCE_POLICIES = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
}


def test_services_act_only_on_behalf_of_this_account(synthesized: Synthesized) -> None:
    """A resource policy that allows a service principal without a condition on the account
    (or a resource of it) lets that service act for anyone: the confused deputy."""
    service_statements = [
        statement
        for template in synthesized.templates()
        for resource_type, document in RESOURCE_POLICIES.items()
        for resource in resources_of(template, resource_type)
        for statement in resource["Properties"][document]["Statement"]
        if statement["Effect"] == "Allow" and "Service" in statement.get("Principal", {})
    ]
    assert service_statements  # at least CloudWatch on the alarm topic and its key
    for statement in service_statements:
        assert THIS_ACCOUNT in _leaves(statement.get("Condition", {})), statement


def _leaves(value: Any) -> list[Any]:
    """The values under a condition block, with `{"Ref": "AWS::AccountId"}` kept whole."""
    if value == THIS_ACCOUNT:
        return [value]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_log_levels_are_pinned_so_a_console_change_cannot_turn_on_debug(
    synthesized: Synthesized,
) -> None:
    logging = function_properties(synthesized)["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == "INFO"
    assert logging["SystemLogLevel"] == "WARN"


def test_a_throttled_async_invoke_expires_in_a_minute_and_is_published_when_dropped(
    synthesized: Synthesized,
) -> None:
    """With reserved concurrency 1, a queued `downgrade` could otherwise run 6 hours later."""
    template = runner_template(synthesized)
    config = only_resource(template, "AWS::Lambda::EventInvokeConfig")["Properties"]
    assert config["MaximumEventAgeInSeconds"] == 60
    assert config["MaximumRetryAttempts"] == 0
    topic = only_resource(template, "AWS::SNS::Topic")["Properties"]
    assert "KmsMasterKeyId" in topic
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Ref": next(iter(template.find_resources("AWS::SNS::Topic")))}


def test_no_secret_of_ours_goes_unrotated(synthesized: Synthesized) -> None:
    """The sandbox's master password is RDS-managed (rotated, deleted with the cluster); the
    stacks create no Secrets Manager secret of their own."""
    for template in synthesized.templates():
        template.resource_count_is("AWS::SecretsManager::Secret", 0)
        for cluster in resources_of(template, "AWS::RDS::DBCluster"):
            assert cluster["Properties"]["ManageMasterUserPassword"] is True
            assert "MasterUserPassword" not in cluster["Properties"]


def test_prod_keeps_its_audit_logs_a_year_and_encrypts_postgresql_logs_with_its_own_key(
    synthesized: Synthesized,
) -> None:
    """Security Hub CloudWatch.16: at least 365 days for the runner's and PostgreSQL's logs."""
    runner_log_group = function_properties(synthesized)["LoggingConfig"]["LogGroup"]["Ref"]
    runner_days = runner_template(synthesized).to_json()["Resources"][runner_log_group][
        "Properties"
    ]["RetentionInDays"]
    postgresql = [
        group["Properties"]
        for template in synthesized.templates()
        for group in resources_of(template, "AWS::Logs::LogGroup")
        if str(group["Properties"].get("LogGroupName", "")).endswith("/postgresql")
    ]
    assert len(postgresql) == (0 if synthesized.stacks.database is None else 1)
    if synthesized.stacks.settings.name != "prod":
        assert runner_days < 365
        return
    assert runner_days >= 365
    for group in postgresql:
        assert group["RetentionInDays"] >= 365
        assert "KmsKeyId" in group


def test_the_functions_own_code_cannot_use_its_network_interface_permissions(
    synthesized: Synthesized,
) -> None:
    """The role allows the ENI actions on "*" (Lambda needs them); a Deny conditioned on
    lambda:SourceFunctionArn keeps the function's code from using them."""
    template = runner_template(synthesized)
    name = function_properties(synthesized)["FunctionName"]
    statements = list(iter_policy_statements(template))
    allowed = [
        s
        for s in statements
        if s["Effect"] == "Allow" and "ec2:CreateNetworkInterface" in as_list(s["Action"])
    ]
    denied = [
        s
        for s in statements
        if s["Effect"] == "Deny" and "ec2:CreateNetworkInterface" in as_list(s["Action"])
    ]
    assert len(allowed) == len(denied) == 1
    assert set(as_list(denied[0]["Action"])) == set(as_list(allowed[0]["Action"]))
    arn = denied[0]["Condition"]["ArnEquals"]["lambda:SourceFunctionArn"]
    assert arn["Fn::Join"][1][-1] == f":function:{name}"


def test_the_sandbox_runner_never_gets_the_master_secret(synthesized: Synthesized) -> None:
    """The sandbox runner logs in as the migration user with IAM auth; the RDS-managed master
    secret is for creating that user once, not for the function."""
    if synthesized.stacks.database is None:
        return
    env = variables(synthesized)
    assert env["DB_IAM_AUTH"] == "true"
    assert env["DB_USER"] == "migrator"
    runner = json.dumps(runner_template(synthesized).to_json())
    assert "MasterUserSecret" not in runner
    assert "secretsmanager" not in runner
    connect = [
        statement
        for statement in iter_policy_statements(runner_template(synthesized))
        if statement["Action"] == "rds-db:connect"
    ]
    assert len(connect) == 1
    assert json.dumps(connect[0]["Resource"]).endswith('"/migrator"]]}')

"""Helpers for the infra tests: bare stacks with bundling skipped, imported resources, lint."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import cx_api
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.application import EnvironmentStacks, build

# Skips asset bundling for every stack (as `cdk synth --exclusively` does for the stacks it
# does not select): the code asset becomes a placeholder and no build runs.
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}

AZS = ["eu-west-1a", "eu-west-1b"]
SUBNET_IDS = ["subnet-0aaa1111", "subnet-0bbb2222"]
VPC_CIDR = "10.99.0.0/16"
DB_SG_ID = "sg-0db0000000000000d"
ENDPOINT_SG_ID = "sg-0e00000000000000e"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:aurora/master-AbCdEf"
KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

SIGNING_PROFILE = (
    "arn:aws:signer:eu-west-1:111122223333:/signing-profiles/aurora_migrations/a1b2c3d4e5"
)
DB_HOST = "aurora.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com"
IAM_AUTH_CONTEXT = {"dbUser": "migrator", "clusterResourceId": "cluster-ABCDEFGHIJKLMNOP"}

# An existing cluster as an operator would describe it in cdk.json: where it is...
EXISTING_NETWORK: dict[str, Any] = {
    "vpcId": "vpc-0123456789abcdef0",
    "availabilityZones": AZS,
    "subnetIds": SUBNET_IDS,
    "databaseSecurityGroupId": DB_SG_ID,
}
# ...and how the runner logs in: with IAM auth (no secret at all)...
EXISTING_WITH_IAM_AUTH: dict[str, Any] = {
    **EXISTING_NETWORK,
    "iamAuth": IAM_AUTH_CONTEXT,
    "databaseHost": DB_HOST,
    "databaseName": "app",
}
# ...or with a password from a secret under a customer-managed key, read through a new
# Secrets Manager endpoint that leaves the VPC's DNS alone.
EXISTING_WITH_SECRET: dict[str, Any] = {
    **EXISTING_NETWORK,
    "databaseSecretArn": SECRET_ARN,
    "secretKmsKeyArn": KEY_ARN,
    "createSecretsManagerEndpoint": True,
    "secretsManagerEndpointPrivateDns": False,
}

# Every environment the app tests synthesize, as `--context` would give it.
CONTEXTS: dict[str, dict[str, Any]] = {
    "dev": {"env": "dev"},
    "staging": {"env": "staging"},
    "prod": {"env": "prod", "alarmEmail": "dba@example.com", "invokeTrail": True},
    "prod-existing-iam-auth": {"env": "prod", "existingDatabase": {"prod": EXISTING_WITH_IAM_AUTH}},
    "staging-existing-secret": {
        "env": "staging",
        "existingDatabase": {"staging": EXISTING_WITH_SECRET},
        "codeSigningProfileArn": SIGNING_PROFILE,
    },
    # A VPC that already has a Secrets Manager endpoint, given as a JSON string on the CLI,
    # and a secret without "dbname" (as RDS attaches them), so the database is named here.
    "dev-existing-endpoint": {
        "env": "dev",
        "existingDatabase": json.dumps(
            {
                "dev": {
                    **EXISTING_NETWORK,
                    "databaseSecretArn": SECRET_ARN,
                    "databaseName": "app",
                    "createSecretsManagerEndpoint": False,
                    "secretsManagerEndpointSecurityGroupId": ENDPOINT_SG_ID,
                }
            }
        ),
    },
}


def new_stack(context: Mapping[str, Any] | None = None) -> cdk.Stack:
    """A bare, environment-agnostic stack in its own app, with bundling skipped."""
    app = cdk.App(context={**NO_BUNDLING, **(context or {})})
    return cdk.Stack(app, "Test")


def imported_vpc(scope: cdk.Stack) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(
        scope,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=AZS,
        isolated_subnet_ids=SUBNET_IDS,
        vpc_cidr_block=VPC_CIDR,
    )


def imported_database_sg(scope: cdk.Stack) -> ec2.ISecurityGroup:
    return ec2.SecurityGroup.from_security_group_id(scope, "DatabaseSg", DB_SG_ID)


def imported_secret(scope: cdk.Stack, *, with_key: bool = False) -> secretsmanager.ISecret:
    key = kms.Key.from_key_arn(scope, "SecretKey", KEY_ARN) if with_key else None
    return secretsmanager.Secret.from_secret_attributes(
        scope, "Secret", secret_complete_arn=SECRET_ARN, encryption_key=key
    )


def nag_findings(stack: cdk.Stack) -> list[str]:
    """Unacknowledged AWS Solutions findings in `stack`, as "rule at path" lines."""
    report = AwsSolutionsChecks().validate_scope(stack)
    return [
        f"{violation.rule_name} at {resource.construct_path}: {violation.description}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def resources_of(template: Template, resource_type: str) -> list[dict[str, Any]]:
    return [dict(resource) for resource in template.find_resources(resource_type).values()]


def only_resource(template: Template, resource_type: str) -> dict[str, Any]:
    found = resources_of(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return found[0]


def logical_id_of(template: Template, resource_type: str) -> str:
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return next(iter(found))


def iter_policy_statements(template: Template) -> Iterator[dict[str, Any]]:
    """Every statement of every identity policy (AWS::IAM::Policy and inline role policies)."""
    for policy in resources_of(template, "AWS::IAM::Policy"):
        yield from policy["Properties"]["PolicyDocument"]["Statement"]
    for role in resources_of(template, "AWS::IAM::Role"):
        for inline in role["Properties"].get("Policies", []):
            yield from inline["PolicyDocument"]["Statement"]


def dashboard_widgets(template: Template) -> list[dict[str, Any]]:
    """The (one) dashboard's body as JSON, with CloudFormation tokens (the region) blanked out."""
    body = only_resource(template, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"]
    if isinstance(body, dict):
        body = "".join(part if isinstance(part, str) else "TOKEN" for part in body["Fn::Join"][1])
    widgets: list[dict[str, Any]] = json.loads(body)["widgets"]
    return widgets


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


LINT_REGIONS = ["us-east-1", "eu-west-1"]


def cfn_lint_errors(template_path: Path) -> list[str]:
    """cfn-lint errors (not warnings) in a synthesized template, checked in two regions."""
    from cfnlint.api import ManualArgs, lint

    matches = lint(template_path.read_text(), config=ManualArgs(regions=LINT_REGIONS))
    return [
        f"{match.rule.id} {match.message} ({template_path.name}:{match.linenumber})"
        for match in matches
        if match.rule.id.startswith("E")
    ]


def template_json(template: Template) -> str:
    return json.dumps(template.to_json())


@dataclass(frozen=True)
class Synthesized:
    """One environment's app, synthesized (cdk-nag ran) into `outdir`."""

    name: str
    stacks: EnvironmentStacks
    assembly: cx_api.CloudAssembly
    outdir: Path

    def templates(self) -> list[Template]:
        return [Template.from_stack(stack) for stack in self.all_stacks()]

    def all_stacks(self) -> list[cdk.Stack]:
        return [s for s in (self.stacks.runner, self.stacks.database) if s is not None]


def synthesize(name: str, outdir: Path) -> Synthesized:
    app = cdk.App(context={**NO_BUNDLING, **CONTEXTS[name]}, outdir=str(outdir))
    stacks = build(app)
    assembly = app.synth()  # cdk-nag runs here and raises on any unacknowledged finding
    return Synthesized(name=name, stacks=stacks, assembly=assembly, outdir=outdir)


def checkov_failures(template_path: Path) -> list[str]:
    """checkov findings (neither fixed nor skipped on the resource) in a synthesized template."""
    from checkov.cloudformation.runner import Runner
    from checkov.runner_filter import RunnerFilter

    result = Runner().run(
        root_folder=None,
        files=[str(template_path)],
        runner_filter=RunnerFilter(framework=["cloudformation"]),
    )
    reports = result if isinstance(result, list) else [result]
    return [
        f"{check.check_id} ({check.check_name}) at {check.resource} in {template_path.name}"
        for report in reports
        for check in report.failed_checks
    ]

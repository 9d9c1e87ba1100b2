"""The whole app per environment: it synthesizes offline, passes cdk-nag and cfn-lint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from infra_testkit import (
    CONTEXTS,
    EXISTING_NETWORK,
    EXISTING_WITH_IAM_AUTH,
    EXISTING_WITH_SECRET,
    NO_BUNDLING,
    SECRET_ARN,
    Synthesized,
    cfn_lint_errors,
    checkov_failures,
    nag_findings,
)

from infra.application import build
from infra.context_args import context_from_args, project_context
from infra.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_synth_passes_cdk_nag(synthesized: Synthesized) -> None:
    report_file = synthesized.outdir / "validation-report.json"
    if report_file.exists():
        report = json.loads(report_file.read_text())
        violations = [
            violation
            for plugin in report.get("pluginReports", [])
            for violation in plugin.get("violations", [])
        ]
        assert violations == []
    for stack in (synthesized.stacks.runner, synthesized.stacks.database):
        if stack is not None:
            assert nag_findings(stack) == [], stack.stack_name


def test_every_template_passes_cfn_lint(synthesized: Synthesized) -> None:
    templates = [Path(stack.template_full_path) for stack in synthesized.assembly.stacks]
    assert templates
    errors = [error for template in templates for error in cfn_lint_errors(template)]
    assert errors == []


def test_every_template_passes_checkov(synthesized: Synthesized) -> None:
    """The independent check: every remaining finding is skipped on its resource, with why."""
    templates = [Path(stack.template_full_path) for stack in synthesized.assembly.stacks]
    assert [failure for template in templates for failure in checkov_failures(template)] == []


def test_every_checkov_skip_has_a_reason_and_is_listed_in_the_readme(
    synthesized: Synthesized,
) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    for template in synthesized.templates():
        for resource in template.to_json()["Resources"].values():
            for entry in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert len(entry["comment"].split()) >= 5, entry
                assert f"`{entry['id']}`" in readme, f"{entry['id']} is not in the README"


def test_stacks_are_named_per_environment_and_environment_agnostic(
    synthesized: Synthesized,
) -> None:
    env = synthesized.stacks.settings.name
    names = {stack.stack_name for stack in synthesized.assembly.stacks}
    expected = {f"AuroraMigrations-{env}-Runner"}
    if synthesized.stacks.database is not None:
        expected.add(f"AuroraMigrations-{env}-Database")
    assert names == expected
    for stack in synthesized.assembly.stacks:
        assert stack.environment.account == "unknown-account"
        assert stack.environment.region == "unknown-region"


def test_function_is_named_for_its_environment(synthesized: Synthesized) -> None:
    env = synthesized.stacks.settings.name
    Template.from_stack(synthesized.stacks.runner).has_resource_properties(
        "AWS::Lambda::Function", {"FunctionName": f"aurora-migrations-{env}"}
    )


def test_only_prod_is_termination_protected(synthesized: Synthesized) -> None:
    protected = synthesized.stacks.settings.name == "prod"
    for stack in synthesized.assembly.stacks:
        assert stack.termination_protection is protected


def test_existing_database_is_imported_not_created(synthesized: Synthesized) -> None:
    runner = Template.from_stack(synthesized.stacks.runner)
    runner.resource_count_is("AWS::RDS::DBCluster", 0)
    if "existing" not in synthesized.name:
        assert synthesized.stacks.database is not None
        # The attached secret has host and port but no dbname: the stack passes it.
        runner.has_resource_properties(
            "AWS::Lambda::Function",
            {"Environment": {"Variables": Match.object_like({"DB_NAME": "app"})}},
        )
        return
    assert synthesized.stacks.database is None
    if "iam-auth" not in synthesized.name:
        runner.has_resource_properties(
            "AWS::Lambda::Function",
            {"Environment": {"Variables": Match.object_like({"DB_SECRET_ARN": SECRET_ARN})}},
        )


def test_code_signing_only_when_asked(synthesized: Synthesized) -> None:
    profile = CONTEXTS[synthesized.name].get("codeSigningProfileArn")
    runner = Template.from_stack(synthesized.stacks.runner)
    runner.resource_count_is("AWS::Lambda::CodeSigningConfig", 1 if profile else 0)
    if profile:
        runner.has_resource_properties(
            "AWS::Lambda::CodeSigningConfig",
            {"AllowedPublishers": {"SigningProfileVersionArns": [profile]}},
        )


def test_the_invoke_trail_exists_only_when_asked(synthesized: Synthesized) -> None:
    asked = CONTEXTS[synthesized.name].get("invokeTrail", False)
    runner = Template.from_stack(synthesized.stacks.runner)
    runner.resource_count_is("AWS::CloudTrail::Trail", 1 if asked else 0)
    if asked:
        runner.has_output("InvokeTrailLogGroupName", {"Value": Match.any_value()})


def test_an_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    app = cdk.App(context={**NO_BUNDLING, "env": "dev"}, outdir=str(tmp_path))
    stacks = build(app)
    sns.Topic(stacks.runner, "UnencryptedTopic")  # no TLS-only topic policy
    assert any("AwsSolutions-SNS3" in finding for finding in nag_findings(stacks.runner))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "AwsSolutions-SNS3" in report
    assert "UnencryptedTopic" in report


def test_checkov_reports_findings_and_honours_a_skip(tmp_path: Path) -> None:
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {}}
    broken = tmp_path / "broken.template.json"
    broken.write_text(json.dumps({"Resources": {"Bucket": bucket}}))
    failures = checkov_failures(broken)
    assert any(failure.startswith("CKV_AWS_21 ") for failure in failures)  # no versioning
    bucket["Metadata"] = {"checkov": {"skip": [{"id": "CKV_AWS_21", "comment": "a reason"}]}}
    broken.write_text(json.dumps({"Resources": {"Bucket": bucket}}))
    assert not any(failure.startswith("CKV_AWS_21 ") for failure in checkov_failures(broken))


def test_cfn_lint_reports_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.template.json"
    broken.write_text(
        json.dumps(
            {
                "Resources": {
                    "Fn": {
                        "Type": "AWS::Lambda::Function",
                        "Properties": {"Runtime": "python3.12", "MemorySize": 1},
                    }
                }
            }
        )
    )
    assert cfn_lint_errors(broken) != []


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"env": "qa"}, "unknown environment 'qa'"),
        ({"existingDatabase": {"qa": {}}}, "unknown environments"),
        ({"existingDatabase": "{not json"}, "not valid JSON"),
        ({"invokeTrail": "yes"}, "invokeTrail must be true or false"),
        (
            {"codeSigningProfileArn": "arn:aws:signer:eu-west-1:111122223333:/signing-profiles/p"},
            "codeSigningProfileArn must be an AWS Signer profile version ARN",
        ),
        ({"existingDatabase": {"dev": {"vpcId": "vpc-1"}}}, "missing"),
        (
            {"existingDatabase": {"dev": {**EXISTING_WITH_SECRET, "subnetIds": ["subnet-1"]}}},
            "one subnet per availability zone",
        ),
        (
            {"existingDatabase": {"dev": {**EXISTING_WITH_SECRET, "vpcIdd": "typo"}}},
            "unknown \\['vpcIdd'\\]",
        ),
        (
            {"existingDatabase": {"dev": {**EXISTING_NETWORK}}},
            "give databaseSecretArn .password auth. or iamAuth",
        ),
        # With a secret, how the runner reaches Secrets Manager is the operator's choice.
        (
            {
                "existingDatabase": {
                    "dev": without(EXISTING_WITH_SECRET, "createSecretsManagerEndpoint")
                }
            },
            "set createSecretsManagerEndpoint",
        ),
        (
            {
                "existingDatabase": {
                    "dev": without(EXISTING_WITH_SECRET, "secretsManagerEndpointPrivateDns")
                }
            },
            "set secretsManagerEndpointPrivateDns",
        ),
        (
            {
                "existingDatabase": {
                    "dev": {
                        **without(EXISTING_WITH_SECRET, "secretsManagerEndpointPrivateDns"),
                        "createSecretsManagerEndpoint": False,
                    }
                }
            },
            "secretsManagerEndpointSecurityGroupId \\(preferred\\) or vpcCidrBlock",
        ),
        # With IAM auth there is no secret: the target comes from the context.
        (
            {"existingDatabase": {"dev": without(EXISTING_WITH_IAM_AUTH, "databaseHost")}},
            "iamAuth needs databaseHost",
        ),
        (
            {"existingDatabase": {"dev": without(EXISTING_WITH_IAM_AUTH, "databaseName")}},
            "iamAuth needs databaseName",
        ),
        (
            {
                "existingDatabase": {
                    "dev": {**EXISTING_WITH_IAM_AUTH, "databaseSecretArn": SECRET_ARN}
                }
            },
            "remove databaseSecretArn",
        ),
        (
            {
                "existingDatabase": {
                    "dev": {**EXISTING_WITH_IAM_AUTH, "createSecretsManagerEndpoint": True}
                }
            },
            "remove createSecretsManagerEndpoint",
        ),
    ],
)
def test_bad_context_is_refused_with_what_to_change(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build(cdk.App(context={**NO_BUNDLING, **context}))


def run_app(
    tmp_path: Path, context: dict[str, Any], *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({**NO_BUNDLING, **context}),
    }
    return subprocess.run(
        [sys.executable, "infra/app.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def stack_names(outdir: Path) -> set[str]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        name
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def test_python_infra_app_py_synthesizes_from_the_repo_root(tmp_path: Path) -> None:
    result = run_app(tmp_path, {"env": "staging"})
    assert result.returncode == 0, result.stderr
    assert stack_names(tmp_path) == {
        "AuroraMigrations-staging-Database",
        "AuroraMigrations-staging-Runner",
    }


def test_python_infra_app_py_takes_context_arguments_like_the_cdk_cli(tmp_path: Path) -> None:
    result = run_app(tmp_path, {}, "-c", "env=prod", "--context=alarmEmail=dba@example.com")
    assert result.returncode == 0, result.stderr
    assert stack_names(tmp_path) == {
        "AuroraMigrations-prod-Database",
        "AuroraMigrations-prod-Runner",
    }


def test_python_infra_app_py_reports_bad_context_and_exits_2(tmp_path: Path) -> None:
    result = run_app(tmp_path, {"env": "qa"})
    assert result.returncode == 2
    assert "FAILED: unknown environment 'qa'" in result.stderr


def test_python_infra_app_py_refuses_arguments_it_does_not_know(tmp_path: Path) -> None:
    result = run_app(tmp_path, {}, "--profile", "prod")
    assert result.returncode == 2
    assert "FAILED: unknown argument '--profile'" in result.stderr
    assert not (tmp_path / "manifest.json").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], {}),
        (["-c", "env=prod"], {"env": "prod"}),
        (["--context", "env=prod", "-c", "env=dev"], {"env": "dev"}),
        (['--context=existingDatabase={"a": 1}'], {"existingDatabase": '{"a": 1}'}),
        (["-c", "alarmEmail=a=b@example.com"], {"alarmEmail": "a=b@example.com"}),
    ],
)
def test_context_arguments_parse_as_the_cdk_cli_does(
    argv: list[str], expected: dict[str, str]
) -> None:
    assert context_from_args(argv) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-c"], "-c needs KEY=VALUE"),
        (["-c", "env"], "is not KEY=VALUE"),
        (["-c", "=prod"], "is not KEY=VALUE"),
        (["deploy"], "unknown argument 'deploy'"),
    ],
)
def test_bad_arguments_are_refused_with_the_usage(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        context_from_args(argv)


def test_run_directly_it_reads_cdk_json_then_cdk_context_json(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(
        json.dumps({"app": "x", "context": {"env": "staging", "a": 1}})
    )
    (tmp_path / "cdk.context.json").write_text(json.dumps({"a": 2}))
    assert project_context(tmp_path) == {"env": "staging", "a": 2}
    assert project_context(tmp_path / "missing") == {}

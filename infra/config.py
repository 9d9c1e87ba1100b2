"""Per-environment settings, and the CDK context keys that select and extend them.

Context keys (`--context key=value`, or the "context" object of cdk.json):

    env               dev | staging | prod; default dev.
    existingDatabase  {"<env>": {...}}: run the runner next to an existing cluster in that
                      environment instead of deploying the sandbox (keys: see
                      infra/existing_database.py). An object in cdk.json / cdk.context.json, or
                      a JSON string on the command line.
    alarmEmail        optional e-mail address subscribed to the alarm topic.
    invokeTrail       true: a CloudTrail trail of the runner's Invoke data events (who ran
                      what); default false. See infra/components/invoke_trail.py.
    codeSigningProfileArn
                      optional AWS Signer profile *version* ARN
                      (arn:aws:signer:<region>:<account>:/signing-profiles/<name>/<version>):
                      the function only accepts code signed by it (Enforce).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Node

from infra.errors import ConfigurationError
from infra.existing_database import ExistingDatabase

CONTEXT_ENV = "env"
CONTEXT_EXISTING_DATABASE = "existingDatabase"
CONTEXT_ALARM_EMAIL = "alarmEmail"
CONTEXT_INVOKE_TRAIL = "invokeTrail"
CONTEXT_CODE_SIGNING_PROFILE_ARN = "codeSigningProfileArn"
SIGNING_PROFILE_VERSION_ARN = re.compile(
    r"^arn:aws[a-z-]*:signer:[a-z0-9-]+:\d{12}:/signing-profiles/[A-Za-z0-9_]{2,64}/[A-Za-z0-9]+$"
)
DEFAULT_ENVIRONMENT = "dev"


@dataclass(frozen=True, kw_only=True)
class EnvironmentSettings:
    """Everything that differs between dev, staging and prod."""

    name: str
    # Sandbox (SandboxStack)
    vpc_cidr: str
    min_capacity: float
    max_capacity: float
    deletion_protection: bool
    database_removal_policy: cdk.RemovalPolicy
    backup_retention_days: int
    # Audit trail: the runner's and PostgreSQL's log groups keep this long (prod: a year, the
    # Security Hub CloudWatch.16 default); prod's PostgreSQL logs get a customer-managed key.
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    encrypt_database_logs: bool = False
    # Runner
    function_timeout_minutes: int = 10
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN  # runner logs, alarm key
    termination_protection: bool = False
    alarm_email: str | None = None
    invoke_trail: bool = False
    code_signing_profile_arn: str | None = None
    existing_database: ExistingDatabase | None = None

    @property
    def function_name(self) -> str:
        return f"aurora-migrations-{self.name}"

    @property
    def cluster_identifier(self) -> str:
        return f"aurora-migrations-{self.name}"


ENVIRONMENTS: dict[str, EnvironmentSettings] = {
    "dev": EnvironmentSettings(
        name="dev",
        vpc_cidr="10.42.0.0/16",
        min_capacity=0.5,
        max_capacity=2,
        deletion_protection=False,
        database_removal_policy=cdk.RemovalPolicy.DESTROY,
        backup_retention_days=1,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    ),
    "staging": EnvironmentSettings(
        name="staging",
        vpc_cidr="10.43.0.0/16",
        min_capacity=0.5,
        max_capacity=4,
        deletion_protection=True,
        database_removal_policy=cdk.RemovalPolicy.SNAPSHOT,
        backup_retention_days=7,
        log_retention=logs.RetentionDays.THREE_MONTHS,
    ),
    "prod": EnvironmentSettings(
        name="prod",
        vpc_cidr="10.44.0.0/16",
        min_capacity=1,
        max_capacity=8,
        deletion_protection=True,
        database_removal_policy=cdk.RemovalPolicy.SNAPSHOT,
        backup_retention_days=30,
        log_retention=logs.RetentionDays.ONE_YEAR,
        encrypt_database_logs=True,
        termination_protection=True,
    ),
}


def settings_from_context(node: Node) -> EnvironmentSettings:
    """The settings of the environment named by context `env`, with context overrides."""
    name = node.try_get_context(CONTEXT_ENV) or DEFAULT_ENVIRONMENT
    if name not in ENVIRONMENTS:
        raise ConfigurationError(
            f"unknown environment {name!r}: use --context env=" + "|".join(ENVIRONMENTS)
        )
    base = ENVIRONMENTS[name]
    existing_by_env = _json_object(
        node.try_get_context(CONTEXT_EXISTING_DATABASE), CONTEXT_EXISTING_DATABASE
    )
    unknown = sorted(set(existing_by_env) - set(ENVIRONMENTS))
    if unknown:
        raise ConfigurationError(
            f"context {CONTEXT_EXISTING_DATABASE} has entries for unknown environments {unknown}"
        )
    existing = (
        ExistingDatabase.from_context(name, existing_by_env[name])
        if name in existing_by_env
        else None
    )
    alarm_email = node.try_get_context(CONTEXT_ALARM_EMAIL) or None
    return replace(
        base,
        existing_database=existing,
        alarm_email=str(alarm_email) if alarm_email else base.alarm_email,
        invoke_trail=_flag(node.try_get_context(CONTEXT_INVOKE_TRAIL), CONTEXT_INVOKE_TRAIL),
        code_signing_profile_arn=_signing_profile(
            node.try_get_context(CONTEXT_CODE_SIGNING_PROFILE_ARN)
        ),
    )


def _signing_profile(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not SIGNING_PROFILE_VERSION_ARN.match(value):
        raise ConfigurationError(
            f"context {CONTEXT_CODE_SIGNING_PROFILE_ARN} must be an AWS Signer profile version "
            "ARN, arn:aws:signer:<region>:<account>:/signing-profiles/<name>/<version> "
            f"(aws signer get-signing-profile ... --query profileVersionArn), not {value!r}"
        )
    return value


def _flag(value: Any, key: str) -> bool:
    """A boolean from cdk.json (true/false) or the command line ("true"/"false")."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigurationError(f"context {key} must be true or false, not {value!r}")


def _json_object(value: Any, key: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"context {key} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ConfigurationError(f"context {key} must be a JSON object")
    return value

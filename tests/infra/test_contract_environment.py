"""Contract: the environment each stack variant gives the function is what the runner needs.

The function's `Environment.Variables`, taken from the synthesized template, go through the
runner's own `Settings.from_env` and `credential_source` (with stand-in AWS clients that
record what they are asked). What comes out must be what the variant meant: the login (a
Secrets Manager secret or an IAM token), verified TLS, and the host, port, database and user
of the cluster the stack grants access to. Values CloudFormation only knows at deploy time
(the sandbox cluster's endpoint) are resolved to stand-ins after checking what they refer to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk.assertions import Template
from infra_testkit import Synthesized, as_list, iter_policy_statements, only_resource

from runner.aws.credentials import IamCredentials, SecretCredentials
from runner.aws.tls import DEFAULT_ROOT_CERT
from runner.core import contract
from runner.core.database import CredentialSource
from runner.core.errors import ConfigurationError
from runner.core.settings import ENVIRONMENT, Settings
from runner.core.sources import credential_source

# What deploy time would put in place of the sandbox cluster's endpoint address.
CLUSTER_HOST = "aurora-migrations.cluster-stand-in.eu-west-1.rds.amazonaws.com"
# The secret an existing cluster's `databaseSecretArn` names (the RDS JSON shape). Its port
# differs from the stack's on purpose: the port the security groups open must win.
SECRET = {
    "username": "app_owner",
    "password": "Stand-in-password-1",
    "host": "secret-host.cluster-stand-in.eu-west-1.rds.amazonaws.com",
    "port": 6543,
    "dbname": "dbname_from_secret",
    "engine": "postgres",
}
# Read by the runner's libraries, not by `Settings`.
LIBRARY_VARIABLES = {
    contract.ENV_POWERTOOLS_SERVICE_NAME,
    contract.ENV_POWERTOOLS_METRICS_NAMESPACE,
    contract.ENV_AWS_ENDPOINT_URL_SECRETS_MANAGER,
}


class RecordingSecretsManager:
    """Answers GetSecretValue with `SECRET` and records every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:
        self.calls.append(SecretId)
        return {"ARN": SecretId, "SecretString": json.dumps(SECRET), "VersionId": "v1"}


class NoRds:
    """Building the source and its URL must not need RDS (tokens are made per connection)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the runner called rds.{name} while only reading its settings")


@dataclass(frozen=True)
class Intent:
    """Where and how the variant means the runner to log in, from its inputs."""

    login: type[CredentialSource]
    host: str
    port: int
    database: str
    user: str
    secret_arn: str | None = None


def function_environment(synthesized: Synthesized) -> dict[str, Any]:
    function = only_resource(
        Template.from_stack(synthesized.stacks.runner), "AWS::Lambda::Function"
    )
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def resolved(synthesized: Synthesized, name: str, value: Any) -> str:
    """A literal as is; the sandbox cluster's endpoint as `CLUSTER_HOST`, after checking it."""
    if isinstance(value, str):
        return value
    export = value.get("Fn::ImportValue") if isinstance(value, dict) else None
    if export is None or synthesized.stacks.database is None:
        return f"<unresolved {name}: {json.dumps(value)}>"
    database = Template.from_stack(synthesized.stacks.database).to_json()
    exported = [
        output["Value"]
        for output in database.get("Outputs", {}).values()
        if output.get("Export", {}).get("Name") == export
    ]
    assert len(exported) == 1, f"{name} imports {export}, which the sandbox does not export"
    cluster_id, attribute = exported[0]["Fn::GetAtt"]
    assert database["Resources"][cluster_id]["Type"] == "AWS::RDS::DBCluster", name
    assert attribute == "Endpoint.Address", f"{name} is the cluster's {attribute}"
    return CLUSTER_HOST


def intent(synthesized: Synthesized) -> Intent:
    existing = synthesized.stacks.settings.existing_database
    if existing is None:  # the sandbox: its cluster, as its migration user, with IAM
        assert synthesized.stacks.database is not None
        cluster = only_resource(
            Template.from_stack(synthesized.stacks.database), "AWS::RDS::DBCluster"
        )["Properties"]
        assert cluster["EnableIAMDatabaseAuthentication"] is True
        return Intent(
            login=IamCredentials,
            host=CLUSTER_HOST,
            port=cluster["Port"],
            database=cluster["DatabaseName"],
            user=synthesized.stacks.database.migration_user,
        )
    if existing.iam_auth is not None:
        assert existing.database_host and existing.database_name
        return Intent(
            login=IamCredentials,
            host=existing.database_host,
            port=existing.database_port,
            database=existing.database_name,
            user=existing.iam_auth.db_user,
        )
    return Intent(
        login=SecretCredentials,
        host=existing.database_host or str(SECRET["host"]),
        port=existing.database_port,
        database=existing.database_name or str(SECRET["dbname"]),
        user=str(SECRET["username"]),
        secret_arn=existing.database_secret_arn,
    )


def test_the_runner_reads_the_login_the_stack_meant(synthesized: Synthesized) -> None:
    """Source, TLS, host, port, database and user, as `Settings.from_env` reads them."""
    environment = {
        name: resolved(synthesized, name, value)
        for name, value in function_environment(synthesized).items()
    }
    meant = intent(synthesized)
    secrets, rds = RecordingSecretsManager(), NoRds()

    try:
        settings = Settings.from_env(environment)
        source = credential_source(settings, secrets_client=secrets, rds_client=rds)
    except ConfigurationError as exc:
        pytest.fail(f"{synthesized.name}: the runner refuses the stack's environment: {exc}")

    assert type(source) is meant.login, (
        f"{synthesized.name}: the stack means {meant.login.__name__}, the runner built "
        f"{type(source).__name__} from DB_IAM_AUTH={environment.get('DB_IAM_AUTH')!r}, "
        f"DB_SECRET_ARN={environment.get('DB_SECRET_ARN')!r}"
    )
    assert source.connect_args() == {
        "sslmode": "verify-full",
        "sslrootcert": str(DEFAULT_ROOT_CERT),
    }, f"{synthesized.name}: TLS must verify the server against the bundled RDS CAs"
    url = source.url()
    assert (url.host, url.port, url.database, url.username) == (
        meant.host,
        meant.port,
        meant.database,
        meant.user,
    ), f"{synthesized.name}: the runner would connect to {url!r}, the stack means {meant}"
    assert secrets.calls == ([meant.secret_arn] if meant.secret_arn else []), (
        f"{synthesized.name}: secrets read {secrets.calls}; with IAM auth the runner reads none"
    )


def test_the_runner_may_use_the_login_it_reads(synthesized: Synthesized) -> None:
    """The role's one login permission names what the runner uses: the user, or the secret."""
    meant = intent(synthesized)
    statements = list(iter_policy_statements(Template.from_stack(synthesized.stacks.runner)))
    if meant.secret_arn is not None:
        readable = [
            resource
            for statement in statements
            if "secretsmanager:GetSecretValue" in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
        ]
        assert readable == [meant.secret_arn]
        return
    connect = [
        _flatten(resource)
        for statement in statements
        if "rds-db:connect" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]
    assert len(connect) == 1 and connect[0].endswith(f"/{meant.user}"), connect


def test_every_variable_the_stack_sets_is_read_by_the_runner(synthesized: Synthesized) -> None:
    unread = set(function_environment(synthesized)) - set(ENVIRONMENT) - LIBRARY_VARIABLES
    assert unread == set(), f"{synthesized.name}: nothing reads {sorted(unread)}"


def test_the_time_guard_leaves_the_runner_time_to_work(synthesized: Synthesized) -> None:
    environment = function_environment(synthesized)
    timeout_ms = (
        1000
        * only_resource(Template.from_stack(synthesized.stacks.runner), "AWS::Lambda::Function")[
            "Properties"
        ]["Timeout"]
    )
    margin = Settings.from_env(
        {contract.ENV_MIGRATION_TIME_GUARD_MARGIN_MS: environment["MIGRATION_TIME_GUARD_MARGIN_MS"]}
    ).time_guard_margin_ms
    assert 0 < margin < timeout_ms / 2, (margin, timeout_ms)


def _flatten(value: Any) -> str:
    """An ARN built with Fn::Join, its tokens written as <token>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_flatten(part) for part in parts)
    return "<token>"

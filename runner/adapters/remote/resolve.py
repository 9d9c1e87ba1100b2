"""Which function to invoke, and which cluster to snapshot, for an environment.

The convention is the CDK app's (infra/application.py and infra/config.py; a test keeps the
two in step): environment `ENV` (dev, staging or prod) deploys

    stack  AuroraMigrations-ENV-Runner    output FunctionName  (the function, aurora-migrations-ENV)
    stack  AuroraMigrations-ENV-Database  output ClusterEndpoint  (the sandbox cluster only;
                                          an environment on an existing cluster has no such stack)

A function is resolved from the runner stack's output; if the stack cannot be read the
conventional name is used, and `FunctionTarget.source` says which. A cluster is resolved from
an explicit identifier, or from the database stack's endpoint, and always checked to exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from runner.core import redact
from runner.core.errors import ClusterNotFound, FunctionNotFound, RemoteNotConfigured

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_rds import RDSClient

ENVIRONMENTS = ("dev", "staging", "prod")
STACK_PREFIX = "AuroraMigrations"
FUNCTION_PREFIX = "aurora-migrations"
OUTPUT_FUNCTION_NAME = "FunctionName"
OUTPUT_CLUSTER_ENDPOINT = "ClusterEndpoint"
# A function name, a partial or full ARN, with an optional version or alias (Lambda's own rule).
_FUNCTION = re.compile(
    r"^(arn:aws[a-zA-Z-]*:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d:)?(\d{12}:)?(function:)?"
    r"[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]+))?$"
)
_CLUSTER = re.compile(
    r"^(arn:aws[a-zA-Z-]*:rds:[a-z0-9-]+:\d{12}:cluster:)?[a-zA-Z][a-zA-Z0-9-]{0,62}$"
)


@dataclass(frozen=True)
class FunctionTarget:
    """The function to invoke, and how its name was found (`argument`, `stack output`, ...)."""

    name: str
    environment: str | None
    source: str


@dataclass(frozen=True)
class ClusterTarget:
    """The cluster to snapshot, as RDS names it, and how it was found."""

    identifier: str
    environment: str | None
    source: str


def runner_stack(environment: str) -> str:
    return f"{STACK_PREFIX}-{environment}-Runner"


def database_stack(environment: str) -> str:
    return f"{STACK_PREFIX}-{environment}-Database"


def conventional_function(environment: str) -> str:
    return f"{FUNCTION_PREFIX}-{environment}"


def check_environment(environment: str) -> str:
    if environment not in ENVIRONMENTS:
        raise RemoteNotConfigured(
            f"Unknown environment {redact.echo(environment)}. Use one of: "
            f"{', '.join(ENVIRONMENTS)}, or name the function with --function.",
            environment=environment[:60],
        )
    return environment


def resolve_function(
    *,
    name: str | None = None,
    env: str | None = None,
    cloudformation: CloudFormationClient | None = None,
) -> FunctionTarget:
    """The function for `--function NAME` or `--env ENV` (exactly one of them).

    With `env`, the runner stack's `FunctionName` output wins; without a readable stack (not
    deployed by this app, or no cloudformation:DescribeStacks permission) the convention.
    """
    if (name is None) == (env is None):
        raise RemoteNotConfigured(
            "Say which function to invoke: give --function NAME or --env "
            f"{'|'.join(ENVIRONMENTS)}, not both and not neither."
        )
    if name is not None:
        if not _FUNCTION.match(name):
            raise RemoteNotConfigured(
                f"{redact.echo(name)} is not a Lambda function name or ARN. Give the name "
                "(e.g. aurora-migrations-dev) or the function's ARN.",
                function=name[:170],
            )
        return FunctionTarget(name, None, "argument")
    environment = check_environment(str(env))
    stack = runner_stack(environment)
    if cloudformation is None:
        return FunctionTarget(conventional_function(environment), environment, "convention")
    outputs, problem = stack_outputs(cloudformation, stack)
    if outputs is None:
        return FunctionTarget(
            conventional_function(environment),
            environment,
            f"convention (stack {stack}: {problem})",
        )
    name = outputs.get(OUTPUT_FUNCTION_NAME)
    if not name:
        raise FunctionNotFound(
            f"The stack {stack} has no {OUTPUT_FUNCTION_NAME} output, so it is not the runner "
            "stack this tool deploys. Name the function with --function.",
            stack=stack,
        )
    return FunctionTarget(name, environment, f"stack output {stack}.{OUTPUT_FUNCTION_NAME}")


def resolve_cluster(
    *,
    cluster: str | None = None,
    env: str | None = None,
    rds: RDSClient,
    cloudformation: CloudFormationClient | None = None,
) -> ClusterTarget:
    """The cluster for `--cluster ID`, or the environment's sandbox cluster; checked to exist."""
    if cluster is not None:
        if not _CLUSTER.match(cluster):
            raise ClusterNotFound(
                f"{redact.echo(cluster)} is not an Aurora cluster identifier or ARN.",
                cluster=cluster[:200],
            )
        return ClusterTarget(_describe_cluster(rds, cluster), env, "argument")
    if env is None:
        raise ClusterNotFound("Say which cluster to snapshot: give --cluster ID or --env.")
    environment = check_environment(env)
    stack = database_stack(environment)
    outputs, problem = (
        stack_outputs(cloudformation, stack) if cloudformation else (None, "not read")
    )
    endpoint = (outputs or {}).get(OUTPUT_CLUSTER_ENDPOINT)
    if not endpoint:
        raise ClusterNotFound(
            f"Cannot tell which cluster {environment} migrates: the stack {stack} "
            f"{problem or f'has no {OUTPUT_CLUSTER_ENDPOINT} output'} (an environment on an "
            "existing cluster has no such stack). Give the cluster identifier with --cluster.",
            environment=environment,
            stack=stack,
        )
    identifier = endpoint.split(".", 1)[0]  # <identifier>.cluster-<hash>.<region>.rds.amazonaws.com
    found = _describe_cluster(rds, identifier, endpoint=endpoint)
    return ClusterTarget(found, environment, f"stack output {stack}.{OUTPUT_CLUSTER_ENDPOINT}")


def stack_outputs(
    client: CloudFormationClient, stack: str
) -> tuple[dict[str, str] | None, str | None]:
    """(OutputKey -> OutputValue, None), or (None, why the stack could not be read)."""
    try:
        stacks = client.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            return None, "does not exist"
        return None, f"not readable ({error.get('Code', 'error')})"
    except BotoCoreError as exc:
        return None, f"not readable ({type(exc).__name__})"
    if not stacks:
        return None, "does not exist"
    outputs = stacks[0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in outputs if "OutputKey" in o}, None


def _describe_cluster(rds: RDSClient, identifier: str, *, endpoint: str | None = None) -> str:
    """The cluster's identifier as RDS spells it; `ClusterNotFound` unless it exists."""
    try:
        clusters = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        if code in ("DBClusterNotFoundFault", "DBClusterNotFound"):
            raise ClusterNotFound(
                f"No Aurora cluster {identifier!r} in this account and region. Check the "
                "identifier, --region and --profile.",
                cluster=identifier,
            ) from None
        raise ClusterNotFound(
            f"Could not look up the cluster {identifier!r} ({code}). The caller needs "
            "rds:DescribeDBClusters on it.",
            cluster=identifier,
            error_code=code,
        ) from None
    except BotoCoreError as exc:
        raise ClusterNotFound(
            f"Could not reach RDS to look up the cluster {identifier!r} ({type(exc).__name__}).",
            cluster=identifier,
        ) from None
    match = [c for c in clusters if endpoint is None or c.get("Endpoint") == endpoint]
    if not match:
        raise ClusterNotFound(
            f"The cluster {identifier!r} does not have the endpoint {endpoint!r} the stack "
            "names. Give the cluster identifier with --cluster.",
            cluster=identifier,
        )
    return match[0]["DBClusterIdentifier"]

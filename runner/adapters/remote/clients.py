"""boto3 for remote mode: the session, and every timeout and retry setting, in one place.

An invoke is not idempotent: a migration sent twice is two runs. botocore's defaults (a 60 s
read timeout, then up to four retries in legacy mode) would send a long upgrade again while
the first one is still running, and the AWS CLI does the same. So the Lambda client waits
longer than any function may run (Lambda's maximum, 15 minutes, plus a margin), keeps the idle
connection alive meanwhile (NAT gateways drop idle flows after 350 s), and never retries: one
`invoke` call is one HTTP request, whatever AWS_MAX_ATTEMPTS or AWS_RETRY_MODE say.

CloudFormation and RDS calls here are reads or create-once calls; they get short timeouts and
a few standard retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, NoRegionError, ProfileNotFound

from runner.core import redact
from runner.core.errors import RemoteNotConfigured

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_rds import RDSClient

LAMBDA_MAX_TIMEOUT_S = 900  # the longest any Lambda function may run
INVOKE_READ_TIMEOUT_S = LAMBDA_MAX_TIMEOUT_S + 60
CONNECT_TIMEOUT_S = 10
INVOKE_ATTEMPTS = 1  # total attempts, the first included: never retry an invoke

AWS_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=30,
    retries={"total_max_attempts": 3, "mode": "standard"},
)


def invoke_config(
    *, read_timeout_s: float = INVOKE_READ_TIMEOUT_S, connect_timeout_s: float = CONNECT_TIMEOUT_S
) -> Config:
    """The Lambda client's configuration: a long read, no retry. Tests shorten the read."""
    return Config(
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        retries={"total_max_attempts": INVOKE_ATTEMPTS, "mode": "standard"},
        tcp_keepalive=True,
    )


def retries_of(client: Any) -> int | None:
    """How many attempts a botocore client makes per call (None: unknown, so unsafe)."""
    retries = getattr(client.meta.config, "retries", None) or {}
    value = retries.get("total_max_attempts")
    return value if isinstance(value, int) else None


def make_session(*, region: str | None = None, profile: str | None = None) -> boto3.Session:
    """A boto3 session for `--region` / `--profile`, or the usual environment and files."""
    try:
        session = boto3.Session(region_name=region, profile_name=profile)
    except ProfileNotFound:
        raise RemoteNotConfigured(
            f"The AWS profile {redact.echo(profile)} does not exist in the AWS config files. "
            "Give an existing --profile, or none to use the environment's credentials.",
            profile=profile,
        ) from None
    return session


def lambda_client(
    session: boto3.Session, *, config: Config | None = None, endpoint_url: str | None = None
) -> LambdaClient:
    return cast("LambdaClient", _client(session, "lambda", config or invoke_config(), endpoint_url))


def cloudformation_client(
    session: boto3.Session, *, endpoint_url: str | None = None
) -> CloudFormationClient:
    return cast(
        "CloudFormationClient", _client(session, "cloudformation", AWS_CONFIG, endpoint_url)
    )


def rds_client(session: boto3.Session, *, endpoint_url: str | None = None) -> RDSClient:
    return cast("RDSClient", _client(session, "rds", AWS_CONFIG, endpoint_url))


def _client(session: boto3.Session, service: str, config: Config, endpoint_url: str | None) -> Any:
    register_credentials(session)
    try:
        return cast(Any, session).client(service, config=config, endpoint_url=endpoint_url)
    except NoRegionError:
        raise RemoteNotConfigured(
            f"No AWS region for {service}: give --region, or set AWS_REGION (or a region in "
            "the profile)."
        ) from None
    except BotoCoreError as exc:
        raise RemoteNotConfigured(
            f"Could not set up the AWS {service} client ({type(exc).__name__}: "
            f"{redact.scrub(str(exc))}). Check --region and --profile."
        ) from None


def register_credentials(session: boto3.Session) -> None:
    """Hide the session's access key, secret key and session token in everything we print.

    Resolving them is what the first call would do anyway. A client passed in from outside
    is the caller's to register.
    """
    try:
        credentials = session.get_credentials()
    except BotoCoreError:
        return  # the call itself will say what is wrong with them
    if credentials is None:
        return
    frozen = credentials.get_frozen_credentials()
    for secret in (frozen.secret_key, frozen.token, frozen.access_key):
        redact.register(secret)

"""Default boto3 clients, with timeouts that fit inside a Lambda invocation.

botocore's defaults (60 s connect and read timeouts, legacy retries) would let a missing VPC
endpoint eat the whole function timeout before we could say what was wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=10,
    retries={"max_attempts": 3, "mode": "standard"},
)


def secrets_manager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


def rds() -> RDSClient:
    return boto3.client("rds", config=CLIENT_CONFIG)

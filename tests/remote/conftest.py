"""Remote mode without AWS: the local Invoke endpoint for Lambda, moto (server mode) for the rest.

Every test gets fake credentials and no AWS config files, so nothing can reach, or needs, an
AWS account; `aws` is the session's moto server from tests/aws.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from sqlalchemy.engine import URL

from runner.adapters.remote import clients
from runner.adapters.remote.invoke import LambdaInvoker
from tests.aws.conftest import REGION, Aws, aws  # noqa: F401 (the moto server fixture)
from tests.conftest import write_alembic_ini
from tests.remote.lambda_endpoint import Function, LambdaEndpoint

ACCESS_KEY = "AKIAREMOTETEST000001"
SECRET_KEY = "remote-test-secret-key/abcdefghijklmnopqrstuv"
SESSION_TOKEN = "remote-test-session-token-FwoGZXIvYXdzEJr"
DEV = "aurora-migrations-dev"

Deploy = Callable[..., Function]


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, one region, no config files, and no retry settings from the shell."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_RETRY_MODE",
        "AWS_MAX_ATTEMPTS",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_LAMBDA",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def lam(database_url: URL) -> Iterator[LambdaEndpoint]:
    """The local Invoke endpoint; it stops (after its last invocation) before the database goes."""
    with LambdaEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def deploy(lam: LambdaEndpoint, database_url: URL, tmp_path: Path) -> Deploy:
    """`deploy(tree, name=..., url=...)`: a function running a fixture tree on a database."""

    def deploy(
        tree: str = "chain", *, name: str = DEV, url: URL | None = None, **options: Any
    ) -> Function:
        target = url or database_url
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        environment = {
            "DATABASE_URL": target.render_as_string(hide_password=False),
            "ALEMBIC_CONFIG": str(write_alembic_ini(tree, folder)),
        }
        return lam.add_function(name, environment, **options)

    return deploy


@pytest.fixture
def session() -> boto3.Session:
    return boto3.Session(region_name=REGION)


def invoker(lam: LambdaEndpoint, name: str = DEV, *, config: Config | None = None) -> LambdaInvoker:
    """What the CLI builds: a session's Lambda client, pointed at the local endpoint."""
    client = clients.lambda_client(boto3.Session(), config=config, endpoint_url=lam.url)
    return LambdaInvoker(name, boto3_client=client)

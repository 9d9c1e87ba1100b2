"""Remote mode says what is missing (profile, region, credentials) before anything is sent."""

from __future__ import annotations

import boto3
import pytest

from runner.adapters.remote import clients
from runner.adapters.remote.invoke import LambdaInvoker
from runner.core.errors import ConfigurationError, InvocationFailed, RemoteNotConfigured
from runner.local.localpg import free_port
from tests.remote.conftest import DEV


def test_an_unknown_profile_is_a_configuration_error() -> None:
    with pytest.raises(RemoteNotConfigured, match="'no-such-profile' does not exist"):
        clients.make_session(profile="no-such-profile")


def test_no_region_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    with pytest.raises(RemoteNotConfigured, match="--region"):
        LambdaInvoker(DEV, boto3_session=boto3.Session())


def test_no_credentials_is_a_configuration_error_and_nothing_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    remote = LambdaInvoker(
        DEV, boto3_session=boto3.Session(), endpoint_url=f"http://127.0.0.1:{free_port()}"
    )

    with pytest.raises(RemoteNotConfigured, match="No AWS credentials") as caught:
        remote.invoke({"command": "current"})

    assert isinstance(caught.value, ConfigurationError)  # exit 2


def test_an_unreachable_endpoint_means_nothing_ran() -> None:
    remote = LambdaInvoker(
        DEV, boto3_session=boto3.Session(), endpoint_url=f"http://127.0.0.1:{free_port()}"
    )

    with pytest.raises(InvocationFailed, match="nothing was sent"):
        remote.invoke({"command": "current"})

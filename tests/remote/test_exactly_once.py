"""An invocation is sent exactly once, however long the migration runs.

The `slow` tree's second revision sleeps for two seconds; the clients here stop reading after
one. boto3's defaults send the invoke again after a read timeout (a long migration started
several times); ours never does, and says that the outcome is unknown.
"""

from __future__ import annotations

import contextlib

import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.engine import URL

from runner.adapters.remote import clients
from runner.core.errors import InvocationOutcomeUnknown
from tests.remote.conftest import DEV, Deploy, invoker
from tests.remote.lambda_endpoint import LambdaEndpoint
from tests.test_engine import versions

SHORT = clients.invoke_config(read_timeout_s=1)


def test_a_slow_invocation_is_sent_once_even_when_the_client_stops_waiting(
    lam: LambdaEndpoint, deploy: Deploy, database_url: URL
) -> None:
    function = deploy("slow")

    with pytest.raises(InvocationOutcomeUnknown) as caught:
        invoker(lam, config=SHORT).invoke({"command": "upgrade"})

    assert "NOT sent again" in caught.value.message
    lam.wait_idle()
    assert function.requests == 1 and function.runs == 1
    assert versions(database_url) == ["0002"]  # the one run finished on its own


def test_retry_settings_in_the_environment_do_not_bring_retries_back(
    lam: LambdaEndpoint, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")
    function = deploy("slow")

    with pytest.raises(InvocationOutcomeUnknown):
        invoker(lam, config=SHORT).invoke({"command": "upgrade"})

    lam.wait_idle()
    assert function.requests == 1 and function.runs == 1


def test_boto3_defaults_would_have_sent_the_same_invoke_again(
    lam: LambdaEndpoint, deploy: Deploy
) -> None:
    """The counter-example: the same short read timeout with boto3's default retries."""
    function = deploy("slow")
    client = clients.make_session().client(
        "lambda", endpoint_url=lam.url, config=Config(read_timeout=1)
    )

    # It may end in a timeout, a throttle, or the answer of a later attempt: all the same here.
    with contextlib.suppress(BotoCoreError, ClientError):
        client.invoke(FunctionName=DEV, Payload=b'{"command": "upgrade", "revision": "head"}')

    lam.wait_idle()
    assert function.requests > 1


def test_a_slow_migration_finishes_in_one_invocation_when_the_client_waits_long_enough(
    lam: LambdaEndpoint, deploy: Deploy, database_url: URL
) -> None:
    function = deploy("slow")

    outcome = invoker(lam, config=clients.invoke_config(read_timeout_s=60)).invoke(
        {"command": "upgrade"}
    )

    assert [a.revision for a in outcome.result.applied] == ["0001", "0002"]
    assert function.requests == 1 and function.runs == 1
    assert versions(database_url) == ["0002"]

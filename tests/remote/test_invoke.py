"""Remote mode end to end: LambdaInvoker -> boto3 -> HTTP -> the real handler -> PostgreSQL.

Each test states one promise of remote mode: the same result as local mode, failures that
arrive whole and typed, bad requests that never leave the machine, logs on request, and no
credential in anything that comes back.
"""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from sqlalchemy.engine import URL

from runner.adapters.remote import clients
from runner.adapters.remote.invoke import LambdaInvoker, decode_log_tail
from runner.core import redact
from runner.core.errors import (
    BadRequest,
    ConfigurationError,
    FunctionBusy,
    FunctionNotFound,
    InvalidFieldType,
    MissingField,
    RemoteFailure,
    RemoteNotConfigured,
    RemoteRefused,
    UnknownCommand,
)
from runner.core.results import Request, Result
from tests.remote.conftest import ACCESS_KEY, DEV, SECRET_KEY, SESSION_TOKEN, Deploy, invoker
from tests.remote.lambda_endpoint import LambdaEndpoint
from tests.test_engine import versions


def test_upgrade_runs_once_remotely_and_returns_the_local_result(
    lam: LambdaEndpoint, deploy: Deploy, database_url: URL
) -> None:
    function = deploy("chain")

    outcome = invoker(lam).invoke({"command": "upgrade"})

    assert isinstance(outcome.result, Result)
    assert [a.revision for a in outcome.result.applied] == ["0001", "0002", "0003", "0004"]
    assert outcome.result.after == ["0004"] and outcome.result.before == []
    assert versions(database_url) == ["0004"]
    assert outcome.payload["after"] == ["0004"]  # the raw result, for --json
    assert outcome.request_id and outcome.executed_version == "$LATEST"
    assert outcome.log_tail is None  # not asked for
    assert function.requests == function.runs == 1
    assert function.events == [{"command": "upgrade", "revision": "head"}]  # validated, filled


def test_a_second_upgrade_is_a_no_op(lam: LambdaEndpoint, deploy: Deploy) -> None:
    deploy("chain")
    remote = invoker(lam)
    remote.invoke({"command": "upgrade"})

    again = remote.invoke(Request(command="upgrade", revision="head"))

    assert again.result.applied == [] and again.result.after == ["0004"]
    assert again.result.message.startswith("Nothing to do")


def test_read_commands_come_back_as_results(lam: LambdaEndpoint, deploy: Deploy) -> None:
    deploy("chain")
    remote = invoker(lam)
    remote.invoke({"command": "upgrade", "revision": "0002"})

    history = remote.invoke({"command": "history"}).result
    current = remote.invoke({"command": "current"}).result

    assert current.after == ["0002"] and current.pending == ["0003", "0004"]
    assert history.revisions is not None
    assert [(r.revision, r.applied) for r in history.revisions] == [
        ("0001", True),
        ("0002", True),
        ("0003", False),
        ("0004", False),
    ]
    assert history.revisions[1].applied_at


def test_a_failing_revision_arrives_as_one_typed_error_naming_it(
    lam: LambdaEndpoint, deploy: Deploy, database_url: URL
) -> None:
    """FunctionError: Unhandled becomes RemoteFailure (exit 1) with type, message, revision."""
    deploy("failing")

    with pytest.raises(RemoteFailure) as caught:
        invoker(lam).invoke({"command": "upgrade"})

    error = caught.value
    assert not isinstance(error, BadRequest | ConfigurationError)  # the CLI exits 1
    assert error.details["remote_error_type"] == "MigrationFailed"
    assert error.details["revision"] == "0003"
    assert error.details["function"] == DEV and error.details["request_id"]
    assert "Revision 0003" in error.message and "rolled back" in error.message
    assert versions(database_url) == ["0002"]  # the earlier revisions stay, 0003 rolled back
    data = error.to_dict()
    assert data["errorType"] == "RemoteFailure" and data["remote_error_type"] == "MigrationFailed"


def test_a_downgrade_without_confirm_is_refused_remotely_and_changes_nothing(
    lam: LambdaEndpoint, deploy: Deploy, database_url: URL
) -> None:
    deploy("chain")
    remote = invoker(lam)
    remote.invoke({"command": "upgrade"})

    with pytest.raises(RemoteRefused) as caught:
        remote.invoke({"command": "downgrade", "revision": "-1"})

    error = caught.value
    assert isinstance(error, BadRequest)  # the CLI exits 2
    assert error.details["remote_error_type"] == "ConfirmationRequired"
    assert "confirm='0004'" in error.message
    assert versions(database_url) == ["0004"]

    done = remote.invoke({"command": "downgrade", "revision": "-1", "confirm": "0004"})
    assert done.result.after == ["0003"]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"command": "upgrade", "revision": 5}, InvalidFieldType),
        ({"command": "drop-everything"}, UnknownCommand),
        ({"command": "downgrade"}, MissingField),
        ({"command": "upgrade", "revision": "head; DROP TABLE x"}, BadRequest),
    ],
)
def test_a_bad_request_is_refused_before_anything_is_sent(
    lam: LambdaEndpoint, deploy: Deploy, event: dict[str, object], expected: type[Exception]
) -> None:
    function = deploy("chain")

    with pytest.raises(expected):
        invoker(lam).invoke(event)

    assert function.requests == 0


def test_the_log_tail_comes_back_on_request(lam: LambdaEndpoint, deploy: Deploy) -> None:
    deploy("chain")

    outcome = invoker(lam).invoke({"command": "upgrade"}, logs=True)

    tail = outcome.log_tail
    assert tail is not None and len(tail.encode()) <= 4096
    assert tail.rstrip().splitlines()[-1].startswith("REPORT RequestId: " + str(outcome.request_id))
    assert '"event":"run.finish"' in tail.replace(" ", "")


def test_the_log_tail_of_a_failure_is_attached_to_the_error(
    lam: LambdaEndpoint, deploy: Deploy
) -> None:
    deploy("failing")

    with pytest.raises(RemoteFailure) as caught:
        invoker(lam).invoke({"command": "upgrade"}, logs=True)

    tail = caught.value.details["log_tail"]
    assert "[ERROR] MigrationFailed" in tail and "run.failed" in tail


def test_no_credential_comes_back_in_a_result_a_log_tail_or_an_error(
    lam: LambdaEndpoint, deploy: Deploy
) -> None:
    """The session's keys are registered: whatever echoes them is scrubbed on the way in."""
    leak = f"key={ACCESS_KEY} secret={SECRET_KEY} token={json.dumps(SESSION_TOKEN)}"
    deploy("failing", extra_log=[leak])
    remote = LambdaInvoker(DEV, boto3_session=boto3.Session(), endpoint_url=lam.url)

    with pytest.raises(RemoteFailure) as caught:
        remote.invoke({"command": "upgrade"}, logs=True)

    shown = json.dumps(caught.value.to_dict()) + caught.value.message
    for secret in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN):
        assert secret not in shown
    assert 'key=*** secret=*** token="***"' in caught.value.details["log_tail"]


def test_an_unknown_function_is_a_configuration_error(lam: LambdaEndpoint, deploy: Deploy) -> None:
    deploy("chain")

    with pytest.raises(FunctionNotFound) as caught:
        invoker(lam, "aurora-migrations-typo").invoke({"command": "current"})

    assert isinstance(caught.value, ConfigurationError)  # exit 2
    assert "aurora-migrations-typo" in caught.value.message


def test_a_busy_function_is_not_started_a_second_time(
    lam: LambdaEndpoint, deploy: Deploy, database_url: URL
) -> None:
    """Reserved concurrency 1: a concurrent invoke is throttled, and not retried."""
    running, release = threading.Event(), threading.Event()

    def hold(event: object) -> None:
        running.set()
        release.wait(30)

    function = deploy("chain", before_run=hold)
    first = threading.Thread(target=lambda: invoker(lam).invoke({"command": "upgrade"}))
    first.start()
    try:
        assert running.wait(30)
        with pytest.raises(FunctionBusy) as caught:
            invoker(lam).invoke({"command": "upgrade"})
    finally:
        release.set()
        first.join(30)

    assert caught.value.details["error_code"] == "TooManyRequestsException"
    assert function.requests == 2 and function.runs == 1
    assert versions(database_url) == ["0004"]


def test_a_client_that_retries_is_refused(lam: LambdaEndpoint) -> None:
    """Only a client built to send once may carry an invoke."""
    retrying = boto3.Session().client("lambda", endpoint_url=lam.url)  # boto3's defaults

    with pytest.raises(RemoteNotConfigured) as caught:
        LambdaInvoker(DEV, boto3_client=retrying)

    assert "invoke_config()" in caught.value.message


def test_the_invoke_client_waits_longer_than_any_function_and_never_retries() -> None:
    client = clients.lambda_client(boto3.Session())

    assert getattr(client.meta.config, "read_timeout") > clients.LAMBDA_MAX_TIMEOUT_S  # noqa: B009
    assert clients.retries_of(client) == 1


def test_a_garbled_log_tail_is_dropped_not_raised() -> None:
    assert decode_log_tail("not base64!") is None
    assert decode_log_tail(None) is None


def test_credentials_are_registered_for_scrubbing() -> None:
    clients.register_credentials(boto3.Session())

    assert redact.scrub(f"{SECRET_KEY} {SESSION_TOKEN}") == "*** ***"

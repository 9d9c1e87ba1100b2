"""Send one request to the deployed function, exactly once, and bring back its whole answer.

The request is validated here first (`runner.adapters.events.parse_event`), so a bad one is refused
before anything is sent. Then one synchronous `Invoke`, on a client that never retries and
waits longer than any function runs (`remote.clients`). Every foreign error is wrapped
once, here, into our own: nothing ran (`InvocationFailed`, `FunctionBusy`, `FunctionNotFound`,
`RemoteNotConfigured`), it may still be running (`InvocationOutcomeUnknown`), or it ran and
failed (`RemoteFailure`, `RemoteRefused`, see `remote.payload`). With `logs=True` the
tail of the function's log (the last 4 KB, Lambda's `LogType=Tail`) comes back, scrubbed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from runner.adapters.events import parse_event
from runner.adapters.remote import clients, payload
from runner.core import redact
from runner.core.errors import (
    FunctionBusy,
    FunctionNotFound,
    InvocationFailed,
    InvocationOutcomeUnknown,
    RemoteNotConfigured,
)
from runner.core.results import Request, Result

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

STILL_RUNNING = (
    "It may still be running, or have finished: it was NOT sent again. Before running "
    "anything, see what happened with `current` (or `status`) and the function's log (the "
    "runner stack's LogGroupName output)."
)
_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
    }
)


@dataclass(frozen=True)
class InvokeOutcome:
    """A successful invocation: the result as local mode has it, and what Lambda said."""

    function: str
    result: Result
    payload: dict[str, Any]  # the raw (scrubbed) result, for --json
    request_id: str | None
    executed_version: str | None
    log_tail: str | None  # None unless logs were asked for


class Invoker(Protocol):
    """What status and the guarded upgrade need: `LambdaInvoker`, or a stand-in in tests."""

    def invoke(self, event: Mapping[str, Any] | Request, *, logs: bool = False) -> InvokeOutcome:
        """Run one request in the function, once."""
        ...


class LambdaInvoker:
    """Invokes one migrations function. Give it a client or a session, or neither (defaults).

    An injected client must not retry: build it with `clients.invoke_config()`.
    """

    def __init__(
        self,
        function: str,
        *,
        boto3_client: LambdaClient | None = None,
        boto3_session: boto3.Session | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.function = function
        if boto3_client is None:
            session = boto3_session or clients.make_session()
            boto3_client = clients.lambda_client(session, endpoint_url=endpoint_url)
        attempts = clients.retries_of(boto3_client)
        if attempts != clients.INVOKE_ATTEMPTS:
            raise RemoteNotConfigured(
                f"The Lambda client would send an invoke up to {attempts or 'an unknown number'}"
                " times (it retries), and a migration must be sent once. Build the client with "
                "runner.adapters.remote.clients.invoke_config(), or pass a session instead.",
                total_max_attempts=attempts,
            )
        self._client = boto3_client

    def invoke(self, event: Mapping[str, Any] | Request, *, logs: bool = False) -> InvokeOutcome:
        """Validate `event`, send it once, return the outcome or raise one typed error."""
        request = parse_event(_as_event(event))  # a bad request raises here, before sending
        body = json.dumps(_as_event(request)).encode()
        response = self._send(body, logs=logs)
        request_id = response.get("ResponseMetadata", {}).get("RequestId")
        log_tail = decode_log_tail(response.get("LogResult")) if logs else None
        raw = self._read(response, request_id)
        data = payload.decode(raw, function=self.function, request_id=request_id)
        if response.get("FunctionError"):
            raise payload.error_from_payload(
                data, function=self.function, request_id=request_id, log_tail=log_tail
            )
        result = payload.result_from_payload(data, function=self.function, request_id=request_id)
        return InvokeOutcome(
            function=self.function,
            result=result,
            payload=redact.scrub_data(data),
            request_id=request_id,
            executed_version=response.get("ExecutedVersion"),
            log_tail=log_tail,
        )

    def _send(self, body: bytes, *, logs: bool) -> Any:
        try:
            return self._client.invoke(
                FunctionName=self.function,
                InvocationType="RequestResponse",
                LogType="Tail" if logs else "None",
                Payload=body,
            )
        except ClientError as exc:
            raise self._refused(exc) from None
        except (ConnectTimeoutError, EndpointConnectionError) as exc:
            raise InvocationFailed(
                f"Could not connect to Lambda to invoke {self.function} ({type(exc).__name__}); "
                "nothing was sent, so nothing ran. Check the network and --region, then run "
                "the command again.",
                function=self.function,
            ) from None
        except NoCredentialsError:
            raise RemoteNotConfigured(
                "No AWS credentials: nothing was sent. Give --profile, or set the usual AWS "
                "environment variables, then run the command again.",
                function=self.function,
            ) from None
        except (ReadTimeoutError, ConnectionClosedError) as exc:
            raise self._unknown(exc) from None
        except BotoCoreError as exc:
            raise InvocationFailed(
                f"Could not invoke {self.function} ({type(exc).__name__}: "
                f"{redact.scrub(str(exc))}). It was not sent again.",
                function=self.function,
            ) from None

    def _read(self, response: Any, request_id: str | None) -> bytes:
        try:
            return bytes(response["Payload"].read())
        except (ReadTimeoutError, ConnectionClosedError, BotoCoreError) as exc:
            raise self._unknown(exc, request_id) from None

    def _unknown(self, exc: Exception, request_id: str | None = None) -> InvocationOutcomeUnknown:
        return InvocationOutcomeUnknown(
            f"The invoke of {self.function} was sent, but no answer came back "
            f"({type(exc).__name__}). " + STILL_RUNNING,
            function=self.function,
            request_id=request_id,
        )

    def _refused(self, exc: ClientError) -> Exception:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        said = redact.scrub(str(error.get("Message", "")))
        details = {"function": self.function, "error_code": code}
        if code == "ResourceNotFoundException":
            return FunctionNotFound(
                f"There is no function {self.function!r} in this account and region ({said}). "
                "Nothing ran. Check --function / --env, --region and --profile.",
                **details,
            )
        if code == "TooManyRequestsException":
            return FunctionBusy(
                f"{self.function} is busy: another invocation is running (the function runs "
                "one at a time) or Lambda is throttling. This one was not started. Wait for "
                "the other run (see `status` or the function's log), then run again.",
                reason=exc.response.get("Reason"),
                **details,
            )
        if code in _CREDENTIALS or code.startswith("AccessDenied"):
            return InvocationFailed(
                f"AWS refused to invoke {self.function}: {code}. Nothing ran. The caller needs "
                "valid credentials (--profile) and lambda:InvokeFunction on the function.",
                **details,
            )
        if isinstance(status, int) and status >= 500:
            return InvocationOutcomeUnknown(
                f"Lambda answered the invoke of {self.function} with {code} (HTTP {status}). "
                + STILL_RUNNING,
                **details,
            )
        return InvocationFailed(
            f"Lambda did not run {self.function}: {code}: {said}. Nothing ran; fix the cause "
            "and run the command again.",
            **details,
        )


def decode_log_tail(encoded: str | None) -> str | None:
    """Lambda's base64 `LogResult` as text, scrubbed (the tail may start mid-character)."""
    if not encoded:
        return None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return redact.scrub(raw.decode("utf-8", errors="replace"))


def _as_event(event: Mapping[str, Any] | Request) -> Any:
    if isinstance(event, Request):
        return event.to_event()
    return dict(event) if isinstance(event, Mapping) else event

"""The function's answer, turned back into what local mode has: a `Result`, or one typed error.

A success is the handler's `Result.to_dict()`; it becomes a `Result` again (its findings
`Finding`s again), so the CLI prints the same table and lines (keys a newer function adds are
ignored). A `FunctionError` payload is what the
Lambda runtime makes of the raised error: `{"errorType", "errorMessage", "stackTrace"}`. It is
wrapped here, once: a remote `BadRequest` or `ConfigurationError` (by class name) becomes
`RemoteRefused` (exit 2), anything else `RemoteFailure` (exit 1). Everything is scrubbed.

The function words a refused confirmation for an event (`confirm='0017'`), which is what a
caller of `LambdaInvoker` sends; the revisions it names are kept as details (`expected`,
`given`, `current`). `confirmation_in_cli_words` says it as the CLI does (`--confirm 0017`);
the CLI's remote edge (`cli_remote`) applies it. A refusal worded otherwise is left as it came.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from typing import Any, TypeVar

from runner.adapters.cli_args import confirm_refusal
from runner.core import errors, redact
from runner.core.errors import AuroraMigrationsError, RemoteFailure, RemoteRefused
from runner.core.findings import Finding
from runner.core.results import AppliedRevision, Result, RevisionInfo

T = TypeVar("T")
# The runtime's keys, and those our own to_dict() sets: never taken as details.
_RUNTIME_KEYS = ("errorType", "errorMessage", "stackTrace", "requestId", "message", "ok")
_FAILED_REVISION = re.compile(r"^Revision (\S+) \(")  # the engine's MigrationFailed wording
_LITERAL = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""  # a Python str repr
# The engine's ConfirmationRequired wording (`MigrationEngine._check_confirm`).
_CONFIRM_REFUSED = re.compile(
    rf"(?P<command>[\w-]+) is destructive and was refused \((?:no confirm|confirm="
    rf"(?P<given>{_LITERAL}))\)\. The database is at (?P<expected>{_LITERAL}); to proceed, "
    rf"repeat the request with confirm=(?:{_LITERAL})\.",
    re.DOTALL,
)
# Lambda's own failures (timeout, out of memory, crash): the function was stopped mid-run.
_STOPPED_BY_LAMBDA = ("Sandbox.", "Runtime.")
_STOPPED_HINT = (
    " Lambda stopped the function: a revision in flight was rolled back when its connection "
    "closed, and revisions committed before it stay applied. Run `current` to see the state "
    "before running again."
)


def decode(body: bytes, *, function: str, request_id: str | None) -> Any:
    """The payload as JSON, or `RemoteFailure` if the function did not answer in JSON."""
    try:
        return json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise RemoteFailure(
            f"The function {function} answered with something that is not JSON "
            f"({len(body)} bytes): {redact.echo(body[:200].decode('utf-8', 'replace'))}. Is it "
            "the migrations function? Check --function or --env.",
            function=function,
            request_id=request_id,
        ) from None


def result_from_payload(payload: Any, *, function: str, request_id: str | None) -> Result:
    """The handler's success payload as a `Result`; `RemoteFailure` if it is not one."""
    payload = redact.scrub_data(payload)
    try:
        if not isinstance(payload, dict) or not isinstance(payload.get("command"), str):
            raise TypeError("no 'command'")
        data = _known(Result, payload)
        data["applied"] = [_known_instance(AppliedRevision, a) for a in data.get("applied", [])]
        if data.get("revisions") is not None:
            data["revisions"] = [_known_instance(RevisionInfo, r) for r in data["revisions"]]
        if data.get("findings") is not None:
            data["findings"] = [_finding(f) for f in data["findings"]]
        return Result(**data)
    except (TypeError, AttributeError) as exc:
        raise RemoteFailure(
            f"The function {function} answered, but not with a runner result ({exc}): "
            f"{redact.echo(json.dumps(payload)[:200])}. Is it the migrations function? Check "
            "--function or --env; if it is, the deployed runner and this CLI disagree on the "
            "result's shape: deploy the same version.",
            function=function,
            request_id=request_id,
        ) from None


def error_from_payload(
    payload: Any, *, function: str, request_id: str | None, log_tail: str | None = None
) -> AuroraMigrationsError:
    """The one typed error for a `FunctionError` payload."""
    payload = redact.scrub_data(payload if isinstance(payload, dict) else {"errorMessage": payload})
    remote_type = str(payload.get("errorType") or "UnknownError")
    message = str(payload.get("errorMessage") or "(no message)")
    extra = {k: v for k, v in payload.items() if k not in _RUNTIME_KEYS and isinstance(k, str)}
    failed = _FAILED_REVISION.match(message)
    if "revision" not in extra and failed:
        extra["revision"] = failed.group(1)
    said = _CONFIRM_REFUSED.fullmatch(message) if remote_type == "ConfirmationRequired" else None
    if said is not None:
        expected, given = _confirmation(said)
        extra.setdefault("expected", expected)
        extra.setdefault("given", given)
        extra.setdefault("current", [] if expected == "base" else expected.split(","))
    details: dict[str, Any] = {
        **extra,
        "remote_error_type": remote_type,
        "function": function,
        "request_id": request_id,
        "log_tail": log_tail,
    }
    where = f"(Lambda request id {request_id})" if request_id else ""
    if refused(remote_type):
        return RemoteRefused(
            f"The function {function} refused the request, nothing was changed: "
            f"{remote_type}: {message} {where}".rstrip(),
            **details,
        )
    hint = _STOPPED_HINT if remote_type.startswith(_STOPPED_BY_LAMBDA) else ""
    return RemoteFailure(
        f"The function {function} failed: {remote_type}: {message}{hint} {where}".rstrip(),
        **details,
    )


def confirmation_in_cli_words(message: str) -> str:
    """`message` with the function's `confirm='0017'` refusal said as the CLI says it."""
    return _CONFIRM_REFUSED.sub(
        lambda said: confirm_refusal(said["command"], *_confirmation(said)), message
    )


def _confirmation(said: re.Match[str]) -> tuple[str, str | None]:
    """(expected, given) from the function's refusal."""
    given = ast.literal_eval(said["given"]) if said["given"] else None
    return ast.literal_eval(said["expected"]), given


def refused(remote_type: str) -> bool:
    """Whether a remote error class (by name) means a refused request: exit 2, not 1."""
    cls = getattr(errors, remote_type, None)
    return (
        isinstance(cls, type)
        and issubclass(cls, errors.BadRequest | errors.ConfigurationError)
        and cls.__module__ == errors.__name__
    )


def _known(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _finding(data: Any) -> Finding:
    if not isinstance(data, dict):
        raise TypeError("a finding that is not an object")
    return Finding.from_dict(data)


def _known_instance(cls: type[T], data: Any) -> T:
    if not isinstance(data, dict):
        raise TypeError(f"a {cls.__name__} that is not an object")
    return cls(**_known(cls, data))

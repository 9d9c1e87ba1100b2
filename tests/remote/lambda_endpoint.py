"""A local stand-in for the Lambda Invoke API that runs the real handler on a real database.

`POST /2015-03-31/functions/{name}/invocations`, as boto3 sends it: the function is called
in-process (`runner.adapters.handler.handler`) with its own environment
(DATABASE_URL, ALEMBIC_CONFIG), and the answer is what Lambda gives: the JSON result; or, when
the handler raises, the
runtime's error JSON (built by awslambdaric itself) with `X-Amz-Function-Error: Unhandled`;
with `X-Amz-Log-Type: Tail`, `X-Amz-Log-Result` is the base64 of the last 4 KB of the
invocation's log (START, the handler's own lines, END, REPORT). Like the deployed function,
each function runs one invocation at a time (reserved concurrency 1): a second concurrent
invoke gets 429 TooManyRequestsException. Unknown functions get 404.

`requests` counts invoke requests received and `runs` the handler calls, per function, so a
test can prove that something was sent exactly once.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from awslambdaric.bootstrap import build_fault_result

from runner.adapters import handler
from runner.core.logs import configure_logging

PATH_PREFIX = "/2015-03-31/functions/"
PATH_SUFFIX = "/invocations"
ACCOUNT = "123456789012"
REGION = "us-east-1"
TAIL_BYTES = 4096


@dataclass
class Function:
    """One deployed function: its environment, and what happened to it."""

    name: str
    environment: dict[str, str]
    timeout_s: float = 600
    reserved_concurrency: int = 1
    extra_log: list[str] = field(default_factory=list)  # lines every invocation also logs
    before_run: Callable[[Any], None] | None = None  # called with the event, before the handler
    requests: int = 0
    runs: int = 0
    events: list[Any] = field(default_factory=list)
    in_flight: int = 0

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}"


@dataclass
class _Context:
    """The attributes of Lambda's context object the handler reads."""

    aws_request_id: str
    function_name: str
    invoked_function_arn: str
    deadline: float
    memory_limit_in_mb: int = 512

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str]


class LambdaEndpoint:
    """`with LambdaEndpoint() as lam:` serves on 127.0.0.1; `lam.url` is the endpoint_url."""

    def __init__(self) -> None:
        self.functions: dict[str, Function] = {}
        self._state = threading.Condition()
        self._handler_lock = threading.Lock()  # the handler module is one process's state
        self._last_function: str | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add_function(self, name: str, environment: dict[str, str], **options: Any) -> Function:
        function = Function(name, dict(environment), **options)
        self.functions[name] = function
        return function

    def __enter__(self) -> LambdaEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wait_idle()
        self._server.shutdown()
        self._server.server_close()
        handler.reset_engine()

    def wait_idle(self, timeout_s: float = 120) -> None:
        """Until no invocation is running (a client may have stopped waiting for one)."""
        with self._state:
            done = self._state.wait_for(
                lambda: all(f.in_flight == 0 for f in self.functions.values()), timeout_s
            )
        if not done:
            raise TimeoutError("an invocation is still running")

    # --- one invocation --------------------------------------------------------------------

    def _invoke(self, name: str, headers: Any, body: bytes) -> _Answer:
        function = self._find(name)
        if function is None:
            return _error(404, "ResourceNotFoundException", f"Function not found: {name}")
        with self._state:
            function.requests += 1
            if function.in_flight >= function.reserved_concurrency:
                return _error(
                    429,
                    "TooManyRequestsException",
                    "Rate Exceeded.",
                    Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
                )
            function.in_flight += 1
        try:
            try:
                event = json.loads(body) if body else {}
            except ValueError:
                return _error(400, "InvalidRequestContentException", "Could not parse JSON")
            function.events.append(event)
            kind = headers.get("X-Amz-Invocation-Type", "RequestResponse")
            if kind == "DryRun":
                return _Answer(204, b"", {})
            if kind != "RequestResponse":
                return _error(400, "InvalidParameterValueException", f"unsupported: {kind}")
            return self._run(function, event, tail=headers.get("X-Amz-Log-Type") == "Tail")
        finally:
            with self._state:
                function.in_flight -= 1
                self._state.notify_all()

    def _run(self, function: Function, event: Any, *, tail: bool) -> _Answer:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        log = io.StringIO()
        failed = False
        with self._handler_lock, _environment(function.environment):
            if self._last_function != function.name:
                handler.reset_engine()  # the cached engine belongs to the other function
                self._last_function = function.name
            configure_logging(log)
            try:
                with contextlib.redirect_stdout(log):  # metrics (EMF) go to the log, as there
                    function.runs += 1
                    if function.before_run is not None:
                        function.before_run(event)
                    result: Any = handler.handler(
                        event,
                        _Context(
                            request_id,
                            function.name,
                            function.arn,
                            started + function.timeout_s,
                        ),
                    )
            except Exception:
                failed = True
                result = build_fault_result(sys.exc_info(), None)
                log.write(f"[ERROR] {result['errorType']}: {result['errorMessage']}\n")
            finally:
                configure_logging()
        for line in function.extra_log:
            log.write(line + "\n")
        ms = (time.monotonic() - started) * 1000
        text = (
            f"START RequestId: {request_id} Version: $LATEST\n{log.getvalue()}"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {ms:.2f} ms\tBilled Duration: "
            f"{int(ms) + 1} ms\tMemory Size: 512 MB\tMax Memory Used: 100 MB\n"
        )
        headers = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": request_id}
        if failed:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if tail:
            headers["X-Amz-Log-Result"] = base64.b64encode(
                text.encode("utf-8")[-TAIL_BYTES:]
            ).decode()
        return _Answer(200, json.dumps(result).encode(), headers)

    def _find(self, name: str) -> Function | None:
        name = unquote(name)
        parts = name.split(":")
        if "function" in parts:  # an ARN, full or partial
            name = parts[parts.index("function") + 1]
        return self.functions.get(name.split(":")[0])

    # --- HTTP --------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle(self) -> None:
                # A client that gave up waiting (read timeout) has closed its end.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                if not (path.startswith(PATH_PREFIX) and path.endswith(PATH_SUFFIX)):
                    self._send(_error(404, "UnknownOperationException", f"no route {path}"))
                    return
                name = path[len(PATH_PREFIX) : -len(PATH_SUFFIX)]
                self._send(endpoint._invoke(name, self.headers, body))

            def _send(self, answer: _Answer) -> None:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.body)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _error(status: int, code: str, message: str, **extra: str) -> _Answer:
    body = json.dumps({"Type": "User", "message": message, **extra}).encode()
    return _Answer(status, body, {"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())})


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

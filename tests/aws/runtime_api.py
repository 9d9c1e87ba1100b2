"""A stand-in for the Lambda service's side of the Runtime API, for the real runtime client.

`awslambdaric` (the runtime interface client the managed Python runtime is built on) long-polls
`GET /2018-06-01/runtime/invocation/next`, calls the handler, and posts the result to
`.../invocation/{id}/response` or `.../invocation/{id}/error`; a failure while importing the
handler goes to `.../init/error`. `invoke()` queues an event and waits for that answer. The
deadline header is a real epoch time, so `context.get_remaining_time_in_millis()` is real, and
it is enforced as Lambda does: an invocation with no answer at its deadline fails with
`Sandbox.Timedout`, `on_timeout` is called (the function kills its process) and an answer
posted after that is refused.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:aurora-migrations"
ANSWERS = ("response", "error")
TIMED_OUT = "Sandbox.Timedout"


def _trace_id() -> str:
    return f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0"


@dataclass
class Invocation:
    event: Any
    timeout_ms: int
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None
    deadline_ms: int | None = None  # epoch ms, set when the runtime receives the invocation


@dataclass(frozen=True)
class Outcome:
    """What the runtime client posted back: a response, or an error with its type."""

    request_id: str
    ok: bool
    body: Any
    error_header: str | None = None
    timed_out: bool = False  # the deadline passed first; the stand-in ended the run

    @property
    def error_type(self) -> str | None:
        return None if self.ok else self.body.get("errorType")


class RuntimeApi:
    """`with RuntimeApi() as api:` serves on 127.0.0.1; `api.address` goes in
    AWS_LAMBDA_RUNTIME_API, `api.invoke(event, timeout_ms=...)` returns the `Outcome`."""

    def __init__(self, on_timeout: Callable[[], None] | None = None) -> None:
        self._pending: queue.Queue[Invocation] = queue.Queue()
        self._by_id: dict[str, Invocation] = {}
        self._answer_lock = threading.Lock()
        self._on_timeout = on_timeout
        self.late_answers: list[str] = []  # request ids answered after their deadline
        self._stopping = threading.Event()
        self.init_error: dict[str, Any] | None = None
        self.init_failed = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def __enter__(self) -> RuntimeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def invoke(self, event: Any, *, timeout_ms: int, wait_s: float = 120) -> Outcome:
        """Queue one invocation with a `timeout_ms` budget and wait for its outcome."""
        invocation = Invocation(event, timeout_ms)
        self._by_id[invocation.request_id] = invocation
        self._pending.put(invocation)
        deadline = time.monotonic() + wait_s
        while not invocation.done.wait(0.05):
            if self.init_failed.is_set():
                raise RuntimeError(f"the function failed to initialise: {self.init_error}")
            if self._overran(invocation):
                return self._time_out(invocation)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer to invocation {invocation.request_id}")
        assert invocation.outcome is not None
        return invocation.outcome

    @staticmethod
    def _overran(invocation: Invocation) -> bool:
        return invocation.deadline_ms is not None and time.time() * 1000 >= invocation.deadline_ms

    def _time_out(self, invocation: Invocation) -> Outcome:
        """What Lambda does at the deadline: the invoke fails and the environment is ended."""
        seconds = invocation.timeout_ms / 1000
        outcome = Outcome(
            invocation.request_id,
            ok=False,
            body={
                "errorType": TIMED_OUT,
                "errorMessage": f"RequestId: {invocation.request_id} Error: Task timed out "
                f"after {seconds:.2f} seconds",
            },
            error_header=TIMED_OUT,
            timed_out=True,
        )
        if not self._finish(invocation.request_id, outcome):
            assert invocation.outcome is not None  # the answer won the race by a hair
            return invocation.outcome
        if self._on_timeout is not None:
            self._on_timeout()
        return outcome

    # --- the HTTP side -------------------------------------------------------------------------

    def _next(self) -> Invocation | None:
        while not self._stopping.is_set():
            try:
                return self._pending.get(timeout=0.2)
            except queue.Empty:
                continue
        return None

    def _finish(self, request_id: str, outcome: Outcome) -> bool:
        """Record the first outcome of an invocation; False if unknown or already decided."""
        invocation = self._by_id.get(request_id)
        if invocation is None:
            return False
        with self._answer_lock:
            if invocation.outcome is not None:
                self.late_answers.append(request_id)
                return False
            invocation.outcome = outcome
        invocation.done.set()
        return True

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle(self) -> None:
                # The runtime process may be stopped while it long-polls.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._reply(404, {"errorMessage": f"unknown path {self.path}"})
                    return
                invocation = api._next()
                if invocation is None:
                    self.close_connection = True  # shutting down; the client is gone
                    return
                deadline_ms = int(time.time() * 1000) + invocation.timeout_ms
                invocation.deadline_ms = deadline_ms
                self._reply(
                    200,
                    invocation.event,
                    headers={
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                        "Lambda-Runtime-Trace-Id": _trace_id(),
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                parts = self.path.removeprefix(PREFIX).strip("/").split("/")
                error_header = self.headers.get("Lambda-Runtime-Function-Error-Type")
                if parts == ["init", "error"]:
                    api.init_error = {"body": body, "header": error_header}
                    api.init_failed.set()
                    self._reply(202, {"status": "OK"})
                    return
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ANSWERS:
                    late = api._by_id.get(parts[1])
                    if late is not None and api._overran(late):  # Lambda has ended it already
                        api.late_answers.append(parts[1])
                        self._reply(410, {"errorMessage": "the invocation timed out"})
                        return
                    ok = parts[2] == "response"
                    outcome = Outcome(parts[1], ok, body, None if ok else error_header)
                    found = api._finish(parts[1], outcome)
                    self._reply(202 if found else 400, {"status": "OK" if found else "unknown"})
                    return
                self._reply(404, {"errorMessage": f"unknown path {self.path}"})

            def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the test reads the function's own output

        return Handler

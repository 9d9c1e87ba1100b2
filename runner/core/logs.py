"""Structured JSON log lines (start, each step with its duration, finish or failure), and a
guard on every other log record the process writes.

The engine calls `log_event("step", revision=..., duration_ms=...)`; this module renders the
record as one JSON line (the line Powertools' formatter wrote, without importing Powertools:
its package import cost every cold start ~30 ms), adds the Lambda request id when there is
one, scrubs registered secrets from the finished line and keeps it under 64 KiB.

Records from other libraries reach the root logger's handlers: in Lambda the runtime's own,
at whatever level `ApplicationLogLevel` sets (DEBUG included). `protect_root` puts
`ScrubFilter` on each of those handlers and sets the AWS SDK's loggers to WARNING: at DEBUG
botocore logs whole response bodies (the `GetSecretValue` secret) and SigV4 signatures, before
the runner could register anything they contain.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

from runner.core import contract
from runner.core.redact import LINE_LIMIT, cap, scrub, scrub_data

LOGGER_NAME = "aurora_migrations"
SERVICE = contract.SERVICE_NAME
# Log request and response bodies, signatures and connection details below WARNING.
AWS_SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")
log = logging.getLogger(LOGGER_NAME)
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


# The record attributes that are not "extra" fields (Powertools' RESERVED_LOG_ATTRS).
_NOT_EXTRA = frozenset(
    [
        "name",
        "msg",
        "args",
        "level",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",
        "processName",
        "process",
        "asctime",
        "location",
        "timestamp",
    ]
)


class _JsonFormatter(logging.Formatter):
    """Powertools' `LambdaPowertoolsFormatter(utc=True)` line: level, location, message,
    timestamp, the extra fields, the exception; scrubbed and capped."""

    def format(self, record: logging.LogRecord) -> str:
        line = json.dumps(
            self.fields(record), default=str, separators=(",", ":"), ensure_ascii=False
        )
        return fit_line(scrub(line))

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        line: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": None,
            "timestamp": self.formatTime(record),
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _NOT_EXTRA)
        line["message"] = _message(record)
        exc = record.exc_info
        if isinstance(exc, tuple) and hasattr(exc[0], "__name__"):
            assert exc[0] is not None
            line["exception"] = line.get("exception", self.formatException(exc))
            line["exception_name"] = line.get("exception_name", exc[0].__name__)
            line["exception_notes"] = line.get(
                "exception_notes", getattr(exc[1], "__notes__", None)
            )
            line["stack_trace"] = {
                "type": exc[0].__name__,
                "value": exc[1],
                "module": exc[1].__class__.__module__,
                "frames": [
                    {"file": f.filename, "line": f.lineno, "function": f.name, "statement": f.line}
                    for f in traceback.extract_tb(exc[2])
                ],
            }
        trace = os.environ.get("_X_AMZN_TRACE_ID")
        line["xray_trace_id"] = trace.split(";")[0].replace("Root=", "") if trace else None
        return {k: v for k, v in line.items() if v is not None}

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """UTC, e.g. `2026-11-29 21:23:36,644+0000`."""
        msecs = f"{int(record.msecs):03d}"
        return time.strftime(f"%Y-%m-%d %H:%M:%S,{msecs}%z", time.gmtime(record.created))


def _message(record: logging.LogRecord) -> Any:
    """A dict as it is; %-args applied; a string that is JSON, decoded."""
    if isinstance(record.msg, dict):
        return record.msg
    if record.args:
        return record.getMessage()
    if isinstance(record.msg, str):
        try:
            return json.loads(record.msg)
        except ValueError:
            pass
    return record.msg


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.service = SERVICE
        request_id = _request_id.get()
        if request_id:
            record.request_id = request_id
        return True


class ScrubFilter(logging.Filter):
    """On a handler: scrub and cap every record; withhold the AWS SDK's records below WARNING.

    The message, the exception (folded into the message: some formatters print
    `str(exc_info[1])` themselves) and every extra attribute are scrubbed in place.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and _from_aws_sdk(record.name):
            return False
        if isinstance(record.msg, dict) and not (
            record.args or record.exc_info or record.stack_info
        ):
            record.msg = scrub_data(record.msg)
        else:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            if record.stack_info:
                text += "\n" + record.stack_info
            record.msg, record.args = cap(scrub(text), LINE_LIMIT), None
            record.exc_info = record.exc_text = record.stack_info = None
        for key, value in list(vars(record).items()):
            if key not in _RESERVED:
                setattr(record, key, scrub_data(value))
        return True


def _from_aws_sdk(name: str) -> bool:
    return any(name == sdk or name.startswith(sdk + ".") for sdk in AWS_SDK_LOGGERS)


def configure_logging(stream: IO[str] | None = None, level: str = "INFO") -> None:
    """Send our logs and Alembic's as JSON lines to `stream` (stderr by default).

    If the root logger has no handler (the CLI), it gets one too, at WARNING, so that other
    libraries' warnings are JSON lines and scrubbed instead of going to `logging.lastResort`.
    """
    handler = _json_handler(stream)
    for name in (LOGGER_NAME, "alembic"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level if name == LOGGER_NAME else max(logging.WARNING, _level(level)))
        logger.propagate = False
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "aurora_migrations", False)]
    if ours or not root.handlers:
        for old in ours:
            root.removeHandler(old)
        root_handler = _json_handler(stream)
        root_handler.setLevel(logging.WARNING)
        root_handler.aurora_migrations = True  # type: ignore[attr-defined]
        root.addHandler(root_handler)
    protect_root()


def _json_handler(stream: IO[str] | None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter())
    handler.addFilter(_ContextFilter())
    return handler


def protect_root() -> None:
    """Scrub on every root handler and keep the AWS SDK at WARNING. Idempotent; cheap."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())
    for name in AWS_SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:  # NOTSET inherits the root's DEBUG
            logger.setLevel(logging.WARNING)
    logging.captureWarnings(True)  # warnings.warn(...) goes through the handlers, scrubbed


def _level(level: str) -> int:
    return logging.getLevelNamesMapping().get(level.upper(), logging.INFO)


def ensure_logging(stream: IO[str] | None = None) -> None:
    """Configure logging unless something (a test, the CLI) already did; always protect root."""
    if not logging.getLogger(LOGGER_NAME).handlers:
        configure_logging(stream)
    protect_root()


def fit_line(line: str) -> str:
    """A JSON log line over `LINE_LIMIT`, re-emitted with its long strings and lists cut."""
    if len(line) <= LINE_LIMIT:
        return line
    try:
        data = json.loads(line)
    except ValueError:
        return cap(line, LINE_LIMIT)
    for each in (4096, 256):
        shrunk = json.dumps(_shrink(data, each), default=str)
        if len(shrunk) <= LINE_LIMIT:
            return shrunk
    keep = ("level", "timestamp", "message", "event", "service", "request_id", "run_id")
    return json.dumps({**{k: data[k] for k in keep if k in data}, "cut": len(line)}, default=str)


def _shrink(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return cap(value, limit)
    if isinstance(value, dict):
        return {k: _shrink(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        items = [_shrink(v, limit) for v in value[:50]]
        return items + ([f"[... {len(value)} items in all]"] if len(value) > 50 else [])
    return value


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Every line written meanwhile, ours and Alembic's, carries `request_id` (Lambda's).

    Not Powertools' `Logger.inject_lambda_context`: it tags only the records of the Powertools
    Logger's own logger (named after the service), as `function_request_id`, and keeps the keys
    after the invocation; that Logger also sets its logger's level and handler when created,
    which here belong to `configure_logging` and are shared with the CLI.
    """
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def log_event(event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """One structured line: `event` names what happened, `fields` carry the data."""
    extra = {(f"{key}_" if key in _RESERVED else key): value for key, value in fields.items()}
    log.log(level, event, extra={"event": event, **extra})

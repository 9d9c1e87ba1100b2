"""Structured JSON log lines: start, each step with its duration, finish or failure.

The engine calls `log_event("step", revision=..., duration_ms=...)`; this module renders the
record as one JSON line (Powertools' formatter), adds the Lambda request id when there is
one, and scrubs registered secrets from the finished line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from runner.redact import scrub

LOGGER_NAME = "aurora_migrations"
SERVICE = "aurora-migrations"
log = logging.getLogger(LOGGER_NAME)
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class _JsonFormatter(LambdaPowertoolsFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.service = SERVICE
        request_id = _request_id.get()
        if request_id:
            record.request_id = request_id
        return True


def configure_logging(stream: IO[str] | None = None, level: str = "INFO") -> None:
    """Send our logs and Alembic's as JSON lines to `stream` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter(utc=True))
    handler.addFilter(_ContextFilter())
    for name in (LOGGER_NAME, "alembic"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level if name == LOGGER_NAME else max(logging.WARNING, _level(level)))
        logger.propagate = False


def _level(level: str) -> int:
    return logging.getLevelNamesMapping().get(level.upper(), logging.INFO)


def ensure_logging(stream: IO[str] | None = None) -> None:
    """Configure logging unless something (a test, the CLI) already did."""
    if not logging.getLogger(LOGGER_NAME).handlers:
        configure_logging(stream)


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def log_event(event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """One structured line: `event` names what happened, `fields` carry the data."""
    extra = {(f"{key}_" if key in _RESERVED else key): value for key, value in fields.items()}
    log.log(level, event, extra={"event": event, **extra})

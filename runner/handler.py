"""The Lambda entry point: a thin adapter from an invoke event to the engine and back.

Success returns the result as JSON, scrubbed of every registered secret. Failure raises, so
`aws lambda invoke` reports a `FunctionError` whose `errorType` is the error class (e.g.
`ConfirmationRequired`); anything unexpected becomes an `InternalError` with a scrubbed,
capped message, and its traceback goes to the log, scrubbed. Every invocation first makes
sure the runtime's root log handlers scrub too (`protect_root`). The engine is cached across
warm invocations; so is the database secret.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from aws_lambda_powertools.metrics import Metrics, MetricUnit

from runner.engine import MigrationEngine
from runner.errors import AuroraMigrationsError, BadRequest, ConfigurationError, InternalError
from runner.events import parse_event
from runner.logs import SERVICE, ensure_logging, log, log_event, request_context
from runner.redact import scrub_data
from runner.settings import Settings
from runner.sources import credential_source

NAMESPACE = "AuroraMigrations"
_engine: MigrationEngine | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ensure_logging(sys.stdout)
    request_id = getattr(context, "aws_request_id", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
    with request_context(request_id):
        request = None
        try:
            request = parse_event(event)
            result = _get_engine().run(request, remaining_ms=remaining, request_id=request_id)
        except AuroraMigrationsError as exc:
            if request is None:  # refused before the engine, which logs its own failures
                log_event(
                    "run.refused",
                    level=logging.WARNING,
                    error_type=type(exc).__name__,
                    error=exc.message,
                )
            refused = isinstance(exc, BadRequest | ConfigurationError)
            name = "RequestsRefused" if refused else "MigrationFailures"
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
            _add_applied(metrics, exc.details.get("applied", []))
            raise
        except Exception as exc:
            log.error("unexpected error", exc_info=True, extra={"event": "run.crashed"})
            metrics.add_metric(name="MigrationFailures", unit=MetricUnit.Count, value=1)
            raise InternalError(
                f"Unexpected {type(exc).__name__}: {exc}. This is a bug in the runner or in a "
                "revision; the logs have the (scrubbed) traceback."
            ) from None
        else:
            metrics.add_metric(name="MigrationFailures", unit=MetricUnit.Count, value=0)
            _add_applied(metrics, [a.revision for a in result.applied])
            if result.lock_wait_ms is not None:
                metrics.add_metric(
                    name="LockWaitMs", unit=MetricUnit.Milliseconds, value=result.lock_wait_ms
                )
        finally:
            metrics.flush_metrics(raise_on_empty_metrics=False)
        return scrub_data(result.to_dict())


def _add_applied(metrics: Metrics, applied: list[str]) -> None:
    metrics.add_metric(name="RevisionsApplied", unit=MetricUnit.Count, value=len(applied))


def _get_engine() -> MigrationEngine:
    global _engine
    if _engine is None:
        settings = Settings.from_env()
        _engine = MigrationEngine(settings, credential_source(settings))
    return _engine


def reset_engine() -> None:
    """Forget the cached engine (tests, or after configuration changes)."""
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = None
    logging.getLogger(__name__).debug("engine reset")

"""The Lambda entry point: a thin adapter from an invoke event to the engine and back.

Success returns the result as JSON, scrubbed of every registered secret. Failure raises, so
`aws lambda invoke` reports a `FunctionError` whose `errorType` is the error class (e.g.
`ConfirmationRequired`); anything unexpected becomes an `InternalError` with a scrubbed,
capped message, and its traceback goes to the log, scrubbed. Every invocation first makes
sure the runtime's root log handlers scrub too (`protect_root`). Every invocation publishes
its metrics as one EMF line (`runner.contract` names them): a failed run counts
`MigrationFailures`, which pages; a refused request counts `RequestsRefused`, which does not.
The engine is cached across warm invocations; so is the database secret.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from aws_lambda_powertools.metrics import Metrics, MetricUnit

from runner import contract
from runner.engine import MigrationEngine
from runner.errors import AuroraMigrationsError, BadRequest, ConfigurationError, InternalError
from runner.events import parse_event
from runner.logs import ensure_logging, log, log_event, request_context
from runner.redact import scrub_data
from runner.settings import Settings
from runner.sources import credential_source

# The stack's alarms and dashboard read these metrics (see `runner.contract`). Every
# invocation publishes both outcome counts, so a refused request never counts as a failure.
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
_engine: MigrationEngine | None = None


@metrics.log_metrics  # publishes the invocation's metrics when it returns or raises
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ensure_logging(sys.stdout)
    request_id = getattr(context, "aws_request_id", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    with request_context(request_id):
        request = None
        try:
            request = parse_event(event)
            result = _get_engine().run(
                request,
                remaining_ms=remaining,
                request_id=request_id,
                function_arn=getattr(context, "invoked_function_arn", None),
            )
        except AuroraMigrationsError as exc:
            if request is None:  # refused before the engine, which logs its own failures
                log_event(
                    "run.refused",
                    level=logging.WARNING,
                    error_type=type(exc).__name__,
                    error=exc.message,
                )
            refused = isinstance(exc, BadRequest | ConfigurationError)
            _count_outcome(failed=not refused, refused=refused)
            _count_applied(exc.details.get("applied", []))
            raise
        except Exception as exc:
            log.error("unexpected error", exc_info=True, extra={"event": "run.crashed"})
            _count_outcome(failed=True)
            raise InternalError(
                f"Unexpected {type(exc).__name__}: {exc}. This is a bug in the runner or in a "
                "revision; the logs have the (scrubbed) traceback."
            ) from None
        _count_outcome()
        _count_applied([a.revision for a in result.applied])
        if result.lock_wait_ms is not None:
            metrics.add_metric(
                name=contract.METRIC_LOCK_WAIT_MS,
                unit=MetricUnit.Milliseconds,
                value=result.lock_wait_ms,
            )
        if result.drift_count is not None:
            metrics.add_metric(
                name=contract.METRIC_SCHEMA_DRIFT, unit=MetricUnit.Count, value=result.drift_count
            )
        return scrub_data(result.to_dict())


def _count_outcome(*, failed: bool = False, refused: bool = False) -> None:
    """A failed run pages (`MigrationFailures`); a refused request only shows on the dashboard."""
    for name, value in (
        (contract.METRIC_MIGRATION_FAILURES, failed),
        (contract.METRIC_REQUESTS_REFUSED, refused),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=int(value))


def _count_applied(applied: list[str]) -> None:
    metrics.add_metric(
        name=contract.METRIC_REVISIONS_APPLIED, unit=MetricUnit.Count, value=len(applied)
    )


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

"""The Lambda entry point: a thin adapter from an invoke event to the engine and back.

Success returns the result as JSON, scrubbed of every registered secret. Failure raises, so
`aws lambda invoke` reports a `FunctionError` whose `errorType` is the error class (e.g.
`ConfirmationRequired`); anything unexpected becomes an `InternalError` with a scrubbed,
capped message, and its traceback goes to the log, scrubbed. Every invocation first makes
sure the runtime's root log handlers scrub too (`protect_root`). Every invocation publishes
its metrics as one EMF line (`runner.core.contract` names them): a failed run counts
`MigrationFailures`, which pages; a refused request counts `RequestsRefused`, which does not.
The engine is imported only when a run needs it, so a cold start does not pay for Alembic and
SQLAlchemy up front; a no-op `upgrade`/`current` at the bundle's head is answered by
`runner.core.fastpath` without them, warm or cold. Settings, the credential source (and so
the database secret), the engine (and its parsed revision graph) and the fast path's one
connection (autocommit: idle between invocations, holding no lock; its own query tells whether
it still lives) are kept across warm invocations. The engine's connections are not: the one
that held the migration lock is closed after each run, so the lock cannot outlive the run.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from runner.adapters import emf
from runner.adapters.events import parse_event
from runner.core import contract, fastpath
from runner.core.errors import AuroraMigrationsError, BadRequest, ConfigurationError, InternalError
from runner.core.logs import ensure_logging, log, log_event, request_context
from runner.core.redact import scrub_data
from runner.core.results import Request, Result
from runner.core.settings import Settings

if TYPE_CHECKING:  # the engine imports Alembic and SQLAlchemy: only a run that needs it pays
    from runner.core.database import CredentialSource
    from runner.core.engine import MigrationEngine

# The stack's alarms and dashboard read these metrics (see `runner.core.contract`). Every
# invocation publishes both outcome counts, so a refused request never counts as a failure.
metrics = emf.Metrics(namespace=contract.METRICS_NAMESPACE, dimensions=contract.METRIC_DIMENSIONS)
_engine: MigrationEngine | None = None
_settings: Settings | None = None
_source: CredentialSource | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return _invoke(event, context)
    finally:  # the invocation's metrics, one EMF line, whether it returned or raised
        metrics.flush()


def _invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ensure_logging(sys.stdout)
    request_id = getattr(context, "aws_request_id", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    with request_context(request_id):
        request = None
        try:
            request = parse_event(event)
            result = _run(
                request, remaining, request_id, getattr(context, "invoked_function_arn", None)
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
                unit=emf.MILLISECONDS,
                value=result.lock_wait_ms,
            )
        if result.drift_count is not None:
            metrics.add_metric(
                name=contract.METRIC_SCHEMA_DRIFT, unit=emf.COUNT, value=result.drift_count
            )
        return scrub_data(result.to_dict())


def _count_outcome(*, failed: bool = False, refused: bool = False) -> None:
    """A failed run pages (`MigrationFailures`); a refused request only shows on the dashboard."""
    for name, value in (
        (contract.METRIC_MIGRATION_FAILURES, failed),
        (contract.METRIC_REQUESTS_REFUSED, refused),
    ):
        metrics.add_metric(name=name, unit=emf.COUNT, value=int(value))


def _count_applied(applied: list[str]) -> None:
    metrics.add_metric(name=contract.METRIC_REVISIONS_APPLIED, unit=emf.COUNT, value=len(applied))


def _run(
    request: Request, remaining: Any, request_id: str | None, function_arn: str | None
) -> Result:
    """The fast no-op answer when the manifest allows it (`core.fastpath`), else the engine.

    Warm or cold, engine loaded or not: a no-op on the kept connection is one round trip, where
    the engine opens a connection, takes the lock and hashes every revision file."""
    started = time.monotonic()
    settings = _get_settings()
    result = fastpath.try_fast(request, settings, lambda: _credentials(settings))
    if result is not None:
        fastpath.log_answer(
            request.command, request.revision, result, int((time.monotonic() - started) * 1000)
        )
        return result
    return _get_engine().run(
        request, remaining_ms=remaining, request_id=request_id, function_arn=function_arn
    )


def _get_settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def _credentials(settings: Settings) -> CredentialSource:
    """One credential source per process, shared by the fast path and the engine."""
    global _source
    if _source is None:
        from runner.core.sources import credential_source

        _source = credential_source(settings)
    return _source


def _get_engine() -> MigrationEngine:
    global _engine
    if _engine is None:
        from runner.core.engine import MigrationEngine

        settings = _get_settings()
        _engine = MigrationEngine(settings, _credentials(settings))
    return _engine


def reset_engine() -> None:
    """Forget the cached engine, settings, credentials and fast-path state (tests, or after
    configuration changes)."""
    global _engine, _settings, _source
    if _engine is not None:
        _engine.dispose()
    _engine = _settings = _source = None
    fastpath.reset()
    logging.getLogger(__name__).debug("engine reset")

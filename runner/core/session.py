"""The runner's session settings, applied when it connects and again before every revision.

A revision may run a plain `SET lock_timeout = ...` (real chains do); re-applying ours before
each revision means it cannot change the limits of the revisions after it. A revision that
wants its own limits uses `SET LOCAL`, which ends with its transaction.

The idle timeouts are switched off so that neither the server nor a proxy's idle limit can
close the connection that holds the migration lock, and `client_connection_check_interval`
makes the server notice a vanished client during a long statement instead of after it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from runner.core.settings import Settings

CLIENT_CHECK_INTERVAL_MS = 1000


def settings_sql(settings: Settings) -> str:
    return "; ".join(
        [
            f"SET lock_timeout = {int(settings.lock_timeout_ms)}",
            f"SET statement_timeout = {int(settings.statement_timeout_ms)}",
            "SET idle_session_timeout = 0",
            "SET idle_in_transaction_session_timeout = 0",
            f"SET client_connection_check_interval = {CLIENT_CHECK_INTERVAL_MS}",
        ]
    )


def apply(conn: Connection, settings: Settings) -> None:
    """Set the runner's limits on `conn` (in the current transaction; the caller commits)."""
    conn.exec_driver_sql(settings_sql(settings))


def apply_then(conn: Connection, settings: Settings, sql: str, params: dict[str, Any]) -> Any:
    """Re-apply the limits, then run `sql` (driver-level, `%(name)s` parameters): one round
    trip. Returns the first value `sql` returns, or None when it returns no row."""
    return conn.exec_driver_sql(f"{settings_sql(settings)}; {sql}", params).scalar()

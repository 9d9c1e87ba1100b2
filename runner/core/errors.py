"""The one error hierarchy of aurora-migrations.

Every error says what happened and what to do. The engine raises these; only the edges
translate them: the CLI into exit codes (2 for a bad request or configuration, 1 for
everything else), the Lambda handler into a function error whose type is the class name.
Messages never contain a password or token: URLs are rendered with the password hidden, and
`runner.core.redact` scrubs any registered secret as a last line of defence, and caps the message.
"""

from __future__ import annotations

from typing import Any

from runner.core import redact


class AuroraMigrationsError(Exception):
    """Root of every error this project raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(redact.clean(message))  # scrubbed, then capped at 8 KiB
        self.details = {key: value for key, value in details.items() if value is not None}

    def __str__(self) -> str:
        return redact.scrub(super().__str__())  # again: a secret may be registered since

    @property
    def message(self) -> str:
        return str(self)

    def to_dict(self) -> dict[str, Any]:
        details = redact.scrub_data(self.details)
        return {
            "ok": False,
            "errorType": type(self).__name__,
            "message": self.message,
            **{k: _capped(v) for k, v in details.items()},
        }


def _capped(value: Any) -> Any:
    return redact.cap(value) if isinstance(value, str) else value


# --- the request was wrong: nothing was changed, fix the request (CLI exit 2) ---------------


class BadRequest(AuroraMigrationsError):
    """The request could not be understood or is not allowed; the database was not touched."""


class UnknownCommand(BadRequest):
    """The `command` is not one the runner offers."""


class UnknownField(BadRequest):
    """The request has a field the command does not take."""


class MissingField(BadRequest):
    """The command needs a field the request does not have."""


class InvalidFieldType(BadRequest):
    """A field has the wrong JSON type."""


class MalformedRevision(BadRequest):
    """The revision expression is not of a form Alembic understands."""


class UnknownRevision(BadRequest):
    """The revision expression names no revision in this project."""


class MultipleHeads(BadRequest):
    """The revision tree has more than one head, so `head` is ambiguous."""


class InvalidTarget(BadRequest):
    """The target exists but is not reachable in the requested direction."""


class ConfirmationRequired(BadRequest):
    """A destructive command needs `confirm` equal to the database's current revision."""


class FieldTooLong(BadRequest):
    """A field is longer than any revision expression or confirmation needs to be."""


class DuplicateRevision(BadRequest):
    """Two revision files declare the same revision id; Alembic would silently use one."""


class RevisionLoadFailed(BadRequest):
    """A revision file cannot be loaded by Python (a syntax error, a failing import)."""


class RenumberRefused(BadRequest):
    """`renumber` cannot renumber that file safely; nothing was written."""


class InvalidName(BadRequest):
    """A role or schema name `bootstrap-migrator` does not accept."""


class BootstrapRefused(BadRequest):
    """The role or schema is in a state `bootstrap-migrator` must not paper over."""


class OutputUnwritable(BadRequest):
    """The CLI could not write its output file (`sql --output`); nothing was run."""


class ChangedRevision(BadRequest):
    """An applied revision's file was edited since; upgrade refuses unless `allow_changed`."""


class BaselineRefused(BadRequest):
    """The live schema differs from the expected schema at the revision, or it is versioned."""


class ImportRefused(BadRequest):
    """`import-sql` cannot turn that folder into revisions safely; nothing was written."""


class ReviewRefused(BadRequest):
    """`review` cannot compare with that base (unknown ref, no shared history, not a git
    checkout, or no git); nothing was read or rendered."""


class ConfigurationError(AuroraMigrationsError):
    """The runner is not configured well enough to reach a database."""


class RemoteRefused(BadRequest):
    """The deployed function refused the request (a bad request or its configuration there).

    Nothing was changed. `details` carry `remote_error_type` (e.g. `ConfirmationRequired`),
    `function` and `request_id`; the message is the function's own, which says what to fix.
    """


class RemoteNotConfigured(ConfigurationError):
    """Remote mode lacks what it needs to reach the function (region, credentials, a name)."""


class FunctionNotFound(RemoteNotConfigured):
    """No deployed migrations function answers to that name (or environment) in this region."""


class ClusterNotFound(RemoteNotConfigured):
    """The Aurora cluster to snapshot could not be found; nothing was snapshotted or migrated."""


# --- something failed while running (CLI exit 1) -----------------------------------------


class DatabaseUnavailable(AuroraMigrationsError):
    """The database could not be reached (down, paused, unreachable, or timed out)."""


class SecretUnreadable(DatabaseUnavailable):
    """The database secret could not be read or has the wrong shape."""


class AuthenticationFailed(DatabaseUnavailable):
    """The database refused the credentials, even after re-reading them once."""


class TlsError(DatabaseUnavailable):
    """TLS to the database could not be set up, or the server's certificate was not trusted."""


class DatabaseAhead(AuroraMigrationsError):
    """The database is at a revision this project does not contain (a newer deploy ran)."""


class LockWaitTimeout(AuroraMigrationsError):
    """Another migration run held the migration lock for longer than we were willing to wait."""


class LockLost(AuroraMigrationsError):
    """The run no longer holds the migration lock, so it stopped before its next statement."""


class ConnectionLost(LockLost):
    """The connection running the migrations (and holding the lock) was lost mid-run."""


class HistoryWriteFailed(AuroraMigrationsError):
    """A revision ran, but its history row could not be written; its transaction rolled back."""


class MigrationFailed(AuroraMigrationsError):
    """A revision failed; it was rolled back alone and earlier revisions stay applied."""


class StatementTimeout(MigrationFailed):
    """A statement ran longer than `MIGRATION_STATEMENT_TIMEOUT_MS`; its revision rolled back."""


class LockTimeout(MigrationFailed):
    """A statement waited longer than `MIGRATION_LOCK_TIMEOUT_MS` for a table lock."""


class BootstrapFailed(AuroraMigrationsError):
    """`bootstrap-migrator` failed; its one transaction rolled back, so nothing changed."""


class InternalError(AuroraMigrationsError):
    """An unexpected failure inside the runner: a bug. The logs have the traceback."""


class LocalDatabaseError(AuroraMigrationsError):
    """The local development or test PostgreSQL could not be created or started."""


class BundleFailed(AuroraMigrationsError):
    """The Lambda deployment bundle could not be built (pip failed, or a bad output folder)."""


class ExpectedSchemaMissing(ConfigurationError):
    """No expected schema was shipped for this project, so drift and baseline cannot compare."""


class ExpectedSchemaUnavailable(BundleFailed):
    """The expected schema could not be built: no PostgreSQL server binaries, or a revision
    failed on the throwaway database."""


class IrreversibleRevision(MigrationFailed):
    """A revision imported from a SQL file without a down script cannot be downgraded."""


class OfflineSqlUnavailable(AuroraMigrationsError):
    """A revision cannot be rendered as SQL without a database (it reads results or commits)."""


class RemoteFailure(AuroraMigrationsError):
    """The deployed function ran and failed (a `FunctionError`), or answered with no result.

    `details` carry `remote_error_type`, `function`, `request_id` and, when known, the
    `revision` that failed, the `state` and what stayed `applied`; `log_tail` with `--logs`.
    """


class InvocationFailed(AuroraMigrationsError):
    """Lambda did not run the function (refused, unreachable or misconfigured); nothing ran."""


class FunctionBusy(InvocationFailed):
    """Another invocation holds the function's only slot (reserved concurrency 1); not started."""


class InvocationOutcomeUnknown(AuroraMigrationsError):
    """The invoke was sent but no answer came back; it may still be running. Never retried."""


class SnapshotFailed(AuroraMigrationsError):
    """The cluster snapshot failed or was not available in time, so nothing was migrated."""


class LinterUnavailable(ConfigurationError):
    """`lint` needs the pinned squawk binary (the `squawk-cli` package), and it is missing."""


class LintFindingsRefused(BadRequest):
    """The bundle builder found lint findings that no revision opted out of."""

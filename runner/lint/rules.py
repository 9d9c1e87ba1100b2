"""The project's rule configuration: our own rules, and which squawk rules are off and why.

Every squawk rule not listed in `SQUAWK_OFF` is on (squawk's defaults). Rules are about live
traffic: a lock that blocks the application, or a wait for one. Style rules are off.
"""

from __future__ import annotations

from dataclasses import dataclass

# Aurora PostgreSQL 16: squawk knows, for example, that a constant default no longer rewrites.
PG_VERSION = "16"


@dataclass(frozen=True)
class Rule:
    id: str
    problem: str
    fix: str


COMMIT_IN_REVISION = Rule(
    "commit-in-revision",
    "The revision commits on the migration connection, so work before the commit cannot be "
    "rolled back with the rest of the revision.",
    "Put the statements that must run outside a transaction in "
    "`with op.get_context().autocommit_block():` (or use a `runner.authoring.safe_ddl` helper).",
)
PLAIN_SET_TIMEOUT = Rule(
    "plain-set-timeout",
    "A plain `SET lock_timeout` / `SET statement_timeout` is meant for the whole revision but "
    "outlives its transaction (the runner resets it before the next revision).",
    "Use `SET LOCAL lock_timeout = ...` (or `SET LOCAL statement_timeout`), which ends with "
    "the revision's transaction.",
)
BACKFILL_WITHOUT_BATCHING = Rule(
    "backfill-without-batching",
    "One UPDATE (or INSERT ... SELECT) over a whole existing table holds row locks on every "
    "row it touches until the revision commits, blocking the application's writes to them.",
    "Use `runner.authoring.safe_ddl.backfill_in_batches(...)`: each batch in its own short "
    "transaction.",
)
OFFLINE_RENDER_FAILED = Rule(
    "offline-render-failed",
    "The revision cannot be rendered as SQL without a database, so neither a reviewer nor "
    "squawk can read what it runs.",
    "Do not read query results or commit in the revision body; use "
    "`runner.authoring.safe_ddl` helpers, which render offline.",
)
INVALID_LINT_IGNORE = Rule(
    "invalid-lint-ignore",
    "The revision's `lint_ignore` is not a dict literal of known rule ids to non-empty reasons.",
    'Write `lint_ignore = {"rule-id": "why it is safe here"}` at module level.',
)

OWN_RULES = {
    rule.id: rule
    for rule in (
        COMMIT_IN_REVISION,
        PLAIN_SET_TIMEOUT,
        BACKFILL_WITHOUT_BATCHING,
        OFFLINE_RENDER_FAILED,
        INVALID_LINT_IGNORE,
    )
}
# A broken opt-out cannot opt itself out.
NOT_IGNORABLE = frozenset({INVALID_LINT_IGNORE.id})

# squawk rules switched off for this project, with the reason (shown in the README too).
SQUAWK_OFF: dict[str, str] = {
    "require-lock-timeout": "the runner sets lock_timeout (MIGRATION_LOCK_TIMEOUT_MS) on the "
    "migration session before every revision; rendered SQL does not show it",
    "require-statement-timeout": "the runner sets statement_timeout "
    "(MIGRATION_STATEMENT_TIMEOUT_MS) before every revision; rendered SQL does not show it",
    "prefer-bigint-over-int": "column type style, not a lock",
    "prefer-bigint-over-smallint": "column type style, not a lock",
    "prefer-identity": "column type style, not a lock",
    "prefer-text-field": "column type style; widening a varchar takes only a brief lock",
    "prefer-timestamp-tz": "column type style, not a lock",
    "ban-char-field": "column type style, not a lock",
}

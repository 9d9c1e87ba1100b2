"""The migration engine: one core under the Lambda handler and the `aurora-migrate` CLI.

Each command is a thin verb in the style of `alembic.command`: it works out which steps to
run, then hands Alembic a closure that yields them. A mutating run uses one connection for
everything: the migration lock, the revisions and the record, so the lock lives exactly as
long as the work (`runner.core.lock`). The engine hands that connection to `env.py` through
`Config.attributes`. It knows nothing of boto3 or argv.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

from runner.core import driver_errors, history_table, lock, offline_sql, redact, revisions, session
from runner.core.blockers import BlockerWatch
from runner.core.database import CredentialSource, connect, make_engine
from runner.core.driver_errors import Failure
from runner.core.errors import (
    AuroraMigrationsError,
    ConfirmationRequired,
    ConnectionLost,
    HistoryWriteFailed,
    InvalidTarget,
    LockLost,
    MigrationFailed,
)
from runner.core.logs import log_event
from runner.core.progress import (
    LOCK_ACQUIRED,
    LOCK_WAITING,
    STEP_DONE,
    STEP_START,
    Progress,
    ProgressCallback,
)
from runner.core.redact import safe_url
from runner.core.results import AppliedRevision, Request, Result, state_label
from runner.core.settings import Settings
from runner.core.transaction_watch import MAX_LISTED, TransactionWatch
from runner.integrity import baseline, checksums, drift, repair, schema, validate

RemainingMs = Callable[[], int]
MUTATING = ("upgrade", "downgrade", "stamp")


@dataclass
class _Run:
    """Book-keeping for one command: what has been applied and what is in flight."""

    request: Request
    run_id: str
    request_id: str | None
    remaining_ms: RemainingMs | None
    progress: ProgressCallback | None = None
    started: float = field(default_factory=time.monotonic)
    applied: list[AppliedRevision] = field(default_factory=list)
    in_flight: Any = None
    step_started: float = 0.0
    stopped_early: bool = False
    phase: str = "starting"
    watch: TransactionWatch | None = None
    blockers: BlockerWatch | None = None
    retries: list[dict[str, Any]] = field(default_factory=list)
    who: checksums.RunBy | None = None
    runner_version: str = ""  # read once per run: every row of the run records it
    running_row: int | None = None  # the `running` row of the step in flight (or up next)
    # The step just recorded (its history row, what it did) until its transaction commits.
    committing: tuple[int, AppliedRevision] | None = None
    up_next: Any = None  # the step after the one in flight, if any
    lock_held: bool = True  # as last checked, in the transaction before the next revision

    def row(self, **values: Any) -> dict[str, Any]:
        """The columns every history row of this run shares, plus `values`."""
        who = self.who
        assert who is not None
        return {
            "run_id": self.run_id,
            "command": self.request.command,
            "request_id": who.request_id,
            "runner_version": self.runner_version,
            "run_by": who.run_by,
            "function_arn": who.function_arn,
            **values,
        }


class MigrationEngine:
    """Runs `Request`s against one database and returns `Result`s."""

    def __init__(self, settings: Settings, source: CredentialSource) -> None:
        self.settings = settings
        self.source = source
        self.script = ScriptDirectory.from_config(self._config())
        self._engine: Engine | None = None

    # --- entry point -----------------------------------------------------------------------

    def run(
        self,
        request: Request,
        *,
        remaining_ms: RemainingMs | None = None,
        request_id: str | None = None,
        progress: ProgressCallback | None = None,
        function_arn: str | None = None,
    ) -> Result:
        """Run one command. Raises an `AuroraMigrationsError` on any failure.

        `progress`, if given, hears of the lock wait and of each revision as it runs.
        `request_id` and `function_arn` say which Lambda invocation ran it, for the history;
        without them the history names the local user and host.
        """
        run = _Run(request, str(uuid.uuid4()), request_id, remaining_ms, progress)
        run.who = checksums.run_by(function_arn=function_arn, request_id=request_id)
        run.runner_version = checksums.runner_version()
        log_event(
            "run.start",
            command=request.command,
            revision=request.revision,
            run_id=run.run_id,
            database=self.describe_database(),
        )
        try:
            if request.command != "validate":  # validate reports duplicates as findings
                revisions.validate_target(self.script, request.revision)
            command: Callable[[_Run], Result] = getattr(self, f"_{request.command}")
            result = command(run)
        except AuroraMigrationsError as exc:
            log_event(
                "run.failed",
                level=logging.ERROR,
                command=request.command,
                run_id=run.run_id,
                error_type=type(exc).__name__,
                error=exc.message,
                duration_ms=_ms_since(run.started),
                **({"applied": [a.revision for a in run.applied]} if run.applied else {}),
            )
            raise
        result.duration_ms = _ms_since(run.started)
        log_event(
            "run.finish",
            command=request.command,
            run_id=run.run_id,
            before=result.before,
            after=result.after,
            applied=[a.revision for a in result.applied],
            pending=result.pending,
            complete=result.complete,
            duration_ms=result.duration_ms,
        )
        return result

    def describe_database(self) -> str:
        return safe_url(self.source.url())

    # --- commands ----------------------------------------------------------------------------

    def _heads(self, run: _Run) -> Result:
        heads = list(self.script.get_heads())
        return Result(command="heads", heads=heads, message=f"{len(heads)} head(s)")

    def _current(self, run: _Run) -> Result:
        with self._connection() as conn:
            current = revisions.current_heads(conn)
        return Result(
            command="current",
            before=current,
            after=current,
            pending=revisions.pending(self.script, current),
            heads=list(self.script.get_heads()),
        )

    def offline_history(self) -> Result:
        """Every revision from the files alone (`history --offline`): nothing connects."""
        revisions.validate_target(self.script, None)
        return Result(
            command="history",
            heads=list(self.script.get_heads()),
            revisions=[
                dataclasses.replace(info, applied=None)
                for info in revisions.describe_all(self.script, [], {})
            ],
            message="From the revision files alone (offline): applied or pending is not known.",
        )

    def _history(self, run: _Run) -> Result:
        with self._connection() as conn:
            current = revisions.current_heads(conn)
            applied_at = history_table.last_applied(conn)
            applied_by = history_table.last_applied_by(conn)
            conn.rollback()
        return Result(
            command="history",
            before=current,
            after=current,
            pending=revisions.pending(self.script, current),
            heads=list(self.script.get_heads()),
            revisions=revisions.describe_all(self.script, current, applied_at, applied_by),
        )

    def _sql(self, run: _Run) -> Result:
        """The SQL an upgrade (or downgrade) to the target would run, without running it."""
        expression = run.request.revision or "head"
        with self._connection() as conn:
            current = revisions.current_heads(conn)
        plan = self._plan_either_way(expression, current)
        buffer = io.StringIO()
        offline_sql.render(
            self._config(output=buffer),
            self.script,
            plan,
            current,
            run_id=f"offline-{run.run_id}",
            request_id=run.request_id,
        )
        return Result(
            command="sql",
            before=current,
            after=current,
            target=plan.target_label,
            target_expression=expression,
            pending=[s.revision for s in plan],
            heads=list(self.script.get_heads()),
            sql=buffer.getvalue(),
            message=f"{plan.direction}grade: {len(plan)} revision(s), none run",
        )

    def _validate(self, run: _Run) -> Result:
        """Does the history agree with the code? Read-only; findings, not errors."""
        with self._connection() as conn:
            found = validate.check(conn, self.script)
            current = revisions.current_heads(conn)
            conn.rollback()
        return Result(
            command="validate",
            before=current,
            after=current,
            heads=sorted(self.script.get_heads()),
            findings=found,
            message=_found(found, "the history agrees with the code"),
        )

    def _drift(self, run: _Run) -> Result:
        """The live schema against the expected schema at the database's revision. Read-only."""
        expected = drift.load_expected(self.settings.alembic_ini)
        with self._connection() as conn:
            current = revisions.current_heads(conn)
            live = schema.capture(conn)
            conn.rollback()
        revisions.applied_set(self.script, current)  # a database ahead of the code: refuse
        want = drift.expected_at(expected, current, revisions.ordered(self.script))
        found = drift.compare(want, live)
        log_event("drift.counted", drift_count=len(found), revision=state_label(current))
        return Result(
            command="drift",
            before=current,
            after=current,
            heads=sorted(self.script.get_heads()),
            findings=found,
            drift_count=len(found),
            message=_found(
                found, f"the schema is what the revisions create at {state_label(current)}"
            ),
        )

    def _baseline(self, run: _Run) -> Result:
        """Record a revision as applied without running it, if the schema is what it describes."""
        assert run.request.revision is not None
        expected = drift.load_expected(self.settings.alembic_ini)
        with self._locked(run) as (conn, lock_wait_ms, _):
            done = baseline.baseline(
                conn,
                self.script,
                expected,
                run.request.revision,
                force=run.request.force,
                row=run.row,
            )
            conn.commit()
            after = revisions.current_heads(conn)
            conn.commit()
        forced = (
            f", despite {len(done.differences)} difference(s), recorded" if done.differences else ""
        )
        return Result(
            command="baseline",
            before=[],
            after=after,
            target=done.revision,
            target_expression=run.request.revision,
            pending=revisions.pending(self.script, after),
            heads=sorted(self.script.get_heads()),
            lock_wait_ms=lock_wait_ms,
            findings=done.differences,
            actions=[f"recorded {done.revision} as applied without running it{forced}"],
            message=f"Baselined at {done.revision}: {len(done.covers)} revision(s) recorded as "
            f"applied, none run{forced}.",
        )

    def _repair(self, run: _Run) -> Result:
        """Report what a failed or interrupted run left; with confirm, clear what is safe."""
        if run.request.confirm is None:
            with self._connection() as conn:
                current = revisions.current_heads(conn)
                found = repair.inspect(conn, self.script).findings()
                conn.rollback()
            return Result(
                command="repair",
                before=current,
                after=current,
                findings=found,
                message=_found(found, "no run left anything behind"),
            )
        with self._locked(run) as (conn, lock_wait_ms, _):
            current = revisions.current_heads(conn)
            report = repair.inspect(conn, self.script)
            conn.commit()
            actions = repair.clear(conn, report, run.run_id, run.row)
            left = repair.remaining(report)
        return Result(
            command="repair",
            before=current,
            after=current,
            lock_wait_ms=lock_wait_ms,
            findings=left,
            actions=actions,
            message=f"{len(actions)} action(s); " + _found(left, "nothing left to repair"),
        )

    @contextmanager
    def _locked(
        self, run: _Run, *, confirm: bool = True, tell: bool = False
    ) -> Iterator[tuple[Connection, int, list[str]]]:
        """A connection holding the migration lock, how long the lock took (ms) and the heads
        read under it; the lock is released after. Every mutating command runs in one.

        With `confirm`, a wrong `confirm` is refused at once, not after the lock wait, and
        again under the lock: another run may have moved the database. With `tell`, the
        progress callback hears of the lock wait."""
        try:
            with self._connection() as conn:
                run.phase = "preparing the session"
                session.apply(conn, self.settings)
                conn.commit()
                if confirm:
                    run.phase = "reading the current revision"
                    self._check_confirm(run.request, revisions.current_heads(conn))
                    conn.rollback()
                run.phase = "waiting for the migration lock"
                wait_s = self.settings.lock_wait_s
                waiting = Progress(LOCK_WAITING, wait_limit_s=wait_s)
                on_wait = (lambda: _tell(run, waiting)) if tell else None
                lock_wait_ms = lock.acquire(conn, wait_s=wait_s, on_wait=on_wait)
                if tell:
                    _tell(run, Progress(LOCK_ACQUIRED, waited_ms=lock_wait_ms))
                run.phase = "reading the current revision"
                before = revisions.current_heads(conn)
                conn.commit()
                if confirm:
                    self._check_confirm(run.request, before)
                run.phase = f"running {run.request.command}"
                yield conn, lock_wait_ms, before
                run.phase = "releasing the migration lock"
                if not lock.release(conn):
                    raise self._lock_lost(run, "when the run released it")
        except AuroraMigrationsError:
            raise
        except Exception as exc:
            raise self._failure(run, exc) from None

    def _upgrade(self, run: _Run) -> Result:
        return self._migrate(run, direction="up")

    def _downgrade(self, run: _Run) -> Result:
        return self._migrate(run, direction="down")

    def _stamp(self, run: _Run) -> Result:
        return self._migrate(run, direction="stamp")

    # --- the mutating path -----------------------------------------------------------------

    def _migrate(self, run: _Run, *, direction: str) -> Result:
        """Lock, plan, apply, record - all on one connection, which also holds the lock."""
        target = run.request.revision or "head"
        accepted: list[str] = []
        locked = self._locked(run, confirm=direction != "up", tell=True)
        with locked as (conn, lock_wait_ms, before):
            run.blockers = self._blocker_watch(conn)
            if direction == "up":  # no upgrade over a revision edited after it was applied
                run.phase = "comparing the applied revisions' checksums"
                accepted = validate.refuse_changed(
                    conn, self.script, run.request.allow_changed, run.row
                )
                conn.commit()
            steps = self._plan(direction, target, before)
            if steps:  # a refused or empty request leaves the database exactly as it was
                run.phase = "creating the history table"
                history_table.ensure(conn)
                conn.commit()
                self._apply(run, conn, steps, direction)
            run.phase = "reading the final revision"
            after = revisions.current_heads(conn)
            conn.commit()
        done = {a.revision for a in run.applied}
        remaining = [s.revision for s in steps if s.revision not in done]
        pending = revisions.pending(self.script, after) if direction == "up" else remaining
        return Result(
            command=run.request.command,
            before=before,
            after=after,
            applied=list(run.applied),
            pending=pending,
            complete=not run.stopped_early,
            target=steps.target_label,
            target_expression=target,
            heads=list(self.script.get_heads()),
            lock_wait_ms=lock_wait_ms,
            actions=[f"accepted the edited file of {rev} (allow_changed)" for rev in accepted]
            or None,
            message=_summary(run, remaining, direction),
        )

    def _plan(self, direction: str, target: str, current: list[str]) -> revisions.Plan:
        """Resolve `target` to concrete revisions, and the exact steps that lead there."""
        try:
            return revisions.plan(self.script, direction, target, current)
        except CommandError as exc:  # Alembic's own refusal, should one slip through
            raise InvalidTarget(
                f"Cannot {direction} to {target!r} from {state_label(current)}: {exc}. "
                "Check the target with `history`.",
                revision=target,
                current=current,
            ) from None

    def _plan_either_way(self, target: str, current: list[str]) -> revisions.Plan:
        """`sql` works out the direction itself: down when the target is behind the database."""
        return self._plan("either", target, current)

    def _check_confirm(self, request: Request, current: list[str]) -> None:
        expected = ",".join(current) if current else "base"
        if request.confirm != expected:
            got = "no confirm" if request.confirm is None else f"confirm={request.confirm!r}"
            raise ConfirmationRequired(
                f"{request.command} is destructive and was refused ({got}). The database is at "
                f"{expected!r}; to proceed, repeat the request with confirm={expected!r}.",
                current=current,
                expected=expected,
                given=request.confirm,
            )

    def _apply(
        self, run: _Run, conn: Connection, steps: Sequence[revisions.Step], direction: str
    ) -> None:
        """Run the steps; a revision that hit `lock_timeout` is tried again, from that revision."""
        remaining = list(steps)
        for attempt in itertools.count(1):
            try:
                self._run_steps(run, conn, remaining, direction)
                return
            except Exception as exc:
                step: revisions.Step | None = run.in_flight
                if step is None or not self._retry_after_lock_timeout(run, conn, exc, attempt):
                    raise
                remaining = remaining[remaining.index(step) :]
                run.in_flight = None

    def _retry_after_lock_timeout(
        self, run: _Run, conn: Connection, exc: Exception, attempt: int
    ) -> bool:
        """Wait and return True when the failed revision may simply be tried again.

        Only a lock timeout, only while the revision's work all rolled back (nothing escaped
        its transaction), at most MIGRATION_LOCK_RETRIES times, with exponential backoff and
        jitter capped at MIGRATION_LOCK_RETRY_MAX_SECONDS, and never past the time guard.
        """
        step: revisions.Step = run.in_flight
        blockers = run.blockers.blockers if run.blockers else []
        run.retries.append(
            {
                "revision": step.revision,
                "attempt": attempt,
                "database_error": driver_errors.message(exc),
                "blockers": [b.describe() for b in blockers],
            }
        )
        if driver_errors.classify(exc) is not Failure.LOCK_TIMEOUT:
            return False
        if (run.watch and run.watch.escaped) or attempt > self.settings.lock_retries:
            return False
        delay_s = min(self.settings.lock_retry_max_s, 0.5 * 2 ** (attempt - 1))
        delay_s *= random.uniform(0.5, 1.0)
        if run.remaining_ms is not None:
            left = run.remaining_ms() - int(delay_s * 1000)
            if left < self.settings.time_guard_margin_ms:
                return False
        conn.rollback()
        log_event(
            "step.retry",
            level=logging.WARNING,
            revision=step.revision,
            attempt=attempt,
            retries=self.settings.lock_retries,
            delay_ms=int(delay_s * 1000),
            blockers=[b.describe() for b in blockers],
        )
        time.sleep(delay_s)
        return True

    def _run_steps(
        self, run: _Run, conn: Connection, steps: Sequence[revisions.Step], direction: str
    ) -> None:
        config = self._config(connection=conn)
        config.attributes["on_version_apply"] = [self._recorder(run, direction)]
        watch = run.watch = TransactionWatch(conn)

        def guarded(rev: Any, context: MigrationContext) -> Iterator[Any]:
            for position, step in enumerate(steps, 1):
                self._settle(run, conn)
                if run.stopped_early:  # the time guard, asked before the previous commit
                    return
                run.in_flight = step
                run.up_next = steps[position] if position < len(steps) else None
                if run.running_row is None:  # this attempt's first step: its row on its own
                    if not self._time_left(run, step):
                        run.stopped_early, run.in_flight = True, None
                        return
                    self._mark_running(run, conn, step, direction)
                run.step_started = time.monotonic()
                run.phase = "applying"
                log_event("step.start", revision=step.revision, direction=direction)
                _tell(run, Progress(STEP_START, step.revision, step.description, direction))
                watch.start()
                if run.blockers:
                    run.blockers.start()
                yield step.step
            self._settle(run, conn)
            run.in_flight = None

        try:
            with EnvironmentContext(config, self.script, fn=guarded):
                self.script.run_env()
        except BaseException as exc:
            watch.stop()  # the failed row below is book-keeping, not the revision's work
            self._mark_failed(run, conn, exc)
            raise
        finally:
            watch.close()
            if run.blockers:
                run.blockers.close()

    def _blocker_watch(self, conn: Connection) -> BlockerWatch | None:
        """A watch for sessions blocking this connection, looking twice per lock_timeout."""
        if self.settings.lock_timeout_ms <= 0:
            return None
        pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        return BlockerWatch(self._connection, pid, self.settings.lock_timeout_ms / 2000)

    def _mark_running(
        self, run: _Run, conn: Connection, step: revisions.Step, direction: str
    ) -> None:
        """The first step's history row, `running`, committed before the revision starts (every
        later step's commits with the revision before it, see `_recorder`): if the run dies
        mid-step, `repair` finds it. The session limits and the lock check go in the same round
        trip; the row is written only under the lock. A refused write stops the run before the
        step."""
        run.phase = "recording the revision as running in the history table"
        sql, params = history_table.step_sql(
            condition=lock.HELD, finished=None, running=self._running_row(run, step, direction)
        )
        try:
            row = session.apply_then(conn, self.settings, sql, params)
        except sa.exc.DBAPIError as exc:
            if driver_errors.classify(exc) is Failure.CONNECTION_LOST:
                raise
            raise self._history_write_failed(step.revision, exc, ran=False) from None
        if row is None:
            raise self._lock_lost(run, "between revisions")
        run.running_row = int(row)
        conn.commit()

    def _running_row(self, run: _Run, step: revisions.Step, direction: str) -> dict[str, Any]:
        return run.row(
            revision=step.revision,
            description=step.description,
            direction=direction,
            duration_ms=0,
            status="running",
            checksum=checksums.revision_checksum(self.script, step.revision),
        )

    def _mark_failed(self, run: _Run, conn: Connection, exc: BaseException) -> None:
        """After the rollback, on the same connection (it still holds the lock): the step's
        row becomes `failed`, with the scrubbed error; so does the row of a revision whose
        commit failed. Nothing to do if the connection is gone; the row stays `running` and
        `repair` reports it."""
        committing = run.committing[0] if run.committing else None
        rows = [r for r in (committing, run.running_row) if r is not None]
        run.running_row = run.committing = None
        if not rows or driver_errors.classify(exc) is Failure.CONNECTION_LOST:
            return
        error = (
            exc.message if isinstance(exc, AuroraMigrationsError) else driver_errors.message(exc)
        )
        try:
            conn.rollback()
            for row in rows:
                history_table.fail(
                    conn, row, duration_ms=_ms_since(run.step_started), error=redact.clean(error)
                )
            conn.commit()
        except sa.exc.SQLAlchemyError as failed:
            log_event(
                "history.failed_row_not_written",
                level=logging.WARNING,
                history_row=rows[-1],
                error=driver_errors.message(failed),
            )

    def _settle(self, run: _Run, conn: Connection) -> None:
        """Before each revision and after the last: settle the record, act on the lock check.

        A revision that committed the migration transaction itself leaves its version row and
        history rows in a transaction Alembic will not commit; commit it now, so the database
        records exactly what took effect. The lock was checked (and the session limits
        re-applied) in the transaction that just committed: if it was gone, stop here.
        """
        if conn.in_transaction():
            run.phase = "committing the record of the previous revision"
            conn.commit()
        if run.committing is not None:  # committed: now it counts as applied
            run.applied.append(run.committing[1])
            run.committing = None
        if not run.lock_held:
            raise self._lock_lost(run, "between revisions")

    def _recorder(self, run: _Run, direction: str) -> Callable[..., None]:
        """on_version_apply hook: runs inside the revision's transaction, just before commit."""

        def record(*, ctx: MigrationContext, step: MigrationInfo, **_: Any) -> None:
            watch = run.watch
            assert watch is not None
            watch.stop()
            if run.blockers:
                run.blockers.stop()
            planned: revisions.Step = run.in_flight
            duration = _ms_since(run.step_started)
            applied = AppliedRevision(planned.revision, planned.description, direction, duration)
            if watch.escaped:
                log_event(
                    "step.committed_itself",
                    level=logging.WARNING,
                    revision=planned.revision,
                    took_effect=watch.took_effect[:MAX_LISTED],
                    note="the revision committed outside its transaction; its record is "
                    "committed right after it",
                )
            assert ctx.connection is not None
            run.phase = "recording the revision in the history table"
            assert run.running_row is not None
            up_next: revisions.Step | None = run.up_next
            if up_next is not None and not self._time_left(run, up_next):
                run.stopped_early, up_next = True, None
            sql, params = history_table.step_sql(
                condition=lock.HELD,
                finished=(run.running_row, duration),
                running=self._running_row(run, up_next, direction) if up_next else None,
            )
            try:  # the session limits, this row `applied`, the lock check, the next row
                answer = session.apply_then(ctx.connection, self.settings, sql, params)
            except sa.exc.DBAPIError as exc:
                if driver_errors.classify(exc) is Failure.CONNECTION_LOST:
                    raise
                raise self._history_write_failed(planned.revision, exc, ran=True) from None
            run.committing = (run.running_row, applied)
            run.in_flight = None  # its COMMIT may still fail, but its own code is done
            if up_next is None:
                run.running_row, run.lock_held = None, bool(answer)
            else:
                run.running_row, run.lock_held = answer, answer is not None
            run.phase = "committing the revision"
            log_event(
                "step",
                revision=applied.revision,
                description=applied.description,
                direction=direction,
                duration_ms=duration,
            )
            _tell(
                run, Progress(STEP_DONE, planned.revision, planned.description, direction, duration)
            )

        return record

    @staticmethod
    def _history_write_failed(
        revision: str, exc: BaseException, *, ran: bool
    ) -> HistoryWriteFailed:
        said = driver_errors.message(exc)
        what = (
            f"Revision {revision} ran, but {history_table.TABLE} could not record it: "
            f"{said}. The revision's transaction was rolled back."
            if ran
            else f"Revision {revision} did not run: its row in {history_table.TABLE} could "
            f"not be written before it: {said}."
        )
        return HistoryWriteFailed(
            f"{what} This is not a fault of the revision: check {history_table.TABLE} (its "
            "columns, triggers, permissions) and run the command again.",
            revision=revision,
            database_error=said,
        )

    def _time_left(self, run: _Run, step: revisions.Step) -> bool:
        if run.remaining_ms is None:
            return True
        left = run.remaining_ms()
        if left >= self.settings.time_guard_margin_ms:
            return True
        log_event(
            "time_guard.stop",
            level=logging.WARNING,
            next_revision=step.revision,
            remaining_ms=left,
            margin_ms=self.settings.time_guard_margin_ms,
        )
        return False

    def _failure(self, run: _Run, exc: BaseException) -> AuroraMigrationsError:
        """Name what failed, the driver's own words and the state the database is in now.

        The state is read afresh, on a new connection, and so is what this run recorded: the
        database, not our book-keeping, says which revisions stayed applied.
        """
        step: revisions.Step | None = run.in_flight
        error = driver_errors.message(exc)
        kind = driver_errors.classify(exc)
        lost = kind is Failure.CONNECTION_LOST
        truth = self._read_back(run)
        name = (
            f"Revision {step.revision} ({step.description})"
            if step
            else f"The run, while {run.phase},"
        )
        if truth is None:
            where = (
                "The database could not be reached to read its state, so the state is "
                "unknown: run `aurora-migrate current` (or the `current` event) to see it"
            )
            kept = [a.revision for a in run.applied]
        else:
            state, kept = truth
            where = f"The database is now at {state_label(state)}" + (
                f"; revisions this run applied stay applied: {', '.join(kept)}" if kept else ""
            )
        escaped = ""
        if step is not None and run.watch is not None and run.watch.escaped:
            escaped = (
                " The revision committed part of its work outside its transaction, so these "
                f"statements may have taken effect: {run.watch.describe()}. Check for them "
                "before running again."
            )
        details: dict[str, Any] = {
            "revision": step.revision if step else None,
            "database_error": error,
            "state": truth[0] if truth else None,
            "state_known": truth is not None,
            "applied": kept,
            "took_effect": run.watch.took_effect if escaped and run.watch else None,
        }
        if lost:
            return ConnectionLost(
                f"Lost the connection to the database while {run.phase}"
                + (f" (revision {step.revision} in flight)" if step else "")
                + f": {error}. The migration lock went with it, so this run stopped. "
                + (
                    "The revision in flight was rolled back by the server. "
                    if step and not escaped
                    else ""
                )
                + f"{where}.{escaped} This is not a fault of the revision: when the database "
                "is reachable again, run the same command again.",
                **details,
            )
        if step is None:
            return MigrationFailed(
                f"{name} failed: {error}. {where}. No revision was running, so nothing of "
                "this run beyond that state took effect. Check the database error (permissions "
                "on the schema or the history table, for example) and run the command again.",
                **details,
            )
        error_type, hint = driver_errors.REVISION_FAILURES.get(kind, driver_errors.REVISION_FAILED)
        tried = ""
        if kind is Failure.LOCK_TIMEOUT:
            tries = [r for r in run.retries if r["revision"] == step.revision]
            blockers: list[str] = next(
                (r["blockers"] for r in reversed(tries) if r["blockers"]), []
            )
            tried = f" It was tried {len(tries)} time(s) (MIGRATION_LOCK_RETRIES)." + (
                f" The lock was held by {'; '.join(blockers)}." if blockers else ""
            )
            details["attempts"] = len(tries)
            details["blockers"] = blockers or None
        return error_type(
            f"{name} failed and was rolled back: {error}.{tried} {where}.{escaped} {hint}",
            **details,
        )

    def _lock_lost(self, run: _Run, when: str) -> LockLost:
        truth = self._read_back(run)
        state = f"The database is at {state_label(truth[0])}" if truth else "The state is unknown"
        return LockLost(
            f"The migration lock was no longer held {when}, so the run stopped before its next "
            f"statement (something in this session released it, e.g. pg_advisory_unlock_all() "
            f"in a revision). {state}. Check that no other run is active "
            "(`aurora-migrate current`), then run the command again.",
            state=truth[0] if truth else None,
            state_known=truth is not None,
            applied=truth[1] if truth else [a.revision for a in run.applied],
        )

    def _read_back(self, run: _Run) -> tuple[list[str], list[str]] | None:
        """(current heads, revisions this run recorded), on a fresh connection; None if unknown."""
        try:
            with self._connection() as fresh:
                state = revisions.current_heads(fresh)
                recorded = history_table.recorded_by_run(fresh, run.run_id)
                fresh.rollback()
        except (AuroraMigrationsError, sa.exc.DBAPIError):
            return None
        return state, recorded

    # --- plumbing ------------------------------------------------------------------------------

    def _config(
        self, *, connection: Connection | None = None, output: io.StringIO | None = None
    ) -> Config:
        config = Config(str(self.settings.alembic_ini), output_buffer=output, stdout=io.StringIO())
        config.attributes["managed_by_runner"] = True
        config.attributes["connection"] = connection
        return config

    def _connection(self) -> closing[Connection]:
        if self._engine is None:
            self._engine = make_engine(self.source, self.settings)
        return closing(connect(self._engine, self.source))

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _tell(run: _Run, progress: Progress) -> None:
    if run.progress is not None:
        run.progress(progress)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _found(found: Sequence[Any], clean: str) -> str:
    if not found:
        return f"No findings: {clean}."
    ids = sorted({f.id for f in found})
    return f"{len(found)} finding(s): {', '.join(ids)}."


def _summary(run: _Run, remaining: list[str], direction: str) -> str:
    count = len(run.applied)
    if run.stopped_early:
        return (
            f"Stopped by the time guard after {count} revision(s); "
            f"{len(remaining)} still pending. Invoke again to continue."
        )
    if not count:
        return "Nothing to do: the database is already there."
    verb = {"up": "applied", "down": "reverted", "stamp": "stamped"}[direction]
    return f"{count} revision(s) {verb}."

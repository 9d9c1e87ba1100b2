"""What a run reports while it runs, for whoever watches: plain data, no terminal code.

`MigrationEngine.run(..., progress=callback)` calls `callback(Progress(...))` when it starts
waiting for the migration lock, when it holds it, and when each revision starts and ends.
The CLI draws live lines from these (`runner.adapters.live`); the Lambda passes no callback. A
callback must not raise: it runs inside the migration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

LOCK_WAITING = "lock.waiting"  # another run holds the lock; `wait_limit_s` says how long we wait
LOCK_ACQUIRED = "lock.acquired"  # `waited_ms`: how long it took
STEP_START = "step.start"  # `revision`, `description`, `direction`
STEP_DONE = "step"  # ... and `duration_ms`; the revision's record is written, commit follows


@dataclass(frozen=True)
class Progress:
    event: str
    revision: str | None = None
    description: str | None = None
    direction: str | None = None
    duration_ms: int | None = None
    waited_ms: int | None = None
    wait_limit_s: float | None = None


ProgressCallback = Callable[[Progress], None]

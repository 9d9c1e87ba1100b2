"""`upgrade --snapshot`: validate, snapshot, then migrate; each step only if the one before
succeeded.

The request is validated before anything happens; the function is asked for its head
(read-only, no database) to name the snapshot; the snapshot must be `available` before the
upgrade is sent. If the upgrade then fails, its error names the snapshot to restore from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runner.adapters.events import parse_event
from runner.adapters.remote.invoke import InvokeOutcome, Invoker
from runner.adapters.remote.snapshot import Snapshot
from runner.core.errors import AuroraMigrationsError

TakeSnapshot = Callable[[str | None], Snapshot]  # head revision(s) -> an available snapshot


@dataclass(frozen=True)
class GuardedUpgrade:
    """What `upgrade_with_snapshot` did: the snapshot it took (if asked to), then the upgrade."""

    snapshot: Snapshot | None
    outcome: InvokeOutcome


def upgrade_with_snapshot(
    invoker: Invoker,
    take_snapshot: TakeSnapshot | None,
    *,
    revision: str = "head",
    logs: bool = False,
) -> GuardedUpgrade:
    """Upgrade to `revision`, after `take_snapshot(head)` when it is given."""
    event = {"command": "upgrade", "revision": revision}
    parse_event(event)  # a bad revision is refused before a snapshot is taken
    snapshot = None
    if take_snapshot is not None:
        heads = invoker.invoke({"command": "heads"}).result.heads
        snapshot = take_snapshot(",".join(heads) or None)
    try:
        outcome = invoker.invoke(event, logs=logs)
    except AuroraMigrationsError as exc:
        if snapshot is not None:
            exc.details["snapshot"] = snapshot.identifier
        raise
    return GuardedUpgrade(snapshot=snapshot, outcome=outcome)

"""A manual Aurora cluster snapshot before a migration, so a bad one can be restored.

`take_snapshot` creates `aurora-migrate-<env>-<UTC time>-<head>` (tagged with the environment
and the head revision), then waits, for a bounded time, until RDS says `available`. Anything
else is `SnapshotFailed` (or `ClusterNotFound`), and the caller must not migrate. A snapshot
is on by default for the environments in `SNAPSHOT_BY_DEFAULT` (prod), opt-in elsewhere.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from runner.core import redact
from runner.core.errors import ClusterNotFound, SnapshotFailed

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_rds.type_defs import TagTypeDef

SNAPSHOT_BY_DEFAULT = frozenset({"prod"})
NAME_PREFIX = "aurora-migrate"
NAME_LIMIT = 255
TAG_ENVIRONMENT = "aurora-migrations:environment"
TAG_HEAD = "aurora-migrations:head"


@dataclass(frozen=True)
class SnapshotWait:
    """How long to wait for `available`: `delay_s` between polls, at most `max_attempts` polls
    (15 s x 240 = one hour by default)."""

    delay_s: int = 15
    max_attempts: int = 240


@dataclass(frozen=True)
class Snapshot:
    """A snapshot that is `available`: what to restore from."""

    identifier: str
    cluster: str
    status: str
    arn: str | None = None
    created_at: str | None = None
    environment: str | None = None
    head: str | None = None
    waited_ms: int = 0


def snapshot_wanted(environment: str | None, requested: bool | None) -> bool:
    """`--snapshot` / `--no-snapshot` when given, else on for prod and off elsewhere."""
    return requested if requested is not None else environment in SNAPSHOT_BY_DEFAULT


def snapshot_name(*, label: str, head: str | None, now: datetime) -> str:
    """`aurora-migrate-<env or cluster>-<YYYYMMDD-HHMMSS>-<head>`, as RDS allows: letters,
    digits and single hyphens, starting with a letter, at most 255 characters."""
    parts = [NAME_PREFIX, label, now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")]
    if head:
        parts.append(head)
    text = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")
    return text[:NAME_LIMIT].rstrip("-")


def take_snapshot(
    rds: RDSClient,
    cluster: str,
    *,
    environment: str | None = None,
    head: str | None = None,
    wait: SnapshotWait | None = None,
    now: datetime | None = None,
) -> Snapshot:
    """Create the snapshot and wait until it is `available`, or raise; never half-returns."""
    wait = wait or SnapshotWait()
    label = environment or cluster.rsplit(":", 1)[-1]
    identifier = snapshot_name(label=label, head=head, now=now or datetime.now(UTC))
    tags: list[TagTypeDef] = [{"Key": TAG_ENVIRONMENT, "Value": environment}] if environment else []
    if head:
        tags.append({"Key": TAG_HEAD, "Value": head[:256]})
    started = time.monotonic()
    try:
        rds.create_db_cluster_snapshot(
            DBClusterSnapshotIdentifier=identifier, DBClusterIdentifier=cluster, Tags=tags
        )
    except ClientError as exc:
        raise _create_failed(exc, cluster, identifier) from None
    except BotoCoreError as exc:
        raise SnapshotFailed(
            f"Could not reach RDS to snapshot {cluster} ({type(exc).__name__}); whether the "
            f"snapshot {identifier} was created is unknown. Nothing was migrated.",
            cluster=cluster,
            snapshot=identifier,
        ) from None
    _wait_available(rds, identifier, cluster, wait)
    found = _describe(rds, identifier, cluster)
    created = found.get("SnapshotCreateTime")
    return Snapshot(
        identifier=identifier,
        cluster=cluster,
        status=str(found.get("Status")),
        arn=found.get("DBClusterSnapshotArn"),
        created_at=created.isoformat() if isinstance(created, datetime) else None,
        environment=environment,
        head=head,
        waited_ms=int((time.monotonic() - started) * 1000),
    )


def _wait_available(rds: RDSClient, identifier: str, cluster: str, wait: SnapshotWait) -> None:
    try:
        rds.get_waiter("db_cluster_snapshot_available").wait(
            DBClusterSnapshotIdentifier=identifier,
            WaiterConfig={"Delay": wait.delay_s, "MaxAttempts": wait.max_attempts},
        )
    except WaiterError as exc:
        status = _status(exc.last_response)
        bound = wait.delay_s * wait.max_attempts
        if "Max attempts exceeded" in str(exc):
            problem = (
                f"is still {status or 'not available'} after {wait.max_attempts} checks "
                f"({bound} s). It was left in place and may still become available"
            )
        else:
            problem = (
                f"did not become available (status {status or 'unknown'}: {redact.scrub(str(exc))})"
            )
        raise SnapshotFailed(
            f"The snapshot {identifier} of {cluster} {problem}. Nothing was migrated. Check it "
            "in RDS; once a snapshot is available, run the upgrade again.",
            cluster=cluster,
            snapshot=identifier,
            status=status,
        ) from None
    except BotoCoreError as exc:
        raise SnapshotFailed(
            f"Lost touch with RDS while waiting for the snapshot {identifier} of {cluster} "
            f"({type(exc).__name__}). Nothing was migrated; check the snapshot in RDS.",
            cluster=cluster,
            snapshot=identifier,
        ) from None


def _describe(rds: RDSClient, identifier: str, cluster: str) -> Any:
    try:
        found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=identifier)
    except (ClientError, BotoCoreError) as exc:
        raise SnapshotFailed(
            f"The snapshot {identifier} of {cluster} became available, but could not be read "
            f"back ({type(exc).__name__}). Nothing was migrated; check it in RDS.",
            cluster=cluster,
            snapshot=identifier,
        ) from None
    snapshots = found.get("DBClusterSnapshots") or [{}]
    return snapshots[0]


def _status(response: Any) -> str | None:
    if not isinstance(response, dict):
        return None
    snapshots = response.get("DBClusterSnapshots") or []
    if snapshots:
        return str(snapshots[0].get("Status"))
    code = response.get("Error", {}).get("Code")
    return f"gone ({code})" if code else None


_CODES = {
    "InvalidDBClusterStateFault": "is not in a state that can be snapshotted (wait until it "
    "is available)",
    "DBClusterSnapshotAlreadyExistsFault": "already has a snapshot by this name (another run "
    "in the same second?)",
    "SnapshotQuotaExceeded": "cannot take one more manual snapshot: the account's quota is "
    "reached (delete old manual snapshots)",
}


def _create_failed(exc: ClientError, cluster: str, identifier: str) -> Exception:
    code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
    if code in ("DBClusterNotFoundFault", "DBClusterNotFound"):
        return ClusterNotFound(
            f"No Aurora cluster {cluster!r} to snapshot in this account and region. Nothing was "
            "snapshotted or migrated; check --cluster, --region and --profile.",
            cluster=cluster,
        )
    said = redact.scrub(str(exc.response.get("Error", {}).get("Message", "")))
    problem = _CODES.get(code) or (
        "may not be snapshotted by this caller (it needs rds:CreateDBClusterSnapshot and "
        "rds:AddTagsToResource)"
        if code.startswith("AccessDenied")
        else f"could not be snapshotted: {said}"
    )
    return SnapshotFailed(
        f"The cluster {cluster} {problem} ({code}). No snapshot {identifier} was taken and "
        "nothing was migrated.",
        cluster=cluster,
        snapshot=identifier,
        error_code=code,
    )

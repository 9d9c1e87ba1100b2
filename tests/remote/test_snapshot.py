"""`upgrade --snapshot`: an available cluster snapshot exists before the upgrade is sent, or
the upgrade is not sent at all. RDS is moto in server mode; the function is the local one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.engine import URL

from runner.adapters.remote.snapshot import (
    NAME_LIMIT,
    SnapshotWait,
    snapshot_name,
    snapshot_wanted,
    take_snapshot,
)
from runner.adapters.remote.upgrade import upgrade_with_snapshot
from runner.core.errors import BadRequest, ClusterNotFound, RemoteFailure, SnapshotFailed
from tests.aws.conftest import Aws
from tests.remote.conftest import Deploy, invoker
from tests.remote.lambda_endpoint import LambdaEndpoint
from tests.test_engine import versions

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
FAST = SnapshotWait(delay_s=0, max_attempts=5)


@pytest.fixture
def rds(aws: Aws) -> Any:
    return aws.client("rds")


@pytest.fixture
def cluster(rds: Any) -> Iterator[str]:
    """A new cluster; its manual snapshots go with the test (moto lives for the session)."""
    identifier = f"am-{uuid.uuid4().hex[:10]}"
    rds.create_db_cluster(
        DBClusterIdentifier=identifier,
        Engine="aurora-postgresql",
        MasterUsername="master",
        MasterUserPassword="not-used-1234",
    )
    yield identifier
    for snapshot in snapshots_of(rds, identifier):
        rds.delete_db_cluster_snapshot(
            DBClusterSnapshotIdentifier=snapshot["DBClusterSnapshotIdentifier"]
        )


def snapshots_of(rds: Any, cluster: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = rds.describe_db_cluster_snapshots(
        DBClusterIdentifier=cluster, SnapshotType="manual"
    )["DBClusterSnapshots"]
    return found


def report_status(rds: Any, statuses: list[str]) -> list[str]:
    """Make the next DescribeDBClusterSnapshots answers say `statuses` (moto is instant)."""
    seen: list[str] = []

    def rewrite(parsed: dict[str, Any], **_: Any) -> None:
        for snapshot in parsed.get("DBClusterSnapshots", []):
            if statuses:
                snapshot["Status"] = statuses.pop(0)
            seen.append(snapshot["Status"])

    rds.meta.events.register("after-call.rds.DescribeDBClusterSnapshots", rewrite)
    return seen


# --- the snapshot ------------------------------------------------------------------------------


def test_the_snapshot_is_named_and_tagged_and_available(rds: Any, cluster: str) -> None:
    snapshot = take_snapshot(rds, cluster, environment="prod", head="0017", now=NOW, wait=FAST)

    assert snapshot.identifier == "aurora-migrate-prod-20260304-050607-0017"
    assert snapshot.status == "available" and snapshot.cluster == cluster
    assert snapshot.arn and snapshot.arn.endswith(":cluster-snapshot:" + snapshot.identifier)
    (stored,) = snapshots_of(rds, cluster)
    assert stored["DBClusterSnapshotIdentifier"] == snapshot.identifier
    assert {t["Key"]: t["Value"] for t in stored["TagList"]} == {
        "aurora-migrations:environment": "prod",
        "aurora-migrations:head": "0017",
    }


def test_waiting_lasts_until_the_snapshot_is_available(rds: Any, cluster: str) -> None:
    seen = report_status(rds, ["creating", "creating"])

    snapshot = take_snapshot(rds, cluster, environment="dev", now=NOW, wait=FAST)

    assert seen[:3] == ["creating", "creating", "available"]
    assert snapshot.status == "available"


def test_waiting_is_bounded(rds: Any, cluster: str) -> None:
    report_status(rds, ["creating"] * 50)

    with pytest.raises(SnapshotFailed) as caught:
        take_snapshot(rds, cluster, environment="dev", now=NOW, wait=FAST)

    assert "still creating after 5 checks" in caught.value.message
    assert caught.value.details["snapshot"] == "aurora-migrate-dev-20260304-050607"


def test_a_failed_snapshot_is_a_typed_error(rds: Any, cluster: str) -> None:
    report_status(rds, ["failed"])

    with pytest.raises(SnapshotFailed, match="status failed") as caught:
        take_snapshot(rds, cluster, environment="dev", now=NOW, wait=FAST)

    assert caught.value.details["status"] == "failed"


def test_a_missing_cluster_is_refused_and_nothing_is_snapshotted(rds: Any) -> None:
    with pytest.raises(ClusterNotFound, match="am-nowhere"):
        take_snapshot(rds, "am-nowhere", environment="dev", now=NOW, wait=FAST)


def test_the_same_name_twice_is_refused(rds: Any, cluster: str) -> None:
    take_snapshot(rds, cluster, environment="dev", now=NOW, wait=FAST)

    with pytest.raises(SnapshotFailed, match="DBClusterSnapshotAlreadyExistsFault"):
        take_snapshot(rds, cluster, environment="dev", now=NOW, wait=FAST)


def test_names_are_what_rds_accepts() -> None:
    later = NOW.astimezone(timezone(timedelta(hours=2)))
    assert snapshot_name(label="prod", head="0017,0018", now=later) == (
        "aurora-migrate-prod-20260304-050607-0017-0018"
    )
    assert snapshot_name(label="my_cluster", head="Ab__c-", now=NOW) == (
        "aurora-migrate-my-cluster-20260304-050607-ab-c"
    )
    long = snapshot_name(label="dev", head="a" * 300, now=NOW)
    assert len(long) == NAME_LIMIT and not long.endswith("-")


def test_snapshots_are_on_by_default_for_prod_only() -> None:
    assert snapshot_wanted("prod", None) and not snapshot_wanted("prod", False)
    assert not snapshot_wanted("dev", None) and snapshot_wanted("dev", True)
    assert not snapshot_wanted(None, None)


# --- snapshot, then upgrade ----------------------------------------------------------------


def test_the_upgrade_is_sent_only_after_the_snapshot_is_available(
    rds: Any, cluster: str, lam: LambdaEndpoint, deploy: Deploy, database_url: URL
) -> None:
    at_upgrade: list[list[str]] = []

    def look(event: Any) -> None:
        if event.get("command") == "upgrade":
            at_upgrade.append([s["Status"] for s in snapshots_of(rds, cluster)])

    function = deploy("chain", before_run=look)

    done = upgrade_with_snapshot(
        invoker(lam),
        lambda head: take_snapshot(rds, cluster, environment="dev", head=head, wait=FAST),
    )

    assert done.snapshot is not None and done.snapshot.head == "0004"
    assert done.snapshot.identifier.endswith("-0004")
    assert at_upgrade == [["available"]]
    assert [e["command"] for e in function.events] == ["heads", "upgrade"]
    assert done.outcome.result.after == ["0004"] and versions(database_url) == ["0004"]


def test_a_failed_snapshot_means_no_upgrade(
    rds: Any, cluster: str, lam: LambdaEndpoint, deploy: Deploy, database_url: URL
) -> None:
    function = deploy("chain")
    report_status(rds, ["failed"])

    with pytest.raises(SnapshotFailed):
        upgrade_with_snapshot(
            invoker(lam),
            lambda head: take_snapshot(rds, cluster, environment="dev", head=head, wait=FAST),
        )

    assert [e["command"] for e in function.events] == ["heads"]
    assert versions(database_url) == []


def test_a_bad_revision_takes_no_snapshot_and_sends_nothing(
    rds: Any, cluster: str, lam: LambdaEndpoint, deploy: Deploy
) -> None:
    function = deploy("chain")

    with pytest.raises(BadRequest):
        upgrade_with_snapshot(
            invoker(lam),
            lambda head: take_snapshot(rds, cluster, head=head, wait=FAST),
            revision="head;",
        )

    assert function.requests == 0 and snapshots_of(rds, cluster) == []


def test_a_failed_upgrade_names_the_snapshot_to_restore(
    rds: Any, cluster: str, lam: LambdaEndpoint, deploy: Deploy
) -> None:
    deploy("failing")

    with pytest.raises(RemoteFailure) as caught:
        upgrade_with_snapshot(
            invoker(lam),
            lambda head: take_snapshot(rds, cluster, environment="dev", head=head, wait=FAST),
        )

    (stored,) = snapshots_of(rds, cluster)
    assert caught.value.details["snapshot"] == stored["DBClusterSnapshotIdentifier"]
    assert caught.value.to_dict()["snapshot"] == stored["DBClusterSnapshotIdentifier"]


def test_without_a_snapshot_the_upgrade_is_just_sent(lam: LambdaEndpoint, deploy: Deploy) -> None:
    function = deploy("chain")

    done = upgrade_with_snapshot(invoker(lam), None, revision="0001")

    assert done.snapshot is None and done.outcome.result.after == ["0001"]
    assert [e["command"] for e in function.events] == ["upgrade"]

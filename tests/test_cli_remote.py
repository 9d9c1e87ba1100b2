"""`aurora-migrate` in remote mode, driven as a subprocess: the same request as local mode goes,
once, to the function (the local Invoke endpoint running the real handler on a real database);
bad input never leaves the machine; no credential is ever printed; `status` puts environments
side by side; `upgrade --snapshot` snapshots first (on by default for prod); `lint` gates.

Lambda is `AWS_ENDPOINT_URL_LAMBDA` pointing at the local endpoint, CloudFormation and RDS are
the session's moto server; the CLI reads no DATABASE_URL, so anything it did, it did remotely.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from tests.aws import conftest as aws_fixtures
from tests.aws.conftest import Aws
from tests.conftest import write_alembic_ini
from tests.remote import conftest as remote
from tests.remote.conftest import ACCESS_KEY, DEV, SECRET_KEY, SESSION_TOKEN, Deploy
from tests.remote.lambda_endpoint import LambdaEndpoint
from tests.test_engine import versions

PROD = "aurora-migrations-prod"
CREDENTIALS = (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
Cli = Callable[..., subprocess.CompletedProcess[str]]
# The remote tests' fixtures, used here too: fake credentials, moto, the local Invoke endpoint.
fake_aws, aws, lam, deploy = remote.fake_aws, aws_fixtures.aws, remote.lam, remote.deploy


@pytest.fixture
def cli(lam: LambdaEndpoint, aws: Aws, tmp_path: Path) -> Cli:
    """`cli(*args, env=...)`: the real `aurora-migrate`, with no database of its own."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "DB_SECRET_ARN", "ALEMBIC_CONFIG")
        }
        endpoints = {
            "AWS_ENDPOINT_URL_LAMBDA": lam.url,
            "AWS_ENDPOINT_URL_CLOUDFORMATION": aws.endpoint,
            "AWS_ENDPOINT_URL_RDS": aws.endpoint,
            "AURORA_MIGRATE_DEVDB_DIR": str(tmp_path / "no-devdb"),
        }
        return subprocess.run(
            [sys.executable, "-m", "runner.adapters.cli", *args],
            env={**base, **endpoints, **(env or {})},
            capture_output=True,
            text=True,
            timeout=180,
        )

    return run


def said(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


def test_every_engine_command_runs_in_the_function(
    cli: Cli, deploy: Deploy, database_url: URL
) -> None:
    function = deploy("chain")

    behind = cli("--env", "dev", "current", "--check")
    up = cli("upgrade", "0002", "--env", "dev")
    raw = cli("--function", DEV, "history", "--json")

    assert behind.returncode == 3, said(behind)
    assert "4 revision(s) pending: 0001, 0002, 0003, 0004" in behind.stderr
    assert up.returncode == 0, said(up)
    assert "upgrade on function aurora-migrations-dev (dev)" in up.stdout
    assert "database: base (no revision applied) -> 0002" in up.stdout
    assert raw.returncode == 0, said(raw)
    history = json.loads(raw.stdout)
    assert history["command"] == "history" and history["after"] == ["0002"]
    assert [r["applied"] for r in history["revisions"]] == [True, True, False, False]
    assert versions(database_url) == ["0002"]
    assert [e["command"] for e in function.events] == ["current", "upgrade", "history"]


def test_bad_input_is_refused_before_anything_is_sent(cli: Cli, deploy: Deploy) -> None:
    function = deploy("chain")

    for args in (
        ("--env", "dev", "upgrade", "head;"),  # not a revision
        ("--env", "dev", "--env", "prod", "upgrade"),  # which function?
        ("--env", "qa", "current"),  # no such environment
        ("--function", DEV, "--env", "dev", "current"),  # both
        ("--function", "not a name!", "current"),
        ("--env", "dev", "lint"),  # runs here, not there
        ("upgrade", "--snapshot"),  # snapshot of what?
        ("status",),  # of what?
    ):
        done = cli(*args)
        assert done.returncode == 2, (args, said(done))
        assert "FAILED: " in done.stderr or "error: " in done.stderr, args
    assert function.requests == 0


def test_a_refusal_by_the_function_exits_2_and_changes_nothing(
    cli: Cli, deploy: Deploy, database_url: URL
) -> None:
    deploy("chain")
    assert cli("--env", "dev", "upgrade", "0002").returncode == 0

    refused = cli("--env", "dev", "downgrade", "base", "--confirm", "0001")

    assert refused.returncode == 2, said(refused)
    assert "RemoteRefused" in refused.stderr and "ConfirmationRequired" in refused.stderr
    assert versions(database_url) == ["0002"]


def test_a_refused_downgrade_says_what_to_type_as_local_mode_does(
    cli: Cli, deploy: Deploy, database_url: URL
) -> None:
    """The function words its refusal for an event (`confirm='0002'`); the CLI says the flag."""
    deploy("chain")
    assert cli("--env", "dev", "upgrade", "0002").returncode == 0

    bare = cli("--env", "dev", "downgrade", "base")
    wrong = cli("--function", DEV, "downgrade", "base", "--confirm", "0001", "--json")

    assert bare.returncode == 2, said(bare)
    assert (
        "ConfirmationRequired: downgrade is destructive and was refused (no --confirm). The "
        "database is at 0002; to proceed, run it again with --confirm 0002." in bare.stderr
    ), bare.stderr
    assert "RemoteRefused" in bare.stderr and "confirm=" not in bare.stderr
    assert wrong.returncode == 2, said(wrong)
    shown = json.loads(wrong.stdout)
    assert "refused (--confirm 0001)" in shown["message"] and "confirm=" not in shown["message"]
    assert (shown["expected"], shown["given"]) == ("0002", "0001")
    assert versions(database_url) == ["0002"]


def test_findings_found_in_the_function_are_printed_as_local_mode_prints_them(
    cli: Cli, deploy: Deploy
) -> None:
    deploy("branched")

    found = cli("--env", "dev", "validate")

    assert found.returncode == 2, said(found)
    assert "multiple-heads: The revision tree has 2 heads" in found.stdout, said(found)
    assert "Fix: Merge them into one" in found.stdout


def test_no_credential_is_ever_printed_even_with_debug_and_logs(cli: Cli, deploy: Deploy) -> None:
    """The function's log tail carries the caller's keys on purpose; they come back masked."""
    function = deploy("chain", extra_log=[f"leak: {' '.join(CREDENTIALS)}"])

    ok = cli("--env", "dev", "--debug", "--logs", "-v", "current")
    as_json = cli("--env", "dev", "--debug", "--logs", "--json", "upgrade")
    failed = cli("--function", "aurora-migrations-nowhere", "--debug", "--logs", "current")

    assert ok.returncode == 0, said(ok)
    assert "function log (tail)" in ok.stderr and "leak: " in ok.stderr
    assert "END RequestId:" in ok.stderr
    assert as_json.returncode == 0 and "leak: " in json.loads(as_json.stdout)["log_tail"]
    assert failed.returncode == 2 and "FunctionNotFound" in failed.stderr
    assert function.runs == 2
    for done in (ok, as_json, failed):
        for secret in CREDENTIALS:
            assert secret not in said(done)


def test_status_shows_environments_side_by_side(
    cli: Cli, deploy: Deploy, database_url: URL
) -> None:
    """prod has no function here: its row says so, and dev's row is unaffected."""
    deploy("chain")
    assert cli("--env", "dev", "upgrade", "0003").returncode == 0

    table = cli("status", "--env", "dev", "--env", "prod")
    rows = cli("status", "--envs", "dev,prod", "--json")

    assert table.returncode == 1, said(table)
    header, dev, prod = table.stdout.splitlines()[:3]
    assert header.split()[:4] == ["environment", "current", "head", "pending"]
    assert dev.split()[:4] == ["dev", "0003", "0004", "1"] and dev.split()[-1] == "healthy"
    assert prod.split()[0] == "prod" and prod.split()[-1] == "unhealthy"
    assert "prod: FunctionNotFound:" in table.stdout
    data = json.loads(rows.stdout)
    assert rows.returncode == 1 and data["ok"] is False
    assert [(e["environment"], e["healthy"]) for e in data["environments"]] == [
        ("dev", True),
        ("prod", False),
    ]
    assert data["environments"][0]["pending_count"] == 1
    assert data["environments"][0]["last_applied"]["revision"] == "0003"


# --- upgrade --snapshot -------------------------------------------------------------------------


@pytest.fixture
def rds(aws: Aws) -> Any:
    return aws.client("rds")


@pytest.fixture
def cluster(rds: Any) -> Iterator[str]:
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


def test_prod_upgrades_after_an_available_snapshot_by_default(
    cli: Cli, deploy: Deploy, rds: Any, cluster: str, database_url: URL
) -> None:
    function = deploy("chain", name=PROD)

    done = cli("--env", "prod", "upgrade", "--cluster", cluster, "--json")

    assert done.returncode == 0, said(done)
    (snapshot,) = snapshots_of(rds, cluster)
    assert snapshot["Status"] == "available"
    shown = json.loads(done.stdout)
    assert shown["snapshot"]["identifier"] == snapshot["DBClusterSnapshotIdentifier"]
    assert shown["after"] == ["0004"] and versions(database_url) == ["0004"]
    assert [e["command"] for e in function.events] == ["heads", "upgrade"]


def test_no_snapshot_on_prod_only_when_asked(
    cli: Cli, deploy: Deploy, rds: Any, cluster: str
) -> None:
    function = deploy("chain", name=PROD)

    unknown_cluster = cli("--env", "prod", "upgrade")  # no stack names prod's cluster
    skipped = cli("--env", "prod", "upgrade", "0001", "--no-snapshot")

    assert unknown_cluster.returncode == 2 and "ClusterNotFound" in unknown_cluster.stderr
    assert skipped.returncode == 0, said(skipped)
    assert snapshots_of(rds, cluster) == []
    assert [e["command"] for e in function.events] == ["upgrade"]


def test_dev_snapshots_only_when_asked(cli: Cli, deploy: Deploy, rds: Any, cluster: str) -> None:
    deploy("chain")

    plain = cli("--env", "dev", "upgrade", "0001")
    asked = cli("--env", "dev", "upgrade", "--snapshot", "--cluster", cluster)

    assert plain.returncode == 0 and asked.returncode == 0, said(asked)
    assert len(snapshots_of(rds, cluster)) == 1
    assert "snapshot aurora-migrate-dev-" in asked.stderr


# --- lint ---------------------------------------------------------------------------------------


def test_lint_exits_2_on_findings_not_opted_out(cli: Cli, tmp_path: Path) -> None:
    risky = {"ALEMBIC_CONFIG": str(write_alembic_ini("risky", tmp_path))}
    chain = {"ALEMBIC_CONFIG": str(write_alembic_ini("chain", tmp_path))}

    text = cli("lint", env=risky)
    markdown = cli("lint", "--format", "markdown", env=risky)
    as_json = cli("lint", "--json", env=risky)
    clean = cli("lint", env=chain)

    assert text.returncode == 2 and "lint finding(s) to fix" in text.stdout, said(text)
    assert markdown.returncode == 2 and markdown.stdout.startswith("### Migration lint")
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["ok"] is False
    assert clean.returncode == 0 and "No lint findings." in clean.stdout, said(clean)

"""The deployment bundle, run by the real Lambda runtime interface client in a clean Python.

This is the closest we get to Lambda without AWS: the bundle `build_bundle` makes (for this
machine's arch and Python), boto3 and awslambdaric as the managed runtime provides them, the
Runtime API protocol with real deadlines, the secret in Secrets Manager (moto) and a database
that requires verified TLS.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.bundle.build import BundleReport
from tests.aws.conftest import FIXTURES, Aws, TlsDatabase
from tests.aws.lambda_sandbox import LambdaFunction, copy_runtime_site
from tests.aws.runtime_api import TIMED_OUT

UPGRADE = {"command": "upgrade", "revision": "head"}
MakeFunction = Callable[..., LambdaFunction]


@pytest.fixture(scope="session")
def runtime_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("runtime-site")
    copy_runtime_site(site)
    return site


@pytest.fixture
def make_function(
    bundle: BundleReport, runtime_site: Path, aws: Aws, tls_db: TlsDatabase, tmp_path: Path
) -> Iterator[MakeFunction]:
    """Start a function whose DB_SECRET_ARN names this test's database; extra env on top."""
    started: list[LambdaFunction] = []
    arn = aws.create_secret(tls_db.secret_value())

    def make(**env: str) -> LambdaFunction:
        base = {
            **aws.env(),
            "DB_SECRET_ARN": arn,
            "DB_SSL_ROOT_CERT": str(tls_db.pg.ca_file),
            "DB_CONNECT_TIMEOUT_SECONDS": "5",
        }
        logs_dir = tmp_path / f"fn{len(started)}"
        logs_dir.mkdir()
        function = LambdaFunction(Path(bundle.out_dir), runtime_site, {**base, **env}, logs_dir)
        started.append(function.__enter__())
        return function

    yield make
    for function in started:
        function.__exit__()


def tree(name: str) -> str:
    return str(FIXTURES / name / "alembic.ini")


def test_the_clean_interpreter_sees_only_the_bundle_and_the_runtime(
    bundle: BundleReport, runtime_site: Path
) -> None:
    """No test-environment package leaks in; boto3 comes from the runtime, not the bundle."""
    probe = (
        "import importlib.util as u, json; import boto3, sqlalchemy, runner.adapters.handler;"
        "print(json.dumps({'pytest': u.find_spec('pytest') is not None, 'moto': "
        "u.find_spec('moto') is not None, 'boto3': boto3.__file__}))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=bundle.out_dir,
        env={"PYTHONPATH": f"{bundle.out_dir}:{runtime_site}", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(out.stdout)

    assert seen["pytest"] is False
    assert seen["moto"] is False
    assert seen["boto3"].startswith(str(runtime_site))


def test_upgrade_then_no_op_then_current_through_the_runtime(
    make_function: MakeFunction, tls_db: TlsDatabase
) -> None:
    function = make_function()

    first = function.invoke(UPGRADE)
    second = function.invoke(UPGRADE)
    current = function.invoke({"command": "current"})

    assert first.ok, first.body
    assert [a["revision"] for a in first.body["applied"]] == ["0017"]
    assert first.body["complete"] is True
    assert second.ok and second.body["applied"] == [] and second.body["after"] == ["0017"]
    assert current.ok and current.body["after"] == ["0017"]
    output = function.output()
    assert '"event":"run.finish"' in output.replace(" ", "")
    assert tls_db.password not in output
    assert tls_db.password not in json.dumps([first.body, second.body, current.body])


def test_a_bad_request_is_a_typed_function_error(make_function: MakeFunction) -> None:
    function = make_function()

    outcome = function.invoke({"command": "upgrade", "revision": "head", "force": True})

    assert outcome.error_type == "UnknownField"
    assert "force" in outcome.body["errorMessage"]


def test_a_failing_revision_is_a_migration_failed_function_error(
    make_function: MakeFunction, tls_db: TlsDatabase
) -> None:
    function = make_function(ALEMBIC_CONFIG=tree("failing"))

    failed = function.invoke(UPGRADE)
    current = function.invoke({"command": "current"})

    assert failed.error_type == "MigrationFailed"
    assert "0002" in failed.body["errorMessage"]
    assert "no_such_table" in failed.body["errorMessage"]
    assert current.body["after"] == ["0001"]  # the revision before the broken one stays
    assert tls_db.password not in function.output() + json.dumps(failed.body)


def test_the_time_guard_stops_between_revisions_and_the_next_invocation_continues(
    make_function: MakeFunction,
) -> None:
    """5 s budget, 2.5 s margin, a first revision that takes 3 s: after it, too little time
    is left to start the next one, so the run stops with `complete: false`."""
    function = make_function(ALEMBIC_CONFIG=tree("slow"), MIGRATION_TIME_GUARD_MARGIN_MS="2500")
    assert function.invoke({"command": "heads"}).ok  # warm: engine built, secret read

    first = function.invoke(UPGRADE, timeout_ms=5_000)
    second = function.invoke(UPGRADE, timeout_ms=5_000)

    assert first.ok, first.body
    assert [a["revision"] for a in first.body["applied"]] == ["0001"]
    assert first.body["complete"] is False
    assert first.body["pending"] == ["0002"]
    assert "time guard" in first.body["message"]
    assert second.ok, second.body
    assert [a["revision"] for a in second.body["applied"]] == ["0002"]
    assert second.body["complete"] is True
    assert '"event":"time_guard.stop"' in function.output().replace(" ", "")


def test_a_run_that_overruns_its_deadline_is_killed_and_the_next_invocation_finishes(
    make_function: MakeFunction, tls_db: TlsDatabase
) -> None:
    """With the time guard off, revision 0001 (3 s) overruns a 1.5 s budget. As in Lambda the
    invoke fails with Sandbox.Timedout and the environment is killed mid-revision: the server
    rolls the revision back and drops the lock with the connection, so the next invocation
    (a cold start) applies every revision, once."""
    function = make_function(ALEMBIC_CONFIG=tree("slow"), MIGRATION_TIME_GUARD_MARGIN_MS="0")
    assert function.invoke({"command": "heads"}).ok  # warm: the next run starts at once

    overrun = function.invoke(UPGRADE, timeout_ms=1_500)
    again = function.invoke(UPGRADE, timeout_ms=120_000)

    assert overrun.timed_out and overrun.error_type == TIMED_OUT, overrun
    assert "Task timed out after 1.50 seconds" in overrun.body["errorMessage"]
    assert function.killed == [-signal.SIGKILL], "the overrunning process was killed"
    assert again.ok, again.body
    assert [a["revision"] for a in again.body["applied"]] == ["0001", "0002"]
    assert again.body["before"] == [], "nothing of the killed run stayed applied"
    assert tls_db.password not in function.output()


def test_an_unreadable_secret_is_a_secret_unreadable_function_error(
    make_function: MakeFunction, aws: Aws
) -> None:
    function = make_function(DB_SECRET_ARN=aws.create_secret("not json"))

    outcome = function.invoke(UPGRADE)

    assert outcome.error_type == "SecretUnreadable"
    assert "is not a JSON object" in outcome.body["errorMessage"]

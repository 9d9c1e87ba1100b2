"""`status`: every environment side by side, from its own function; one environment that
cannot answer costs only its own row, which says why."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy import make_url
from sqlalchemy.engine import URL

from runner.adapters.remote.invoke import InvokeOutcome
from runner.adapters.remote.status import EnvironmentStatus, gather_status, last_applied
from runner.core.errors import RemoteFailure
from runner.core.results import Request, Result, RevisionInfo
from runner.local.localpg import free_port
from tests.conftest import Server
from tests.remote.conftest import Deploy, invoker
from tests.remote.lambda_endpoint import LambdaEndpoint


@pytest.fixture
def other_url(pg_server: Server) -> Iterator[URL]:
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


def test_status_shows_each_environment_side_by_side(
    other_url: URL, lam: LambdaEndpoint, deploy: Deploy
) -> None:
    deploy("chain", name="aurora-migrations-dev")
    deploy("chain", name="aurora-migrations-prod", url=other_url)
    invoker(lam, "aurora-migrations-dev").invoke({"command": "upgrade"})
    invoker(lam, "aurora-migrations-prod").invoke({"command": "upgrade", "revision": "0002"})

    rows = gather_status(
        {
            "dev": invoker(lam, "aurora-migrations-dev"),
            "staging": invoker(lam, "aurora-migrations-staging"),  # not deployed
            "prod": invoker(lam, "aurora-migrations-prod"),
        }
    )

    dev, staging, prod = rows
    assert [r.environment for r in rows] == ["dev", "staging", "prod"]
    assert dev.healthy and dev.up_to_date and dev.current == ["0004"] and dev.heads == ["0004"]
    assert dev.last_applied is not None and dev.last_applied.revision == "0004"
    assert dev.last_applied.applied_at and dev.function == "aurora-migrations-dev"
    assert prod.healthy and not prod.up_to_date
    assert prod.current == ["0002"] and prod.pending_count == 2
    assert prod.last_applied is not None and prod.last_applied.revision == "0002"
    assert not staging.healthy and staging.error_type == "FunctionNotFound"
    assert staging.problem and "aurora-migrations-staging" in staging.problem
    assert staging.function == "aurora-migrations-staging"


def test_an_environment_whose_database_is_down_is_unhealthy_and_says_why(
    lam: LambdaEndpoint, deploy: Deploy
) -> None:
    down = make_url(f"postgresql+psycopg2://nobody:pw-unused@127.0.0.1:{free_port()}/app")
    deploy("chain", name="aurora-migrations-dev")
    deploy("chain", name="aurora-migrations-prod", url=down)

    dev, prod = gather_status(
        {
            "dev": invoker(lam, "aurora-migrations-dev"),
            "prod": invoker(lam, "aurora-migrations-prod"),
        }
    )

    assert dev.healthy and dev.pending_count == 4 and dev.last_applied is None
    assert not prod.healthy and prod.error_type == "DatabaseUnavailable"
    assert prod.problem and "aurora-migrations-prod failed" in prod.problem
    assert "pw-unused" not in repr(prod)


class Broken:
    """An invoker with a bug in it."""

    function = "aurora-migrations-broken"

    def invoke(self, event: Mapping[str, Any] | Request, *, logs: bool = False) -> InvokeOutcome:
        raise KeyError("surprise")


def test_a_bug_in_one_environment_does_not_lose_the_others(
    lam: LambdaEndpoint, deploy: Deploy
) -> None:
    deploy("chain")

    broken, dev = gather_status({"broken": Broken(), "dev": invoker(lam)})

    assert broken == EnvironmentStatus(
        environment="broken",
        healthy=False,
        function="aurora-migrations-broken",
        problem="Unexpected KeyError: 'surprise'",
        error_type="InternalError",
    )
    assert dev.healthy


def test_last_applied_is_the_latest_and_carries_who_and_how_long_when_reported() -> None:
    revisions = [
        RevisionInfo("0001", [], "one", True, False, "2026-01-02T10:00:00+00:00"),
        RevisionInfo("0002", ["0001"], "two", True, False, "2026-01-03T09:00:00+01:00"),
        RevisionInfo("0003", ["0002"], "three", False, True, None),
    ]
    result = Result(command="history", after=["0002"], revisions=revisions)
    payload = {"revisions": [{"revision": "0002", "applied_by": "ci", "duration_ms": 12}]}

    latest = last_applied(result, payload)

    assert latest is not None
    assert (latest.revision, latest.applied_by, latest.duration_ms) == ("0002", "ci", 12)
    assert last_applied(result, {}) == last_applied(result, {"revisions": None})
    assert last_applied(Result(command="history", revisions=revisions[2:]), {}) is None


class Drifted:
    """An invoker whose function answers history and reports two drifted objects."""

    function = "aurora-migrations-drifted"

    def invoke(self, event: Mapping[str, Any] | Request, *, logs: bool = False) -> InvokeOutcome:
        command = event["command"] if isinstance(event, Mapping) else event.command
        result = Result(command=command, after=["0017"], heads=["0017"])
        if command == "drift":
            result.drift_count = 2
        return InvokeOutcome(self.function, result, result.to_dict(), "req-1", "$LATEST", None)


class NoSchema(Drifted):
    """A function whose bundle was built with --no-schema: drift cannot be asked."""

    def invoke(self, event: Mapping[str, Any] | Request, *, logs: bool = False) -> InvokeOutcome:
        command = event["command"] if isinstance(event, Mapping) else event.command
        if command == "drift":
            raise RemoteFailure("No expected schema in this bundle.")
        return super().invoke(event, logs=logs)


def test_the_drift_count_is_shown_and_its_absence_is_not_a_failure() -> None:
    drifted, blind = gather_status({"dev": Drifted(), "prod": NoSchema()})

    assert drifted.healthy and drifted.drift_count == 2 and drifted.drift_problem is None
    assert blind.healthy and blind.drift_count is None
    assert blind.drift_problem and "No expected schema" in blind.drift_problem

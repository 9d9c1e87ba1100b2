"""Contract: the metrics the handler publishes are the ones the stack's alarms and dashboard read.

The handler runs on real PostgreSQL through each kind of outcome (a run that succeeds, fails or
crashes, a request refused by the engine, before it, or for want of configuration) and prints
its Embedded Metric Format lines. The alarms and the dashboard's metrics come from each
synthesized variant's template. Each alarm is evaluated on what one invocation published, as
CloudWatch would (namespace, name and the exact set of dimensions, the statistic, the
threshold): a failed run must page, a refused request must not.
"""

from __future__ import annotations

import io
import json
import statistics
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template
from infra_testkit import Synthesized, dashboard_widgets, resources_of

from runner.adapters import handler
from runner.core.errors import AuroraMigrationsError
from tests.conftest import Server, write_alembic_ini
from tests.integrity.support import copy_project, ship_expected_schema

BAD_EVENTS = Path(__file__).resolve().parents[1] / "events" / "bad"
UPGRADE = {"command": "upgrade", "revision": "head"}


def bad_event(name: str) -> Any:
    return json.loads((BAD_EVENTS / f"{name}.json").read_text())


@dataclass(frozen=True)
class Outcome:
    """One invocation, after `setup` invocations on the same fresh database."""

    event: Any
    tree: str | None = None  # a fixture revision tree; None: the project's revisions
    setup: tuple[dict[str, Any], ...] = ()
    configured: bool = True  # False: no database configured at all
    shipped: bool = False  # True: the project's revisions with their expected schema shipped


OUTCOMES = {
    "succeeded": Outcome(UPGRADE),
    "failed": Outcome(UPGRADE, tree="failing"),
    "crashed": Outcome(UPGRADE, tree="crashing"),
    "refused by the engine": Outcome(
        json.loads(
            (BAD_EVENTS / "ConfirmationRequired__downgrade_without_confirm.json").read_text()
        ),
        setup=(UPGRADE,),
    ),
    "refused before the engine": Outcome(bad_event("UnknownCommand__unknown_command")),
    "refused, not configured": Outcome(UPGRADE, configured=False),
    "checked for drift": Outcome({"command": "drift"}, setup=(UPGRADE,), shipped=True),
}
PAGES = {"failed", "crashed"}


@dataclass(frozen=True)
class DataPoint:
    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]
    value: float


@dataclass(frozen=True)
class Invocation:
    error: str | None  # the error type the handler raised, if any
    emf_lines: int
    points: list[DataPoint]


@dataclass
class LambdaContext:
    aws_request_id: str = "req-metrics"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def emf_points(stdout: str) -> tuple[int, list[DataPoint]]:
    """The data points of every EMF line in `stdout` (other lines are ignored)."""
    lines, points = 0, []
    for line in stdout.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        lines += 1
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((key, str(document[key])) for key in dimension_set)
                for metric in directive["Metrics"]:
                    values = document[metric["Name"]]
                    for value in values if isinstance(values, list) else [values]:
                        points.append(
                            DataPoint(directive["Namespace"], metric["Name"], dimensions, value)
                        )
    return lines, points


def invoke(server: Server, outcome: Outcome, tmp: Path, shipped: Path) -> Invocation:
    url = server.create_database()
    try:
        with pytest.MonkeyPatch.context() as env:
            for name in ("DATABASE_URL", "DB_SECRET_ARN", "DB_IAM_AUTH", "ALEMBIC_CONFIG"):
                env.delenv(name, raising=False)
            if outcome.configured:
                env.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
            if outcome.tree is not None:
                env.setenv("ALEMBIC_CONFIG", str(write_alembic_ini(outcome.tree, tmp)))
            if outcome.shipped:
                env.setenv("ALEMBIC_CONFIG", str(shipped))
            handler.reset_engine()
            for event in outcome.setup:
                handler.handler(event, LambdaContext())
            stdout, error = io.StringIO(), None
            with redirect_stdout(stdout):
                try:
                    handler.handler(outcome.event, LambdaContext())
                except AuroraMigrationsError as exc:
                    error = type(exc).__name__
            handler.reset_engine()
    finally:
        server.drop_database(url)
    lines, points = emf_points(stdout.getvalue())
    return Invocation(error, lines, points)


@pytest.fixture(scope="module")
def published(
    pg_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Invocation]]:
    """What the handler published for each outcome; the same for every stack variant."""
    tmp = tmp_path_factory.mktemp("metrics")
    shipped = ship_expected_schema(pg_server, copy_project(tmp_path_factory.mktemp("project")))
    yield {name: invoke(pg_server, outcome, tmp, shipped) for name, outcome in OUTCOMES.items()}


@dataclass(frozen=True)
class WatchedMetric:
    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]
    label: str = ""

    def matches(self, point: DataPoint) -> bool:
        return (point.namespace, point.name, point.dimensions) == (
            self.namespace,
            self.name,
            self.dimensions,
        )


def runner_alarms(synthesized: Synthesized) -> list[dict[str, Any]]:
    """Alarms on the runner's own metrics (not on the AWS/ namespaces), from the template."""
    template = Template.from_stack(synthesized.stacks.runner)
    return [
        alarm["Properties"]
        for alarm in resources_of(template, "AWS::CloudWatch::Alarm")
        if not alarm["Properties"]["Namespace"].startswith("AWS/")
    ]


def alarm_metric(alarm: dict[str, Any]) -> WatchedMetric:
    return WatchedMetric(
        alarm["Namespace"],
        alarm["MetricName"],
        frozenset((d["Name"], d["Value"]) for d in alarm.get("Dimensions", [])),
    )


def dashboard_metrics(synthesized: Synthesized) -> list[WatchedMetric]:
    """The runner's own metrics the dashboard graphs (rows: namespace, name, k, v, ..., options)."""
    metrics = []
    for widget in dashboard_widgets(Template.from_stack(synthesized.stacks.runner)):
        for row in widget["properties"].get("metrics", []):
            options = row[-1] if isinstance(row[-1], dict) else {}
            namespace, name, *pairs = row[:-1] if options else row
            if namespace.startswith("AWS/"):
                continue
            dimensions = frozenset(zip(pairs[::2], pairs[1::2], strict=True))
            metrics.append(WatchedMetric(namespace, name, dimensions, options.get("label", "")))
    return metrics


STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Sum": sum,
    "Maximum": max,
    "Minimum": min,
    "Average": statistics.mean,
    "SampleCount": len,
}
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


def fires(alarm: dict[str, Any], points: list[DataPoint]) -> bool:
    """Would `alarm` go off on these data points alone (one period, as CloudWatch reads it)?"""
    values = [point.value for point in points if alarm_metric(alarm).matches(point)]
    if not values:
        assert alarm.get("TreatMissingData") == "notBreaching", alarm
        return False
    value = STATISTICS[alarm["Statistic"]](values)
    return COMPARISONS[alarm["ComparisonOperator"]](value, alarm["Threshold"])


def published_names(invocation: Invocation) -> str:
    return ", ".join(
        f"{p.namespace}/{p.name}{dict(p.dimensions)}={p.value:g}" for p in invocation.points
    )


def test_each_outcome_is_the_one_meant_and_publishes_one_emf_line(
    published: dict[str, Invocation],
) -> None:
    errors = {name: invocation.error for name, invocation in published.items()}
    assert errors == {
        "succeeded": None,
        "failed": "MigrationFailed",
        "crashed": "InternalError",
        "refused by the engine": "ConfirmationRequired",
        "refused before the engine": "UnknownCommand",
        "refused, not configured": "ConfigurationError",
        "checked for drift": None,
    }
    assert {name: invocation.emf_lines for name, invocation in published.items()} == dict.fromkeys(
        OUTCOMES, 1
    )


def test_a_failed_run_pages_and_nothing_else_does(
    synthesized: Synthesized, published: dict[str, Invocation]
) -> None:
    alarms = runner_alarms(synthesized)
    assert alarms, f"{synthesized.name}: no alarm watches the runner's own metrics"
    for alarm in alarms:
        watched = alarm_metric(alarm)
        for name, invocation in published.items():
            expected = name in PAGES
            assert fires(alarm, invocation.points) is expected, (
                f"{synthesized.name}: the alarm on {watched.namespace}/{watched.name}"
                f"{dict(watched.dimensions)} would {'not ' if expected else ''}fire when the "
                f"invocation {name}; the handler published: {published_names(invocation)}"
            )


def test_every_runner_metric_on_the_dashboard_is_published(
    synthesized: Synthesized, published: dict[str, Invocation]
) -> None:
    graphed = dashboard_metrics(synthesized)
    assert graphed, f"{synthesized.name}: the dashboard graphs none of the runner's metrics"
    points = [point for invocation in published.values() for point in invocation.points]
    never = [metric for metric in graphed if not any(metric.matches(p) for p in points)]
    assert never == [], f"{synthesized.name}: the handler never publishes {never}"


def test_a_refusal_counts_on_the_dashboard_and_on_no_alarm(
    synthesized: Synthesized, published: dict[str, Invocation]
) -> None:
    """A refused request shows as 1 on exactly one dashboard line, which no alarm watches."""
    alarmed = {alarm_metric(alarm) for alarm in runner_alarms(synthesized)}
    for name, invocation in published.items():
        if not name.startswith("refused"):
            continue
        counted = {
            metric
            for metric in dashboard_metrics(synthesized)
            for point in invocation.points
            if metric.matches(point) and point.value
        }
        assert len(counted) == 1, (
            f"{synthesized.name}: an invocation {name} shows on {counted}; published: "
            f"{published_names(invocation)}"
        )
        (refusals,) = counted
        assert refusals.label and "refused" in refusals.label.lower(), refusals
        assert {m for m in alarmed if m.name == refusals.name} == set(), refusals

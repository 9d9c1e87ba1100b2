"""The "migration status" dashboard: what the runner did, and the state of its alarms."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.components.alarms import PERIOD, function_errors, maximum_duration, runner_metric
from runner.core import contract


class StatusDashboard(cloudwatch.Dashboard):
    """Alarm states; invocations, errors, duration; revisions applied, failed and refused runs,
    and the migration lock wait."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        timeout: cdk.Duration,
        alarms: Sequence[cloudwatch.IAlarm],
        duration_threshold_ms: int,
        dashboard_name: str | None = None,
    ):
        super().__init__(
            scope,
            construct_id,
            dashboard_name=dashboard_name,
            default_interval=cdk.Duration.days(7),
        )
        self.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    "# Migration status\n"
                    "Runs of the aurora-migrations runner and what they applied. "
                    "Runner metrics come from namespace "
                    f"`{contract.METRICS_NAMESPACE}`, service `{contract.SERVICE_NAME}`."
                ),
                width=24,
                height=2,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=24, height=3),
        )
        self.add_widgets(
            _function_widget(function),
            _duration_widget(function, timeout, duration_threshold_ms),
        )
        self.add_widgets(_outcomes_widget(), _lock_wait_widget())
        self.add_widgets(_drift_widget())


def _function_widget(function: lambda_.IFunction) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title="Invocations, errors, throttles, dropped async events",
        left=[
            function.metric_invocations(period=PERIOD, statistic="Sum", label="Invocations"),
            function_errors(function).with_(label="Errors"),
            function.metric_throttles(period=PERIOD, statistic="Sum", label="Throttles"),
            function.metric(
                "AsyncEventsDropped", period=PERIOD, statistic="Sum", label="Async dropped"
            ),
        ],
        width=12,
    )


def _duration_widget(
    function: lambda_.IFunction, timeout: cdk.Duration, threshold_ms: int
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title="Duration (ms)",
        left=[
            maximum_duration(function).with_(label="Maximum"),
            function.metric_duration(period=PERIOD, statistic="Average", label="Average"),
        ],
        left_annotations=[
            cloudwatch.HorizontalAnnotation(value=timeout.to_milliseconds(), label="Timeout"),
            cloudwatch.HorizontalAnnotation(value=threshold_ms, label="Alarm threshold"),
        ],
        width=12,
    )


def _outcomes_widget() -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title="Revisions applied, failed runs, refused requests",
        left=[
            runner_metric(contract.METRIC_REVISIONS_APPLIED, "Sum").with_(
                label="Revisions applied"
            ),
            runner_metric(contract.METRIC_MIGRATION_FAILURES, "Sum").with_(
                label="Migration failures"
            ),
            runner_metric(contract.METRIC_REQUESTS_REFUSED, "Sum").with_(label="Requests refused"),
        ],
        width=12,
    )


def _drift_widget() -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title="Schema drift (objects that differ from the expected schema, per drift run)",
        left=[runner_metric(contract.METRIC_SCHEMA_DRIFT, "Maximum").with_(label="Drift")],
        width=12,
    )


def _lock_wait_widget() -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title="Migration lock wait (ms)",
        left=[
            runner_metric(contract.METRIC_LOCK_WAIT_MS, "Maximum").with_(label="Maximum"),
            runner_metric(contract.METRIC_LOCK_WAIT_MS, "Average").with_(label="Average"),
        ],
        width=12,
    )

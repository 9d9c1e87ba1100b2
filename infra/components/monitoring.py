"""Alarms and the "migration status" dashboard for the runner.

Alarms: any function error in 5 minutes; a run whose maximum duration passes 80% of the timeout
(the next one may be cut off); any `MigrationFailures` the runner reports. They notify the
`AlarmTopic` (see `alarm_topic.py`); subscribe to it, or pass `alarm_email` to the stack.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from runner import contract

PERIOD = cdk.Duration.minutes(5)
DEFAULT_DURATION_ALARM_RATIO = 0.8


def runner_metric(name: str, statistic: str) -> cloudwatch.Metric:
    """One of the runner's own EMF metrics (namespace AuroraMigrations, service dimension).

    No unit: CloudWatch would then match only data points published with that exact unit.
    """
    return cloudwatch.Metric(
        namespace=contract.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map=dict(contract.METRIC_DIMENSIONS),
        statistic=statistic,
        period=PERIOD,
    )


class MigrationsMonitoring(Construct):
    """Alarms on the runner function, notifying the given topic, and the dashboard."""

    alarm_topic: sns.ITopic
    errors_alarm: cloudwatch.Alarm
    duration_alarm: cloudwatch.Alarm
    failures_alarm: cloudwatch.Alarm
    dashboard: cloudwatch.Dashboard

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        timeout: cdk.Duration,
        alarm_topic: sns.ITopic,
        dashboard_name: str | None = None,
        duration_alarm_ratio: float = DEFAULT_DURATION_ALARM_RATIO,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 0 < duration_alarm_ratio < 1:
            raise ValueError(f"duration_alarm_ratio must be in (0, 1), not {duration_alarm_ratio}")
        self.alarm_topic = alarm_topic

        # Alarm metrics carry no label: a label turns an alarm's metric into metric math.
        errors = function.metric_errors(period=PERIOD, statistic="Sum")
        max_duration = function.metric_duration(period=PERIOD, statistic="Maximum")
        failures = runner_metric(contract.METRIC_MIGRATION_FAILURES, "Sum")

        timeout_ms = timeout.to_milliseconds()
        duration_threshold_ms = round(timeout_ms * duration_alarm_ratio)

        self.errors_alarm = cloudwatch.Alarm(
            self,
            "ErrorsAlarm",
            alarm_description="The migrations runner failed (function error) in 5 minutes.",
            metric=errors,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.duration_alarm = cloudwatch.Alarm(
            self,
            "DurationAlarm",
            alarm_description=(
                f"A migration run took more than {round(duration_alarm_ratio * 100)}% of the "
                f"{timeout.to_human_string()} timeout; split long migrations."
            ),
            metric=max_duration,
            threshold=duration_threshold_ms,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.failures_alarm = cloudwatch.Alarm(
            self,
            "MigrationFailuresAlarm",
            alarm_description="The runner reported a failed migration (MigrationFailures >= 1).",
            metric=failures,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarms = (self.errors_alarm, self.duration_alarm, self.failures_alarm)
        for alarm in alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=cdk.Duration.days(7),
        )
        self.dashboard.add_widgets(
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
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations, errors, throttles, dropped async events",
                left=[
                    function.metric_invocations(
                        period=PERIOD, statistic="Sum", label="Invocations"
                    ),
                    errors.with_(label="Errors"),
                    function.metric_throttles(period=PERIOD, statistic="Sum", label="Throttles"),
                    function.metric(
                        "AsyncEventsDropped", period=PERIOD, statistic="Sum", label="Async dropped"
                    ),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Duration (ms)",
                left=[
                    max_duration.with_(label="Maximum"),
                    function.metric_duration(period=PERIOD, statistic="Average", label="Average"),
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=timeout_ms, label="Timeout"),
                    cloudwatch.HorizontalAnnotation(
                        value=duration_threshold_ms, label="Alarm threshold"
                    ),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Revisions applied, migration failures",
                left=[
                    runner_metric(contract.METRIC_REVISIONS_APPLIED, "Sum").with_(
                        label="Revisions applied"
                    ),
                    failures.with_(label="Migration failures"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Migration lock wait (ms)",
                left=[
                    runner_metric(contract.METRIC_LOCK_WAIT_MS, "Maximum").with_(label="Maximum"),
                    runner_metric(contract.METRIC_LOCK_WAIT_MS, "Average").with_(label="Average"),
                ],
                width=12,
            ),
        )

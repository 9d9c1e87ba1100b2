"""The three alarms on the runner, and the metrics they and the dashboard watch.

- `FunctionErrorsAlarm`: any function error in 5 minutes.
- `SlowRunAlarm`: a run whose maximum duration passes a share of the timeout (the next,
  longer one may be cut off).
- `MigrationFailuresAlarm`: any failed run the runner reports (`MigrationFailures`). A refused
  request (`RequestsRefused`) is the runner working as meant and pages no one.

Alarm metrics carry no label: a label turns an alarm's metric into metric math.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from runner.core import contract

PERIOD = cdk.Duration.minutes(5)


def runner_metric(name: str, statistic: str) -> cloudwatch.Metric:
    """One of the runner's own EMF metrics (`runner.core.contract`: namespace, service dimension).

    No unit: CloudWatch would then match only data points published with that exact unit.
    """
    return cloudwatch.Metric(
        namespace=contract.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map=dict(contract.METRIC_DIMENSIONS),
        statistic=statistic,
        period=PERIOD,
    )


def function_errors(function: lambda_.IFunction) -> cloudwatch.Metric:
    return function.metric_errors(period=PERIOD, statistic="Sum")


def maximum_duration(function: lambda_.IFunction) -> cloudwatch.Metric:
    return function.metric_duration(period=PERIOD, statistic="Maximum")


class FunctionErrorsAlarm(cloudwatch.Alarm):
    """Any function error (an invocation that raised) in 5 minutes."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction):
        super().__init__(
            scope,
            construct_id,
            alarm_description="The migrations runner failed (function error) in 5 minutes.",
            metric=function_errors(function),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )


class SlowRunAlarm(cloudwatch.Alarm):
    """A run took more than `ratio` of the function's timeout; `threshold_ms` says how long."""

    threshold_ms: int

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        timeout: cdk.Duration,
        ratio: float,
    ):
        if not 0 < ratio < 1:
            raise ValueError(f"duration_alarm_ratio must be in (0, 1), not {ratio}")
        threshold_ms = round(timeout.to_milliseconds() * ratio)
        super().__init__(
            scope,
            construct_id,
            alarm_description=(
                f"A migration run took more than {round(ratio * 100)}% of the "
                f"{timeout.to_human_string()} timeout; split long migrations."
            ),
            metric=maximum_duration(function),
            threshold=threshold_ms,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.threshold_ms = threshold_ms


class MigrationFailuresAlarm(cloudwatch.Alarm):
    """A run the runner reports as failed (`MigrationFailures` >= 1); refusals do not count."""

    def __init__(self, scope: Construct, construct_id: str):
        super().__init__(
            scope,
            construct_id,
            alarm_description="The runner reported a failed migration (MigrationFailures >= 1).",
            metric=runner_metric(contract.METRIC_MIGRATION_FAILURES, "Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

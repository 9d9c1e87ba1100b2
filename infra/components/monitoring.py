"""Monitoring of the runner: its three alarms (`alarms.py`), notifying the `AlarmTopic`
(`alarm_topic.py`; subscribe to it, or pass `alarm_email` to the stack), and its status
dashboard (`dashboard.py`).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.components.alarms import FunctionErrorsAlarm, MigrationFailuresAlarm, SlowRunAlarm
from infra.components.dashboard import StatusDashboard

DEFAULT_DURATION_ALARM_RATIO = 0.8


class MigrationsMonitoring(Construct):
    """The alarms on the runner function, notifying the given topic, and the dashboard."""

    alarm_topic: sns.ITopic
    errors_alarm: FunctionErrorsAlarm
    duration_alarm: SlowRunAlarm
    failures_alarm: MigrationFailuresAlarm
    dashboard: StatusDashboard

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
        self.alarm_topic = alarm_topic
        self.errors_alarm = FunctionErrorsAlarm(self, "ErrorsAlarm", function=function)
        self.duration_alarm = SlowRunAlarm(
            self, "DurationAlarm", function=function, timeout=timeout, ratio=duration_alarm_ratio
        )
        self.failures_alarm = MigrationFailuresAlarm(self, "MigrationFailuresAlarm")
        alarms: list[cloudwatch.Alarm] = [
            self.errors_alarm,
            self.duration_alarm,
            self.failures_alarm,
        ]
        for alarm in alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
        self.dashboard = StatusDashboard(
            self,
            "Dashboard",
            function=function,
            timeout=timeout,
            alarms=alarms,
            duration_threshold_ms=self.duration_alarm.threshold_ms,
            dashboard_name=dashboard_name,
        )

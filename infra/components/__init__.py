"""Small constructs, one job each; the stacks in `infra.stacks` wire them together."""

from infra.components.alarm_topic import AlarmTopic
from infra.components.alarms import FunctionErrorsAlarm, MigrationFailuresAlarm, SlowRunAlarm
from infra.components.dashboard import StatusDashboard
from infra.components.execution_role import RunnerExecutionRole
from infra.components.function import MigrationsFunction
from infra.components.github_deploy import GitHubDeployRole, GitHubOidcProvider
from infra.components.monitoring import MigrationsMonitoring
from infra.components.network import RunnerNetworkAccess
from infra.components.permissions import IamDatabaseAuth, RunnerPermissions
from infra.components.sandbox_database import SandboxDatabase
from infra.components.sandbox_network import SandboxNetwork

__all__ = [
    "AlarmTopic",
    "FunctionErrorsAlarm",
    "GitHubDeployRole",
    "GitHubOidcProvider",
    "IamDatabaseAuth",
    "MigrationFailuresAlarm",
    "MigrationsFunction",
    "MigrationsMonitoring",
    "RunnerExecutionRole",
    "RunnerNetworkAccess",
    "RunnerPermissions",
    "SandboxDatabase",
    "SandboxNetwork",
    "SlowRunAlarm",
    "StatusDashboard",
]

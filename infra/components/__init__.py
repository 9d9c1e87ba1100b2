"""Small constructs, one job each; the stacks in `infra.stacks` wire them together."""

from infra.components.alarm_topic import AlarmTopic
from infra.components.function import MigrationsFunction
from infra.components.monitoring import MigrationsMonitoring
from infra.components.network import RunnerNetworkAccess
from infra.components.permissions import IamDatabaseAuth, RunnerPermissions
from infra.components.sandbox_database import SandboxDatabase
from infra.components.sandbox_network import SandboxNetwork

__all__ = [
    "AlarmTopic",
    "IamDatabaseAuth",
    "MigrationsFunction",
    "MigrationsMonitoring",
    "RunnerNetworkAccess",
    "RunnerPermissions",
    "SandboxDatabase",
    "SandboxNetwork",
]

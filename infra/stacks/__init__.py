"""The deployable stacks: the runner (always) and a sandbox VPC with Aurora (optional)."""

from infra.stacks.dev_environment import DevEnvironmentProps, DevEnvironmentStack
from infra.stacks.runner import MigrationsRunnerProps, MigrationsRunnerStack

__all__ = [
    "DevEnvironmentProps",
    "DevEnvironmentStack",
    "MigrationsRunnerProps",
    "MigrationsRunnerStack",
]

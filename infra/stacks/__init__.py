"""The deployable stacks: the runner (always) and a sandbox VPC with Aurora (optional)."""

from infra.stacks.runner import MigrationsRunnerProps, MigrationsRunnerStack
from infra.stacks.sandbox import SandboxProps, SandboxStack

__all__ = [
    "MigrationsRunnerProps",
    "MigrationsRunnerStack",
    "SandboxProps",
    "SandboxStack",
]

"""Remote mode for the CLI: the same request as local mode, sent once to the deployed function.

`--function NAME` or `--env ENV` (with `--region`, `--profile`) picks the function; the
request is validated by the caller before anything here runs, so bad input never leaves the
machine. This module only wires `runner.adapters.remote` (which does the sending, the snapshot
and the status rows) to argparse's namespace; it prints nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

from runner.adapters.remote import clients
from runner.adapters.remote.invoke import InvokeOutcome, Invoker, LambdaInvoker
from runner.adapters.remote.payload import confirmation_in_cli_words
from runner.adapters.remote.resolve import (
    FunctionTarget,
    check_environment,
    resolve_cluster,
    resolve_function,
)
from runner.adapters.remote.snapshot import Snapshot, snapshot_wanted, take_snapshot
from runner.adapters.remote.status import EnvironmentStatus, gather_status
from runner.adapters.remote.upgrade import GuardedUpgrade, upgrade_with_snapshot
from runner.core.errors import AuroraMigrationsError, RemoteNotConfigured, RemoteRefused
from runner.core.results import Request

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

LOCAL_ONLY = ("devdb", "bundle", "renumber", "bootstrap-migrator", "lint")


def environments(args: argparse.Namespace) -> list[str]:
    """`--env` (repeatable) and `--envs a,b`, in the order given, each once."""
    names = [*(getattr(args, "env", None) or []), *(getattr(args, "envs", None) or [])]
    return [check_environment(name) for name in dict.fromkeys(names)]


def wanted(args: argparse.Namespace) -> bool:
    """Whether the command line asks for remote mode."""
    return bool(getattr(args, "function", None) or environments(args))


def refuse_stray_flags(args: argparse.Namespace) -> None:
    """Remote-only flags in local mode, or remote flags on a command that runs here: exit 2."""
    remote = wanted(args)
    if remote and args.command in LOCAL_ONLY:
        raise RemoteNotConfigured(
            f"`{args.command}` runs on this machine, not in the function: drop --function, "
            "--env and --envs. Nothing was run."
        )
    if not remote:
        given = [
            flag
            for flag, value in (
                ("--logs", getattr(args, "logs", False)),
                ("--region", getattr(args, "region", None)),
                ("--profile", getattr(args, "profile", None)),
                ("--snapshot", getattr(args, "snapshot", None)),
                ("--cluster", getattr(args, "cluster", None)),
            )
            if value
        ]
        if args.command == "status" or given:
            what = f"`{args.command}`" if args.command == "status" else ", ".join(given)
            raise RemoteNotConfigured(
                f"{what} needs remote mode: give --env dev|staging|prod (or --function NAME). "
                "Nothing was run."
            )
    if getattr(args, "snapshot", None) is False and getattr(args, "cluster", None):
        raise RemoteNotConfigured(
            "--cluster names the cluster to snapshot; --no-snapshot takes "
            "none. Give one or the other. Nothing was run."
        )


@dataclass(frozen=True)
class Remote:
    """The AWS session and a way to read the stacks, for one command line."""

    session: boto3.Session
    cloudformation: CloudFormationClient

    @classmethod
    def open(cls, args: argparse.Namespace) -> Remote:
        session = clients.make_session(region=args.region, profile=args.profile)
        return cls(session, clients.cloudformation_client(session))

    def target(self, args: argparse.Namespace) -> FunctionTarget:
        envs = environments(args)
        if len(envs) > 1:
            raise RemoteNotConfigured(
                f"`{args.command}` runs in one function, and {', '.join(envs)} were given. "
                "Give one --env (only `status` takes several). Nothing was sent."
            )
        return resolve_function(
            name=args.function, env=envs[0] if envs else None, cloudformation=self.cloudformation
        )

    def invoker(self, target: FunctionTarget) -> LambdaInvoker:
        return LambdaInvoker(target.name, boto3_session=self.session)


def run(
    remote: Remote,
    args: argparse.Namespace,
    target: FunctionTarget,
    request: Request,
    *,
    on_snapshot: Callable[[str], None],
) -> GuardedUpgrade:
    """Send the request once; an upgrade first takes the snapshot when one is wanted. A refusal
    names the flags to type (`--confirm 0017`), not the event's fields."""
    try:
        return _send(remote, args, target, request, on_snapshot=on_snapshot)
    except RemoteRefused as exc:
        raise RemoteRefused(confirmation_in_cli_words(exc.message), **exc.details) from None


def _send(
    remote: Remote,
    args: argparse.Namespace,
    target: FunctionTarget,
    request: Request,
    *,
    on_snapshot: Callable[[str], None],
) -> GuardedUpgrade:
    invoker = remote.invoker(target)
    if request.command != "upgrade":
        return GuardedUpgrade(None, invoker.invoke(request, logs=args.logs))
    take = None
    if snapshot_wanted(target.environment, args.snapshot):
        rds = clients.rds_client(remote.session)
        cluster = resolve_cluster(
            cluster=args.cluster,
            env=target.environment,
            rds=rds,
            cloudformation=remote.cloudformation,
        )

        def take(head: str | None) -> Snapshot:
            on_snapshot(cluster.identifier)
            return take_snapshot(rds, cluster.identifier, environment=target.environment, head=head)

    return upgrade_with_snapshot(invoker, take, revision=request.revision or "head", logs=args.logs)


class _Unresolved:
    """An environment whose function could not be found: its status row says why."""

    def __init__(self, error: AuroraMigrationsError) -> None:
        self.error = error

    def invoke(self, event: Mapping[str, Any] | Request, *, logs: bool = False) -> InvokeOutcome:
        raise self.error


def status(remote: Remote, args: argparse.Namespace) -> list[EnvironmentStatus]:
    """One row per environment (or one for `--function`), never stopped by one of them."""
    envs = environments(args)
    if args.function:
        if envs:
            raise RemoteNotConfigured(
                "Give --function NAME or --env / --envs to `status`, not both. Nothing was sent."
            )
        target = resolve_function(name=args.function)
        return gather_status({target.name: remote.invoker(target)})
    invokers: dict[str, Invoker] = {}
    for env in envs:
        try:
            invokers[env] = remote.invoker(
                resolve_function(env=env, cloudformation=remote.cloudformation)
            )
        except AuroraMigrationsError as exc:
            invokers[env] = _Unresolved(exc)
    return gather_status(invokers)

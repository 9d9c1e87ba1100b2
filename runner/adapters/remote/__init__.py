"""Remote mode: run the runner's commands in the deployed Lambda function, from a laptop or CI.

One module per job, each with injectable boto3 clients:

- `clients`: the boto3 session and every timeout and retry setting. The Lambda client reads
  for longer than any function may run and never retries: one invoke is one run.
- `resolve`: `--function NAME` or `--env ENV` to a function (runner stack output
  `FunctionName`, else the convention `aurora-migrations-ENV`); the cluster to snapshot.
- `invoke`: `LambdaInvoker.invoke(event)` validates locally, invokes once, and returns an
  `InvokeOutcome` (a `Result`, the raw payload, the log tail) or raises one typed error.
- `payload`: the function's answer back into a `Result` (its findings `Finding`s), or a
  `FunctionError` into `RemoteRefused` (exit 2) / `RemoteFailure` (exit 1); a refused
  confirmation keeps the event's words (`confirm='0017'`) until the CLI says it with the flag
  (`confirmation_in_cli_words`).
- `status`: `gather_status({env: invoker})`, one `EnvironmentStatus` row per environment.
- `snapshot`: `take_snapshot(rds, cluster, ...)`, an available cluster snapshot, or an error.
- `upgrade`: `upgrade_with_snapshot(invoker, take)`: validate, snapshot, then upgrade.

For the CLI (`aurora-migrate --function NAME | --env ENV [--region R] [--profile P] ...`):

    session = clients.make_session(region=args.region, profile=args.profile)
    target = resolve_function(name=args.function, env=args.env,
                              cloudformation=clients.cloudformation_client(session))
    invoker = LambdaInvoker(target.name, boto3_session=session)
    outcome = invoker.invoke(event, logs=args.logs)   # event: the dict local mode builds
    render.result(console, outcome.result, database=target.name)   # or outcome.payload, --json
    if outcome.log_tail: print it (already scrubbed)

    rows = gather_status({env: LambdaInvoker(...) for env in envs})   # `status`

    if snapshot_wanted(args.env, args.snapshot):                      # `upgrade --snapshot`
        rds = clients.rds_client(session)
        cluster = resolve_cluster(cluster=args.cluster, env=args.env, rds=rds,
                                  cloudformation=clients.cloudformation_client(session))
        take = lambda head: take_snapshot(rds, cluster.identifier, environment=args.env,
                                          head=head)
    done = upgrade_with_snapshot(invoker, take or None, revision=args.revision)

Errors are the project's (`runner.core.errors`): exit 2 for `RemoteRefused` and the
`RemoteNotConfigured` family (`FunctionNotFound`, `ClusterNotFound`) and every local
`BadRequest`, exit 1 for `RemoteFailure`, `InvocationFailed`, `FunctionBusy`,
`InvocationOutcomeUnknown` and `SnapshotFailed`. Remote errors keep the function's own error
type in `details["remote_error_type"]`. Nothing here prints; every string that comes back from
AWS is scrubbed, and the session's credentials are registered with `runner.core.redact`.
"""

from runner.adapters.remote.clients import invoke_config, make_session
from runner.adapters.remote.invoke import InvokeOutcome, Invoker, LambdaInvoker
from runner.adapters.remote.resolve import (
    ClusterTarget,
    FunctionTarget,
    resolve_cluster,
    resolve_function,
)
from runner.adapters.remote.snapshot import Snapshot, SnapshotWait, snapshot_wanted, take_snapshot
from runner.adapters.remote.status import EnvironmentStatus, LastApplied, gather_status
from runner.adapters.remote.upgrade import GuardedUpgrade, upgrade_with_snapshot

__all__ = [
    "ClusterTarget",
    "EnvironmentStatus",
    "FunctionTarget",
    "GuardedUpgrade",
    "InvokeOutcome",
    "Invoker",
    "LambdaInvoker",
    "LastApplied",
    "Snapshot",
    "SnapshotWait",
    "gather_status",
    "invoke_config",
    "make_session",
    "resolve_cluster",
    "resolve_function",
    "snapshot_wanted",
    "take_snapshot",
    "upgrade_with_snapshot",
]

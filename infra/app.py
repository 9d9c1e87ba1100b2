"""Entry point of the CDK app: `python infra/app.py` (cdk.json runs exactly that).

Select the environment with `-c env=dev|staging|prod` (default dev), on the CDK CLI or here.
Run directly, the app reads cdk.json's context, cdk.context.json and `-c KEY=VALUE` arguments
as the CLI would, synthesizes into cdk.out/ (or $CDK_OUTDIR), and refuses anything else. Synth
needs no AWS credentials: the stacks are environment-agnostic and nothing is looked up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTEXT_FROM_CDK_CLI = "CDK_CONTEXT_JSON"


def _put_repo_root_on_path() -> None:
    # `python infra/app.py` puts infra/ itself first on sys.path, where its modules would
    # shadow top-level ones; import `infra` and `runner` as packages from the repo root instead.
    infra_dir = str(REPO_ROOT / "infra")
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(infra_dir)]
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))


def main(argv: list[str] | None = None) -> int:
    _put_repo_root_on_path()
    import aws_cdk as cdk

    from infra.application import build
    from infra.context_args import context_from_args, project_context
    from infra.errors import ConfigurationError

    try:
        context = context_from_args(sys.argv[1:] if argv is None else argv)
        if CONTEXT_FROM_CDK_CLI not in os.environ:  # run directly: read what the CLI would
            context = {**project_context(REPO_ROOT), **context}
        outdir = None if "CDK_OUTDIR" in os.environ else str(REPO_ROOT / "cdk.out")
        app = cdk.App(context=context, outdir=outdir)
        build(app)
    except ConfigurationError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Entry point of the CDK app: `python infra/app.py` (cdk.json runs exactly that).

Select the environment with `--context env=dev|staging|prod` (default dev). Synth needs no AWS
credentials: the stacks are environment-agnostic and nothing is looked up.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _put_repo_root_on_path() -> None:
    # `python infra/app.py` puts infra/ itself first on sys.path, where its modules would
    # shadow top-level ones; import `infra` and `runner` as packages from the repo root instead.
    infra_dir = str(REPO_ROOT / "infra")
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(infra_dir)]
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))


def main() -> int:
    _put_repo_root_on_path()
    import aws_cdk as cdk

    from infra.application import build
    from infra.errors import ConfigurationError

    app = cdk.App()
    try:
        build(app)
    except ConfigurationError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

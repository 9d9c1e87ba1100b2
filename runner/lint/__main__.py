"""`python -m runner.lint [REV...]`: print the findings; exit 2 when any is not opted out.

Exit 0: no findings, or all opted out. Exit 2: findings to fix, or a bad request or
configuration (unknown revision, squawk missing). Exit 1: anything else failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from runner.core.errors import AuroraMigrationsError, BadRequest, ConfigurationError
from runner.core.findings import blocking
from runner.core.settings import PROJECT_ROOT
from runner.lint import report
from runner.lint.core import lint


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.lint", description=__doc__)
    parser.add_argument("revisions", nargs="*", metavar="REV", help="default: every revision")
    parser.add_argument(
        "--config",
        default=os.environ.get("ALEMBIC_CONFIG") or str(PROJECT_ROOT / "alembic.ini"),
        help="alembic.ini, or a folder with env.py and versions/ (default: the project's)",
    )
    style = parser.add_mutually_exclusive_group()
    style.add_argument("--json", action="store_true", help="print the findings as JSON")
    style.add_argument("--markdown", action="store_true", help="print a PR comment")
    args = parser.parse_args(argv)
    try:
        findings = lint(args.config, args.revisions or None)
    except AuroraMigrationsError as exc:
        print(f"FAILED: {exc.message}", file=sys.stderr)
        return 2 if isinstance(exc, BadRequest | ConfigurationError) else 1
    if args.json:
        out.write(report.as_json(findings) + "\n")
    elif args.markdown:
        out.write(report.markdown(findings))
    else:
        out.write(report.text(findings))
    return 2 if blocking(findings) else 0


if __name__ == "__main__":
    sys.exit(main())

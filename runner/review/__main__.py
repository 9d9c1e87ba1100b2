"""`python -m runner.review --base REF`: the review as Markdown or JSON, on stdout or a file.

Exit 0 when the report was written (with `--fail-on-findings`: and there were no findings and
every check ran), 1 when there were findings or a check did not run under `--fail-on-findings`
or something failed, 2 when the request was wrong (an unknown base, not a git checkout).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from runner.core.errors import AuroraMigrationsError, BadRequest, ConfigurationError
from runner.review.core import review
from runner.review.report import to_json, to_markdown

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aurora-migrate review",
        description="What this branch adds to the migrations, compared with a git base ref: "
        "the new revisions, their offline SQL, and the findings of every check. No database.",
    )
    parser.add_argument("--base", required=True, help="the git ref to compare with (origin/main)")
    parser.add_argument("--format", choices=["markdown", "json"], default="markdown")
    parser.add_argument("--output", type=Path, help="write the report here instead of stdout")
    parser.add_argument(
        "--config", type=Path, help="the alembic.ini (default: ALEMBIC_CONFIG, else the project's)"
    )
    parser.add_argument(
        "--fail-on-findings",
        action="store_true",
        help="exit 1 when there is a finding or a check did not run (the report is still written)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        done = review(args.base, config_file=args.config)
        text = to_markdown(done) if args.format == "markdown" else to_json(done)
        if args.output is not None:
            args.output.write_text(text)
        else:
            sys.stdout.write(text)
    except AuroraMigrationsError as exc:
        print(f"FAILED: {type(exc).__name__}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, BadRequest | ConfigurationError) else EXIT_FINDINGS
    except OSError as exc:
        print(f"FAILED: cannot write the report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.fail_on_findings and not done.ok:
        print(
            f"review: {len(done.findings)} finding(s), {len(done.skipped)} check(s) did not run",
            file=sys.stderr,
        )
        return EXIT_FINDINGS
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

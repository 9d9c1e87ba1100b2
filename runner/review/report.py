"""A `Review` as Markdown (the pull-request comment and the job summary) or JSON.

The Markdown starts with `MARKER`, an HTML comment the workflow looks for to update its one
comment instead of adding another, and stays under GitHub's comment limit: when the SQL would
not fit, the last revisions' SQL is cut and the comment says so.
"""

from __future__ import annotations

import json
import re

from runner.core.findings import Finding
from runner.core.findings_report import REVIEW_COLUMNS, cell, code, table
from runner.review.core import NewRevision, Review

MARKER = "<!-- aurora-migrate-review -->"
# GitHub refuses comments over 65,536 characters; keep room for the workflow's own lines.
MAX_CHARS = 60_000
SHORT_SHA = 12
SQL_LINES_WHEN_CUT = 20


def to_json(review: Review) -> str:
    return json.dumps(review.to_dict(), indent=2) + "\n"


def to_markdown(review: Review, *, max_chars: int = MAX_CHARS) -> str:
    head = _summary(review) + _findings(review.findings) + _skipped(review)
    parts = [head, "### New revisions\n\n"]
    if not review.revisions:
        parts.append("This branch adds no revision.\n")
    budget = max_chars - len(head) - 200
    for index, new in enumerate(review.revisions):
        section = _revision(new)
        if len(section) > budget:
            left = len(review.revisions) - index
            section = _revision(new, sql_cut=True) if budget > 500 else ""
            if len(section) > budget or not section:
                parts.append(
                    f"\n*{left} more revision(s) not shown: the comment would be too long. Run "
                    f"`python -m runner.review --base {review.base}` locally.*\n"
                )
                break
        parts.append(section)
        budget -= len(section)
    return "".join(parts)


def _summary(review: Review) -> str:
    count = len(review.revisions)
    verdict = (
        "no findings"
        if review.ok
        else f"**{len(review.findings)} finding(s)**"
        + (f", **{len(review.skipped)} check(s) did not run**" if review.skipped else "")
    )
    heads = ", ".join(f"`{h}`" for h in review.heads) or "unknown while revision ids repeat"
    return (
        f"{MARKER}\n## Migrations review\n\n"
        f"{code(review.base)} ({review.base_commit[:SHORT_SHA]}) ... HEAD "
        f"({review.head_commit[:SHORT_SHA]}): {count} new revision(s), {verdict}. "
        f"Head: {heads}.\n\n"
    )


def _findings(findings: tuple[Finding, ...]) -> str:
    if not findings:
        return ""
    return "### Findings\n\n" + table(findings, REVIEW_COLUMNS) + "\n\n"


def _skipped(review: Review) -> str:
    if not review.skipped:
        return ""
    lines = [f"- **{cell(s.check)}** did not run: {cell(s.reason)}" for s in review.skipped]
    return "### Checks that did not run\n\n" + "\n".join(lines) + "\n\n"


def _revision(new: NewRevision, *, sql_cut: bool = False) -> str:
    parents = ", ".join(f"`{p}`" for p in new.down_revisions) or "base"
    text = (
        f"#### {code(new.revision)} {cell(new.description)}\n\n"
        f"{code(new.file)}, revises {parents}.\n\n"
    )
    if new.sql is None:
        return text + f"No offline SQL: {cell(new.sql_error or 'unknown')}\n\n"
    lines = new.sql.count("\n")
    body = new.sql
    if sql_cut:
        body = (
            "\n".join(new.sql.splitlines()[:20]) + "\n-- ... cut: the comment would be too long\n"
        )
    fence = "`" * max(3, _longest_backtick_run(body) + 1)
    return (
        text
        + f"<details><summary>Offline SQL of the upgrade ({lines} lines)</summary>\n\n"
        + f"{fence}sql\n{body.rstrip()}\n{fence}\n\n</details>\n\n"
    )


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)

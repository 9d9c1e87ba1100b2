"""Review: what a branch adds to the migrations, as one pull-request comment.

`aurora-migrate review --base origin/main --format markdown` (for now `python -m
runner.review`) compares the checked-out branch with a git base ref, with no database:

- `git`: the revision files the branch adds (`git diff --diff-filter=A base...HEAD`), and the
  revision ids the base already declares (read from the base's files, never imported).
- `findings`: plain `Finding`s (`runner.core.findings`, the type every check reports) from a
  list of providers: the built-in checks (an id the base already has, two new files with one
  id, more than one head, an edited or deleted revision), then whatever lint and validation
  providers exist (`runner.lint` when it is installed). Add a provider to
  `default_providers()` to put its findings into the comment.
- `core`: `review(...)` renders each new revision's upgrade as offline SQL (`render`) and runs the
  providers, into one `Review`.
- `report`: the `Review` as Markdown (with the `MARKER` comment the workflow finds and updates
  one comment by) or JSON; the findings' table and keys are `runner.core.findings_report`'s.
  The exit code is chosen at the edge (`__main__`).
"""

from runner.review.core import NewRevision, Review, review
from runner.review.findings import (
    FindingProvider,
    ReviewContext,
    default_providers,
)
from runner.review.report import MARKER, to_json, to_markdown

__all__ = [
    "MARKER",
    "FindingProvider",
    "NewRevision",
    "Review",
    "ReviewContext",
    "default_providers",
    "review",
    "to_json",
    "to_markdown",
]

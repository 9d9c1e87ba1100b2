"""Every command shows findings through the one reporter, and shows them as it always has.

`tests/golden/findings_outputs.json` holds each output as users saw it before the three finding
types became one (the engine's CLI lines and JSON result, lint's text, JSON and Markdown, the
review's comment and JSON); only lint's Markdown changed, on purpose: its cells now escape
raw HTML as the review's do (a `<table>` in a message broke the comment).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from runner.adapters import render
from runner.core.findings import Finding
from runner.core.findings_report import LINT_KEYS, as_dict
from runner.core.results import Result
from runner.lint import report as lint_report
from runner.review import Review, to_json, to_markdown
from runner.review.core import NewRevision, SkippedCheck

GOLDEN = Path(__file__).resolve().parent / "golden" / "findings_outputs.json"
MSG = "Adding a NOT NULL column | without\na default <b>bold</b>  twice"
FIX = "Use `safe_ddl.add_not_null_column` | then <i>backfill</i>"
ENGINE = [
    Finding("checksum-mismatch", MSG, FIX, revision="0001", file="alembic/versions/0001_x.py"),
    Finding("drift-added", "The live schema has table x.", "Drop it.", object="table x"),
    Finding("drift-changed", "m", "f", revision="0002", object="index a.b"),
    Finding("multiple-heads", "two heads", "merge"),
]
LINT = [
    Finding(
        "ban-drop-column",
        MSG,
        FIX,
        revision="0018",
        file="alembic/versions/0018_x.py",
        line=3,
        source="squawk",
    ),
    Finding(
        "offline-render-failed",
        "m",
        "f",
        revision="0019",
        file="alembic/versions/0019_y.py",
        source="aurora",
    ),
    Finding(
        "require-concurrent-index-creation",
        "idx",
        "fix",
        revision="0020",
        file="v/0020.py",
        line=7,
        source="squawk",
        ignored="small | <table>\nyes",
    ),
]
REVIEW = [
    Finding(
        "adding-required-field",
        MSG,
        FIX,
        revision="0018",
        file="alembic/versions/0018_x.py",
        line=7,
        source="lint/squawk",
    ),
    Finding("multiple-heads", "two heads", "merge", source="review"),
    Finding("revision-edited", "m", "f", file="alembic/versions/0001_x.py", source="review"),
    Finding("weird", "m", "f", file="a.py", source="review"),
]


def engine_lines() -> str:
    out = io.StringIO()
    render.findings(Console(file=out, soft_wrap=True, width=80), ENGINE)
    return out.getvalue()


def a_review(findings: list[Finding], *, with_revision: bool = True) -> Review:
    new = NewRevision("0018", "alembic/versions/0018_x.py", "add x", ("0017",), "CREATE TABLE x;\n")
    skipped = (SkippedCheck("broken", "RuntimeError: x"),) if findings else ()
    return Review(
        "main",
        "a" * 40,
        "b" * 40,
        ("0018",),
        (new,) if with_revision else (),
        tuple(findings),
        skipped,
    )


OUTPUTS: dict[str, Callable[[], str]] = {
    "integrity_text": engine_lines,
    "integrity_json": lambda: json.dumps(Result("validate", findings=ENGINE).to_dict(), indent=2),
    "lint_text": lambda: lint_report.text(LINT),
    "lint_text_empty": lambda: lint_report.text([]),
    "lint_markdown": lambda: lint_report.markdown(LINT),
    "lint_markdown_empty": lambda: lint_report.markdown([]),
    "lint_json": lambda: lint_report.as_json(LINT),
    "lint_json_empty": lambda: lint_report.as_json([]),
    "review_markdown": lambda: to_markdown(a_review(REVIEW)),
    "review_json": lambda: to_json(a_review(REVIEW)),
    "review_markdown_clean": lambda: to_markdown(a_review([], with_revision=False)),
    "review_json_clean": lambda: to_json(a_review([], with_revision=False)),
}


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_each_output_is_what_users_saw_before(output: str) -> None:
    golden = json.loads(GOLDEN.read_text())
    assert OUTPUTS[output]() == golden[output]


def test_lint_markdown_shows_no_raw_html() -> None:
    shown = lint_report.markdown(LINT)
    assert "<table>" not in shown and "&lt;table&gt;" in shown
    assert "opted out: small \\| &lt;table&gt; yes" in shown


def test_a_finding_comes_back_from_json_as_it_went() -> None:
    """The function's result and lint's JSON (which calls the id `rule`) both read back."""
    for finding in ENGINE:
        assert Finding.from_dict(Result("drift", findings=[finding]).to_dict()["findings"][0]) == (
            finding
        )
    assert [Finding.from_dict(as_dict(f, LINT_KEYS)) for f in LINT] == LINT
    assert Finding.from_dict({"id": "x", "message": "m", "fix": "f", "new": 1}).id == "x"

"""`drift`: the live schema against the expected schema at the database's revision.

Each object added, removed or changed is one finding (`drift-added`, `drift-removed`,
`drift-changed`) naming the object, e.g. `index dry_run_log.idx_extra`. Our own tables are
never compared (`schema.OWN_TABLES`). `baseline` uses the same comparison.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner.core.errors import ExpectedSchemaMissing
from runner.core.findings import Finding
from runner.integrity import schema

FIX = {
    "drift-added": "If it was made by hand on purpose, write a revision that creates it (so it "
    "is expected); otherwise drop it.",
    "drift-removed": "Recreate it as the revisions define it, or write a revision that drops it.",
    "drift-changed": "Put it back as the revisions define it, or write a revision that makes "
    "the change.",
}


def load_expected(alembic_ini: Path) -> dict[str, Any]:
    """The shipped `expected_schema.json` beside `alembic.ini`."""
    path = alembic_ini.parent / schema.EXPECTED_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ExpectedSchemaMissing(
            f"No expected schema at {path}, so the live schema has nothing to be compared "
            "with. It is built with the bundle (`aurora-migrate bundle`, without --no-schema) "
            "or by `python -m runner.integrity.expected` beside alembic.ini; deploy a bundle "
            "that has it."
        ) from None
    except ValueError as exc:
        raise ExpectedSchemaMissing(f"{path} is not valid JSON ({exc}); rebuild it.") from None
    if data.get("format") != schema.FORMAT:
        raise ExpectedSchemaMissing(
            f"{path} has format {data.get('format')!r}, this runner reads {schema.FORMAT}; "
            "rebuild it with this runner."
        )
    return data


def expected_at(expected: dict[str, Any], heads: Sequence[str], order: Sequence[str]) -> Any:
    """The expected schema at the database's heads (with several, at the one applied last)."""
    key = max(heads, key=order.index) if heads else "base"
    try:
        return expected["revisions"][key]
    except KeyError:
        raise ExpectedSchemaMissing(
            f"The expected schema has no entry for revision {key}: it was built for other "
            "revision files. Rebuild the bundle so both ship together."
        ) from None


def compare(expected: dict[str, Any], live: dict[str, Any]) -> list[Finding]:
    """Every difference, as findings, in a stable order."""
    found: list[Finding] = []
    want, have = expected["tables"], live["tables"]
    found += _keys("table", want, have, changed=False)
    for table in sorted(set(want) & set(have)):
        for part, kind in (("columns", "column"), ("constraints", "constraint"),
                           ("indexes", "index")):  # fmt: skip
            found += _keys(kind, want[table][part], have[table][part], prefix=f"{table}.")
    for part, kind in (("enums", "enum"), ("views", "view"), ("functions", "function")):
        found += _keys(kind, expected[part], live[part])
    for part, kind in (("sequences", "sequence"), ("extensions", "extension")):
        found += _keys(kind, dict.fromkeys(expected[part]), dict.fromkeys(live[part]))
    return found


def _keys(
    kind: str, want: dict[str, Any], have: dict[str, Any], *, prefix: str = "", changed: bool = True
) -> list[Finding]:
    found = []
    for name in sorted(set(want) | set(have)):
        thing = f"{kind} {prefix}{name}"
        if name not in have:
            found.append(_finding("drift-removed", thing, f"{thing} is missing from the database."))
        elif name not in want:
            message = f"{thing} is in the database, but no revision creates it."
            found.append(_finding("drift-added", thing, message))
        elif changed and want[name] != have[name]:
            found.append(
                _finding(
                    "drift-changed",
                    thing,
                    f"{thing} differs from what the revisions create: "
                    f"{_what_changed(want[name], have[name])}.",
                )
            )
    return found


def _what_changed(want: Any, have: Any) -> str:
    if isinstance(want, dict) and isinstance(have, dict):
        parts = [
            f"{key} {json.dumps(want.get(key))} expected, {json.dumps(have.get(key))} found"
            for key in sorted(set(want) | set(have))
            if want.get(key) != have.get(key)
        ]
        return "; ".join(parts)
    return f"{json.dumps(want)[:200]} expected, {json.dumps(have)[:200]} found"


def _finding(kind: str, thing: str, message: str) -> Finding:
    return Finding(kind, message, FIX[kind], object=thing)

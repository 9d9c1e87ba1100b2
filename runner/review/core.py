"""`review(base)`: the revisions a branch adds, their offline SQL, and every provider's findings.

Nothing here needs a database: each new revision is rendered on its own, from its parents, with
Alembic's offline mode as `aurora-migrate sql` does (`runner.review.render`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.util import to_tuple

from runner.core import alembic_internals, redact, revisions
from runner.core.errors import AuroraMigrationsError
from runner.core.findings import Finding
from runner.core.findings_report import REVIEW_KEYS, as_dict
from runner.core.settings import Settings
from runner.review.findings import (
    FindingProvider,
    NewFile,
    ReviewContext,
    default_providers,
    heads_of,
    revision_id,
)
from runner.review.git import GitCheckout
from runner.review.render import render_upgrade


@dataclass(frozen=True)
class NewRevision:
    """A revision the branch adds; `sql` is its upgrade, or `sql_error` says why there is none."""

    revision: str
    file: str
    description: str
    down_revisions: tuple[str, ...]
    sql: str | None
    sql_error: str | None = None


@dataclass(frozen=True)
class SkippedCheck:
    """A provider that could not run, and why: the review is then incomplete."""

    check: str
    reason: str


@dataclass(frozen=True)
class Review:
    base: str
    base_commit: str
    head_commit: str
    heads: tuple[str, ...]  # () while two files share an id: the tree cannot be read then
    revisions: tuple[NewRevision, ...]
    findings: tuple[Finding, ...]  # a provider that names no `source` is "review"
    skipped: tuple[SkippedCheck, ...] = ()

    @property
    def ok(self) -> bool:
        """No finding, and every check ran."""
        return not self.findings and not self.skipped

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["findings"] = [as_dict(f, REVIEW_KEYS) for f in self.findings]
        return {"ok": self.ok, **data}


def review(
    base: str,
    *,
    config_file: Path | None = None,
    providers: Sequence[FindingProvider] | None = None,
) -> Review:
    """Compare HEAD with `base` (a git ref): raises `ReviewRefused` when git cannot."""
    with warnings.catch_warnings():
        # Alembic warns of a duplicated id; the review reports it as a finding instead.
        warnings.filterwarnings("ignore", message="Revision .* is present more than once")
        return _review(base, config_file, providers)


def _python(paths: Sequence[PurePosixPath]) -> tuple[PurePosixPath, ...]:
    """Revision files are Python modules; caches and data files under versions/ are not."""
    return tuple(path for path in paths if path.suffix == ".py")


def _review(
    base: str, config_file: Path | None, providers: Sequence[FindingProvider] | None
) -> Review:
    ini = (config_file or Settings.from_env().alembic_ini).resolve()
    script = ScriptDirectory.from_config(Config(str(ini)))
    checkout = GitCheckout.containing(Path(script.versions))
    base_commit = checkout.commit(base)
    head_commit = checkout.commit("HEAD")
    folder = PurePosixPath(Path(os.path.relpath(script.versions, checkout.root)).as_posix())

    loaded = {Path(sc.path).resolve(): sc for sc in alembic_internals.revision_files(script)}
    added: list[tuple[PurePosixPath, Script]] = []
    for path in checkout.added_files(base_commit, folder):
        sc = loaded.get((checkout.root / path).resolve())
        if sc is not None:  # a helper module or data file under versions/ is not a revision
            added.append((path, sc))
    order = {rev: i for i, rev in enumerate(revisions.ordered(script))}
    added.sort(key=lambda item: (order.get(item[1].revision, len(order)), str(item[0])))

    context = ReviewContext(
        root=checkout.root,
        config_file=ini,
        script=script,
        base=base,
        base_commit=base_commit,
        new_files=tuple(NewFile(sc.revision, path) for path, sc in added),
        base_ids=_ids_at(checkout, base_commit, folder),
        edited_files=_python(checkout.changed_files(base_commit, folder, "M")),
        deleted_files=_python(checkout.changed_files(base_commit, folder, "D")),
    )
    findings: list[Finding] = []
    skipped: list[SkippedCheck] = []
    for provider in default_providers() if providers is None else providers:
        name = getattr(provider, "__name__", type(provider).__name__)
        try:
            found = provider(context)
            findings.extend(f if f.source else replace(f, source="review") for f in found)
        except Exception as exc:  # one broken check must not cost the comment
            skipped.append(SkippedCheck(name, redact.scrub(f"{type(exc).__name__}: {exc}")))
    return Review(
        base=base,
        base_commit=base_commit,
        head_commit=head_commit,
        heads=tuple(heads_of(script) or ()),
        revisions=tuple(_new_revision(ini, script, path, sc) for path, sc in added),
        findings=tuple(findings),
        skipped=tuple(skipped),
    )


def _ids_at(
    checkout: GitCheckout, commit: str, folder: PurePosixPath
) -> dict[str, tuple[PurePosixPath, ...]]:
    """Revision id -> files declaring it, in `commit`, read as text (never imported)."""
    ids: dict[str, list[PurePosixPath]] = {}
    for path in checkout.files_at(commit, folder):
        if path.suffix == ".py" and (rev := revision_id(checkout.show(commit, path))):
            ids.setdefault(rev, []).append(path)
    return {rev: tuple(paths) for rev, paths in ids.items()}


def _new_revision(
    ini: Path, script: ScriptDirectory, path: PurePosixPath, sc: Script
) -> NewRevision:
    parents: tuple[str, ...] = to_tuple(sc.down_revision, default=())
    sql: str | None = None
    error: str | None = None
    mapped = script.get_revision(sc.revision)
    if mapped is None or Path(mapped.path).resolve() != Path(sc.path).resolve():
        error = "not rendered: another file declares the same revision id"
    else:
        try:
            sql = render_upgrade(ini, script, sc.revision, list(parents))
        except AuroraMigrationsError as exc:
            error = exc.message
    return NewRevision(sc.revision, str(path), sc.doc, parents, sql, error)

"""`lint`: every check on every requested revision, as a list of `Finding`s."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError

from runner.core import revisions as revision_tree
from runner.core.errors import ConfigurationError, OfflineSqlUnavailable, UnknownRevision
from runner.core.findings import Finding, display_path
from runner.lint import squawk
from runner.lint.render import render_upgrade
from runner.lint.rules import (
    BACKFILL_WITHOUT_BATCHING,
    NOT_IGNORABLE,
    OFFLINE_RENDER_FAILED,
    OWN_RULES,
    SQUAWK_OFF,
)
from runner.lint.source_checks import Hit, check_source, invalid_ignore, read_ignores
from runner.lint.sql_checks import unbatched_backfills

SQUAWK_DOCS = "https://squawkhq.com/docs/"


def lint(
    script_dir_or_config: str | Path | Config, revisions: Sequence[str] | None = None
) -> list[Finding]:
    """Findings for `revisions` (ids or prefixes; default: all, base first), opt-outs marked.

    `script_dir_or_config` is an Alembic `Config`, a path to an alembic.ini, or a folder with
    env.py and versions/. Raises `UnknownRevision`, `DuplicateRevision`, `LinterUnavailable`.
    """
    ini, location = _locate(script_dir_or_config)
    config = Config(ini)
    config.set_main_option("script_location", location.replace("%", "%%"))
    script = ScriptDirectory.from_config(config)
    revision_tree.check_unique(script)
    squawk.binary()  # refuse at once, before any rendering, when squawk is missing
    chosen = [_resolve(script, rev) for rev in revisions] if revisions else _all(script)
    findings: list[Finding] = []
    for sc in chosen:
        findings += lint_revision(script, sc, ini=ini, script_location=location)
    return findings


def lint_revision(
    script: ScriptDirectory, sc: Script, *, ini: str | None, script_location: str
) -> list[Finding]:
    """One revision: its source, its rendered SQL through squawk and our SQL checks."""
    path = Path(sc.path)
    shown = display_path(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    hits = check_source(tree)
    ignores = read_ignores(tree)
    if ignores.problem:
        hits.append(invalid_ignore(f"`lint_ignore` is malformed: {ignores.problem}", ignores.line))
    for rule_id in ignores.reasons:
        if rule_id not in OWN_RULES and rule_id not in SQUAWK_OFF and not squawk.is_rule(rule_id):
            hits.append(invalid_ignore(f"`lint_ignore` names no rule: {rule_id!r}", ignores.line))
    found = [_own(hit, sc.revision, shown) for hit in hits]
    try:
        rendered = render_upgrade(script, sc, ini=ini, script_location=script_location)
    except OfflineSqlUnavailable as exc:
        found.append(
            Finding(
                OFFLINE_RENDER_FAILED.id,
                f"{OFFLINE_RENDER_FAILED.problem} ({exc.details.get('error', exc.message)})",
                OFFLINE_RENDER_FAILED.fix,
                revision=sc.revision,
                file=shown,
                source="aurora",
            )
        )
    else:
        for statement in unbatched_backfills(rendered):
            first = statement.text.strip().splitlines()[0][:120]
            found.append(
                Finding(
                    BACKFILL_WITHOUT_BATCHING.id,
                    f"{BACKFILL_WITHOUT_BATCHING.problem} Statement: {first}",
                    BACKFILL_WITHOUT_BATCHING.fix,
                    revision=sc.revision,
                    file=shown,
                    line=statement.source_line,
                    source="aurora",
                )
            )
        for item in squawk.check(rendered.sql):
            found.append(
                Finding(
                    item.rule,
                    item.message,
                    f"{item.help} (see {SQUAWK_DOCS}{item.rule})"
                    if item.help
                    else f"See {SQUAWK_DOCS}{item.rule}",
                    revision=sc.revision,
                    file=shown,
                    line=rendered.source_line(item.line),
                    source="squawk",
                )
            )
    found.sort(key=lambda f: (f.line or 0, f.id))
    return [
        f.opted_out(ignores.reasons[f.id])
        if f.id in ignores.reasons and f.id not in NOT_IGNORABLE
        else f
        for f in found
    ]


def _own(hit: Hit, revision: str, shown: str) -> Finding:
    return Finding(
        hit.rule.id,
        f"{hit.rule.problem} Here it {hit.detail}.",
        hit.rule.fix,
        revision=revision,
        file=shown,
        line=hit.line,
        source="aurora",
    )


def _locate(source: str | Path | Config) -> tuple[str | None, str]:
    """(alembic.ini or None, script_location) for whatever the caller gave."""
    if isinstance(source, Config):
        location = source.get_main_option("script_location")
        if not location:
            raise ConfigurationError("The Alembic config has no script_location; nothing linted.")
        return source.config_file_name, location
    path = Path(source)
    if path.is_dir():
        return None, str(path)
    location = Config(str(path)).get_main_option("script_location") if path.is_file() else None
    if not location:
        raise ConfigurationError(
            f"{path} is neither a folder of revisions (with env.py) nor an alembic.ini with a "
            "script_location. Point lint at one of them; nothing was linted."
        )
    return str(path), location


def _resolve(script: ScriptDirectory, rev: str) -> Script:
    try:
        found = script.get_revision(rev)
    except CommandError as exc:
        raise UnknownRevision(
            f"Cannot lint {rev!r}: {exc}. Name revisions by id (see `aurora-migrate history`); "
            "nothing was linted.",
            revision=rev,
        ) from None
    if found is None:
        raise UnknownRevision(f"Cannot lint {rev!r}: it names no revision.", revision=rev)
    return found


def _all(script: ScriptDirectory) -> list[Script]:
    return list(reversed(list(script.walk_revisions())))

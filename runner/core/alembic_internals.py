"""Every use of Alembic's non-public API in this project, behind one small adapter.

Alembic's public API offers no way to list every revision file (its map keeps one file per
id, so duplicates vanish), to read a revision's parents as a tuple, to build the step objects
an `EnvironmentContext(fn=...)` runs (Alembic's own commands get them from private
`ScriptDirectory._upgrade_revs` and friends), to add an `on_version_apply` hook to a context
`env.py` has already configured (offline `sql` records history rows), to give `alembic merge`
a numbered id, to tell which `alembic` subcommand is running, or to run `alembic revision`
without reading a version table. The functions below do, with names Alembic does not promise
to keep. `problems()` checks each of them against the installed Alembic;
tests/test_alembic_internals.py fails with its message when Alembic changes shape, and
pyproject.toml bounds Alembic to the versions tested.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import alembic.command
import alembic.config
import alembic.util
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationStep, StampStep
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import Revision, RevisionMap

_LOADED: weakref.WeakKeyDictionary[ScriptDirectory, list[Script]] = weakref.WeakKeyDictionary()


def revision_files(script: ScriptDirectory) -> Iterator[Script]:
    """Every revision file, one by one, duplicates included (Alembic's map keeps only one).

    Each file is executed once per `ScriptDirectory`: the loaded scripts are kept, and when
    Alembic has not built its revision map yet, the map is built from them too, instead of
    executing every revision file a second time (a 300-revision project paid that on every run).
    """
    loaded = _LOADED.get(script)
    if loaded is None:
        loaded = _LOADED[script] = list(script._load_revisions())
        revision_map = script.revision_map
        if "_revision_map" not in vars(revision_map):  # not built (memoized) yet
            revision_map._generator = lambda: iter(loaded)
    return iter(loaded)


def down_revisions(revision: Script) -> tuple[str, ...]:
    """The revision's parents, without `depends_on`: () for a base."""
    return tuple(revision._normalized_down_revisions)


def upgrade_step(script: ScriptDirectory, revision: Script) -> Any:
    """The step that runs `revision`'s upgrade(), for `EnvironmentContext(fn=...)`."""
    return MigrationStep.upgrade_from_script(script.revision_map, revision)


def downgrade_step(script: ScriptDirectory, revision: Script) -> Any:
    """The step that runs `revision`'s downgrade()."""
    return MigrationStep.downgrade_from_script(script.revision_map, revision)


def stamp_step(script: ScriptDirectory, removed: str | None, added: str | None) -> Any:
    """The step that replaces the version row `removed` by `added` (either may be None)."""
    is_upgrade, branch_move = added is not None, removed is None or added is None
    return StampStep(removed, added, is_upgrade, branch_move, script.revision_map)


def add_version_apply_hook(context: MigrationContext, hook: Callable[..., None]) -> None:
    """Run `hook` as an extra `on_version_apply` callback of an already configured context."""
    context.on_version_apply_callbacks = (*context.on_version_apply_callbacks, hook)


def use_id_for_merge(rev_id: str) -> None:
    """`alembic merge` asks `alembic.util.rev_id()` for its id after env.py has run and has no
    hook: make that return `rev_id` (this process only; plain `alembic` runs one command)."""
    alembic.util.rev_id = lambda: rev_id


def command_name(config: Config) -> str | None:
    """The `alembic` subcommand running (e.g. "merge"); None when a program runs Alembic."""
    command = getattr(config.cmd_opts, "cmd", None)
    return str(command[0].__name__) if command else None


def script_of(context: MigrationContext) -> ScriptDirectory:
    """The `ScriptDirectory` a migration context runs (in `process_revision_directives`)."""
    script: ScriptDirectory = context.opts["script"]
    return script


def read_no_version_table(context: MigrationContext) -> None:
    """Make a context configured without a connection run without reading a version table."""
    context.as_sql = True


# --- the shape this module relies on -----------------------------------------------------------


def problems() -> list[str]:
    """What this module needs from Alembic and the installed version does not have."""
    found: list[str] = []
    for what, check in _CHECKS:
        try:
            ok = check()
        except Exception as exc:  # any failure to even look is a changed shape
            ok, what = False, f"{what} ({type(exc).__name__}: {exc})"
        if not ok:
            found.append(what)
    return found


def _params(function: Callable[..., Any]) -> list[str]:
    return [p for p in inspect.signature(function).parameters if p != "self"]


def _parsed_command() -> Any:
    return alembic.config.CommandLine().parser.parse_args(["merge", "heads"])


_CHECKS: list[tuple[str, Callable[[], bool]]] = [
    (
        "ScriptDirectory._load_revisions() yields every revision file",
        lambda: _params(ScriptDirectory._load_revisions) == [],
    ),
    (
        "RevisionMap(generator) keeps it as _generator and memoizes _revision_map",
        lambda: (
            _params(RevisionMap.__init__) == ["generator"]
            and "self._generator = generator" in inspect.getsource(RevisionMap.__init__)
            and "_revision_map" in vars(RevisionMap)
        ),
    ),
    (
        "Revision._normalized_down_revisions is a property",
        lambda: isinstance(
            inspect.getattr_static(Revision, "_normalized_down_revisions"), property
        ),
    ),
    (
        "MigrationStep.upgrade_from_script(revision_map, script)",
        lambda: _params(MigrationStep.upgrade_from_script) == ["revision_map", "script"],
    ),
    (
        "MigrationStep.downgrade_from_script(revision_map, script)",
        lambda: _params(MigrationStep.downgrade_from_script) == ["revision_map", "script"],
    ),
    (
        "StampStep(from_, to_, is_upgrade, branch_move, revision_map)",
        lambda: (
            _params(StampStep.__init__)
            == ["from_", "to_", "is_upgrade", "branch_move", "revision_map"]
        ),
    ),
    (
        "MigrationContext keeps its on_version_apply callbacks in .on_version_apply_callbacks "
        "and run_migrations() calls them per step",
        lambda: (
            "self.on_version_apply_callbacks = " in inspect.getsource(MigrationContext.__init__)
            and "in self.on_version_apply_callbacks:"
            in inspect.getsource(MigrationContext.run_migrations)
        ),
    ),
    (
        "alembic merge takes its id from alembic.util.rev_id() at call time",
        lambda: "util.rev_id()" in inspect.getsource(alembic.command.merge),
    ),
    (
        "the alembic command line records its command as cmd_opts.cmd[0]",
        lambda: _parsed_command().cmd[0] is alembic.command.merge,
    ),
    (
        "MigrationContext.run_migrations() with .as_sql and no connection touches no version "
        "table (before Alembic 1.19 it dropped it when ending at base)",
        lambda: "_version.drop(" not in inspect.getsource(MigrationContext.run_migrations),
    ),
    (
        "MigrationContext keeps its options in .opts and offline mode in .as_sql",
        lambda: all(
            f"self.{name} = {name}" in inspect.getsource(MigrationContext.__init__)
            for name in ("opts", "as_sql")
        ),
    ),
]

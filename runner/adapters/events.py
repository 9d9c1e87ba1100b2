"""Turn an untrusted JSON event into a `Request`, or a typed error that says what to fix.

This is pure validation: no database, no Alembic. Whether a revision exists is checked by
`runner.core.revisions`, also before the database is touched.
"""

from __future__ import annotations

from typing import Any

from runner.core import targets
from runner.core.errors import (
    InvalidFieldType,
    MissingField,
    UnknownCommand,
    UnknownField,
)
from runner.core.results import COMMANDS, Request
from runner.core.targets import shown

# command -> (allowed fields, required fields)
FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "upgrade": (frozenset({"revision", "allow_changed"}), frozenset()),
    "downgrade": (frozenset({"revision", "confirm"}), frozenset({"revision"})),
    "current": (frozenset(), frozenset()),
    "history": (frozenset(), frozenset()),
    "heads": (frozenset(), frozenset()),
    "sql": (frozenset({"revision"}), frozenset()),
    "stamp": (frozenset({"revision", "confirm"}), frozenset({"revision"})),
    "validate": (frozenset(), frozenset()),
    "drift": (frozenset(), frozenset()),
    "baseline": (frozenset({"revision", "confirm", "force"}), frozenset({"revision"})),
    "repair": (frozenset({"confirm"}), frozenset()),
}
# Fields that are not strings: `allow_changed` is a list of revision ids, `force` a boolean.
MAX_ALLOWED_CHANGED = 100
DEFAULT_REVISION = {"upgrade": "head", "sql": "head"}


def parse_event(event: Any) -> Request:
    """Validate a handler event or CLI arguments and build the request."""
    if not isinstance(event, dict):
        raise InvalidFieldType(
            f"The event must be a JSON object, not {_json_type(event)}. "
            'Send for example {"command": "upgrade", "revision": "head"}.'
        )
    command = event.get("command")
    if command is None:
        raise MissingField(
            f"The event has no 'command'. Use one of: {', '.join(COMMANDS)}.", field="command"
        )
    if not isinstance(command, str):
        raise InvalidFieldType(
            f"'command' must be a string, not {_json_type(command)}.", field="command"
        )
    if command not in FIELDS:
        raise UnknownCommand(
            f"Unknown command {shown(command)}. Use one of: {', '.join(COMMANDS)}.",
            command=command[: targets.ECHO_LENGTH],
        )
    allowed, required = FIELDS[command]
    extra = sorted(str(name)[: targets.ECHO_LENGTH] for name in set(event) - allowed - {"command"})
    if extra:
        raise UnknownField(
            f"{command!r} does not take the field(s) {', '.join(map(shown, extra[:5]))}. "
            f"It takes: {', '.join(sorted(allowed)) or 'no other fields'}.",
            fields=extra[:20],
        )
    for name in allowed & set(event):
        _check_type(name, event[name])
    missing = sorted(required - set(event))
    if missing:
        raise MissingField(
            f"{command!r} needs the field(s) {', '.join(map(repr, missing))}.", fields=missing
        )
    revision = event.get("revision", DEFAULT_REVISION.get(command))
    if revision is not None:
        check_revision_syntax(revision)
    allow_changed = tuple(event.get("allow_changed", ()))
    for rev in allow_changed:
        check_revision_syntax(rev)
    return Request(
        command=command,
        revision=revision,
        confirm=event.get("confirm"),
        allow_changed=allow_changed,
        force=event.get("force", False),
    )


def _check_type(name: str, value: Any) -> None:
    if name == "force":
        if not isinstance(value, bool):
            raise InvalidFieldType(
                f"'force' must be true or false, not {_json_type(value)}.", field=name
            )
        return
    if name == "allow_changed":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidFieldType(
                "'allow_changed' must be an array of revision ids, e.g. [\"0017\"], not "
                f"{_json_type(value)}.",
                field=name,
            )
        if len(value) > MAX_ALLOWED_CHANGED:
            raise InvalidFieldType(
                f"'allow_changed' names {len(value)} revisions; at most "
                f"{MAX_ALLOWED_CHANGED} are accepted.",
                field=name,
            )
        for rev in value:
            targets.check_length(name, rev)
        return
    if not isinstance(value, str):
        raise InvalidFieldType(f"{name!r} must be a string, not {_json_type(value)}.", field=name)
    targets.check_length(name, value)


def check_revision_syntax(expression: str) -> None:
    """The grammar and length of a revision expression (`runner.core.targets` owns both)."""
    targets.parse(expression)


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "an array", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)

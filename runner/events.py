"""Turn an untrusted JSON event into a `Request`, or a typed error that says what to fix.

This is pure validation: no database, no Alembic. Whether a revision exists is checked by
`runner.revisions`, also before the database is touched.
"""

from __future__ import annotations

import re
from typing import Any

from runner.errors import (
    InvalidFieldType,
    MalformedRevision,
    MissingField,
    UnknownCommand,
    UnknownField,
)
from runner.results import COMMANDS, Request

# command -> (allowed fields, required fields)
FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "upgrade": (frozenset({"revision"}), frozenset()),
    "downgrade": (frozenset({"revision", "confirm"}), frozenset({"revision"})),
    "current": (frozenset(), frozenset()),
    "history": (frozenset(), frozenset()),
    "heads": (frozenset(), frozenset()),
    "sql": (frozenset({"revision"}), frozenset()),
    "stamp": (frozenset({"revision", "confirm"}), frozenset({"revision"})),
}
DEFAULT_REVISION = {"upgrade": "head", "sql": "head"}

# head, heads, base, a (partial) revision id, optionally followed by +N / -N, or just +N / -N.
_REVISION = re.compile(r"^(?:(?:heads?|base|[0-9A-Za-z_]+)(?:[+-][0-9]+)?|[+-][0-9]+)$")


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
            f"Unknown command {command!r}. Use one of: {', '.join(COMMANDS)}.", command=command
        )
    allowed, required = FIELDS[command]
    extra = sorted(set(event) - allowed - {"command"})
    if extra:
        raise UnknownField(
            f"{command!r} does not take the field(s) {', '.join(map(repr, extra))}. "
            f"It takes: {', '.join(sorted(allowed)) or 'no other fields'}.",
            fields=extra,
        )
    for name in allowed & set(event):
        if not isinstance(event[name], str):
            raise InvalidFieldType(
                f"{name!r} must be a string, not {_json_type(event[name])}.", field=name
            )
    missing = sorted(required - set(event))
    if missing:
        raise MissingField(
            f"{command!r} needs the field(s) {', '.join(map(repr, missing))}.", fields=missing
        )
    revision = event.get("revision", DEFAULT_REVISION.get(command))
    if revision is not None:
        check_revision_syntax(revision)
    return Request(command=command, revision=revision, confirm=event.get("confirm"))


def check_revision_syntax(expression: str) -> None:
    if not _REVISION.match(expression):
        raise MalformedRevision(
            f"{expression!r} is not a revision expression. Use a revision id (e.g. 0017), "
            "'head', 'base', or a relative step such as '-1', '+2' or 'head-1'.",
            revision=expression,
        )


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "an array", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)

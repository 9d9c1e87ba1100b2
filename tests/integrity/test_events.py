"""The new commands and fields arrive through the same validation as every event."""

from __future__ import annotations

from typing import Any

import pytest

from runner.adapters.events import parse_event
from runner.core.errors import InvalidFieldType, MalformedRevision, MissingField, UnknownField
from runner.core.results import Request


@pytest.mark.parametrize(
    ("event", "request_"),
    [
        ({"command": "validate"}, Request("validate")),
        ({"command": "drift"}, Request("drift")),
        ({"command": "repair"}, Request("repair")),
        ({"command": "repair", "confirm": "0017"}, Request("repair", confirm="0017")),
        (
            {"command": "baseline", "revision": "0017", "confirm": "base", "force": True},
            Request("baseline", "0017", confirm="base", force=True),
        ),
        (
            {"command": "upgrade", "allow_changed": ["0017"]},
            Request("upgrade", "head", allow_changed=("0017",)),
        ),
    ],
)
def test_new_commands_parse(event: dict[str, Any], request_: Request) -> None:
    assert parse_event(event) == request_


@pytest.mark.parametrize(
    ("event", "error", "says"),
    [
        ({"command": "upgrade", "allow_changed": "0017"}, InvalidFieldType, "array of revision"),
        ({"command": "upgrade", "allow_changed": [17]}, InvalidFieldType, "array of revision"),
        ({"command": "upgrade", "allow_changed": ["../x"]}, MalformedRevision, ""),
        (
            {"command": "baseline", "revision": "0017", "force": "yes"},
            InvalidFieldType,
            "true or false",
        ),
        ({"command": "baseline"}, MissingField, "'revision'"),
        ({"command": "validate", "revision": "0017"}, UnknownField, "no other fields"),
        ({"command": "downgrade", "revision": "base", "force": True}, UnknownField, "force"),
    ],
)
def test_bad_fields_are_refused(event: dict[str, Any], error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says):
        parse_event(event)

"""The function's answers, decoded: results as local mode has them, errors typed once."""

from __future__ import annotations

import pytest

from runner.adapters.remote.payload import (
    confirmation_in_cli_words,
    error_from_payload,
    refused,
    result_from_payload,
)
from runner.core.errors import BadRequest, RemoteFailure, RemoteRefused

WHERE = {"function": "aurora-migrations-dev", "request_id": "req-1"}


def test_details_a_newer_function_sends_are_kept() -> None:
    """Should the handler put its error's to_dict() in the payload, nothing is lost."""
    error = error_from_payload(
        {
            "errorType": "MigrationFailed",
            "errorMessage": "Revision 0003 (x) failed and was rolled back: boom.",
            "message": "a duplicate of errorMessage",
            "ok": False,
            "revision": "0003",
            "applied": ["0001", "0002"],
            "state": ["0002"],
            "stackTrace": ["..."],
        },
        **WHERE,
    )

    assert isinstance(error, RemoteFailure)
    data = error.to_dict()
    assert data["errorType"] == "RemoteFailure" and data["remote_error_type"] == "MigrationFailed"
    assert (data["revision"], data["applied"], data["state"]) == (
        "0003",
        ["0001", "0002"],
        ["0002"],
    )
    assert "stackTrace" not in data and "a duplicate" not in data["message"]


def test_lambda_stopping_the_function_says_what_state_to_expect() -> None:
    error = error_from_payload(
        {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 600.00 seconds"},
        **WHERE,
    )

    assert isinstance(error, RemoteFailure)
    assert "rolled back when its connection closed" in error.message
    assert "req-1" in error.message


@pytest.mark.parametrize(
    ("name", "is_refused"),
    [
        ("ConfirmationRequired", True),
        ("UnknownRevision", True),
        ("ConfigurationError", True),
        ("MigrationFailed", False),
        ("DatabaseUnavailable", False),
        ("KeyError", False),
        ("redact", False),
        ("Runtime.ExitError", False),
    ],
)
def test_only_refusals_by_name_exit_2(name: str, is_refused: bool) -> None:
    assert refused(name) is is_refused
    error = error_from_payload({"errorType": name, "errorMessage": "m"}, **WHERE)
    assert isinstance(error, BadRequest) is is_refused
    assert isinstance(error, RemoteRefused) is is_refused


@pytest.mark.parametrize(
    "payload", [None, "text", [], {"no": "command"}, {"command": "upgrade", "applied": [1]}]
)
def test_an_answer_that_is_not_a_result_is_a_remote_failure(payload: object) -> None:
    with pytest.raises(RemoteFailure, match="not with a runner result"):
        result_from_payload(payload, **WHERE)


def test_keys_a_newer_function_adds_to_a_result_are_ignored() -> None:
    result = result_from_payload(
        {
            "command": "history",
            "after": ["0001"],
            "new_field": 1,
            "revisions": [
                {
                    "revision": "0001",
                    "down_revision": [],
                    "description": "one",
                    "applied": True,
                    "is_head": True,
                    "applied_by": "ci",
                }
            ],
        },
        **WHERE,
    )

    assert result.after == ["0001"] and result.revisions and result.revisions[0].applied


def confirmation_refused(message: str) -> str:
    """What the CLI says of the function's refusal (LambdaInvoker's callers get the event's)."""
    error = error_from_payload(
        {"errorType": "ConfirmationRequired", "errorMessage": message}, **WHERE
    )
    assert message in error.message, "an event's sender gets the event's words"
    return confirmation_in_cli_words(error.message)


def test_a_confirmation_refusal_is_said_with_the_cli_flag() -> None:
    said = confirmation_refused(
        "stamp is destructive and was refused (confirm='0001'). The database is at "
        "'0003,0004'; to proceed, repeat the request with confirm='0003,0004'."
    )

    assert "stamp is destructive and was refused (--confirm 0001)" in said
    assert "run it again with --confirm 0003,0004" in said and "confirm=" not in said
    assert said.startswith("The function aurora-migrations-dev refused the request")
    assert said.endswith("(Lambda request id req-1)")


def test_a_confirmation_is_quoted_for_the_shell_when_it_must_be() -> None:
    said = confirmation_refused(
        'downgrade is destructive and was refused (confirm="it\'s"). The database is at '
        "'base'; to proceed, repeat the request with confirm='base'."
    )

    assert "(--confirm 'it'\"'\"'s')" in said and "--confirm base." in said


def test_a_refusal_in_other_words_is_passed_on_as_the_function_said_it() -> None:
    """A function of another version may word it differently: its words are kept, not lost."""
    message = "downgrade needs confirm='0002' (worded by another version)."
    error = error_from_payload(
        {"errorType": "ConfirmationRequired", "errorMessage": message}, **WHERE
    )

    assert isinstance(error, RemoteRefused) and message in confirmation_in_cli_words(error.message)
    assert "expected" not in error.details


def test_the_revisions_of_a_refused_confirmation_are_details() -> None:
    error = error_from_payload(
        {
            "errorType": "ConfirmationRequired",
            "errorMessage": "downgrade is destructive and was refused (no confirm). The database "
            "is at '0003,0004'; to proceed, repeat the request with confirm='0003,0004'.",
        },
        **WHERE,
    )

    assert error.details["expected"] == "0003,0004" and "given" not in error.details
    assert error.details["current"] == ["0003", "0004"]

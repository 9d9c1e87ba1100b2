"""`runner.core.redact`: a registered secret is hidden in every spelling; URLs never show one."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa

from runner.core import redact
from runner.core.database import UrlCredentials
from runner.core.errors import AuroraMigrationsError, ConfigurationError
from runner.core.results import AppliedRevision, Result, RevisionInfo
from tests.leaks import assert_clean, lowercase_escapes

PASSWORD = "Dist1nct!ve-P@ss:w0rd/%zq"
AWKWARD = "Pä$$ wörd'\"\\€ 😀x"  # non-ASCII, astral, quotes, backslash, space


def _json_in_json(s: str) -> str:
    return json.dumps({"m": json.dumps({"password": s})})


def _botocore_body(s: str) -> str:
    """How botocore logs a GetSecretValue response: the repr of the JSON body's bytes."""
    body = json.dumps({"SecretString": json.dumps({"password": s}), "Name": "x"}).encode()
    return f"Response body:\n{body!r}"


SPELLINGS: dict[str, Callable[[str], str]] = {
    "literal": lambda s: s,
    "percent, upper hex": lambda s: quote(s, safe=""),
    "percent, lower hex, ! unescaped": lowercase_escapes,
    "plus for space": quote_plus,
    "percent twice": lambda s: quote(quote(s, safe=""), safe=""),
    "percent doubled for printf": lambda s: quote(s, safe="").replace("%", "%%"),
    "json": json.dumps,
    "json, ascii off": lambda s: json.dumps(s, ensure_ascii=False),
    "json in json": _json_in_json,
    "repr": repr,
    "repr of utf-8 bytes": lambda s: repr(s.encode()),
    "botocore response body": _botocore_body,
    "json of a repr": lambda s: json.dumps(repr(s)),
}


@pytest.mark.parametrize("secret", [PASSWORD, AWKWARD], ids=["distinctive", "awkward"])
@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_registered_secret_is_hidden_in_every_spelling(secret: str, spelling: str) -> None:
    redact.register(secret)
    text = f"before {SPELLINGS[spelling](secret)} after"

    scrubbed = redact.scrub(text)

    assert redact.MASK in scrubbed and scrubbed.startswith("before ")
    assert scrubbed.endswith(" after") or spelling in ("json in json", "botocore response body")
    assert_clean(secret, scrubbed)


def test_ordinary_text_and_short_or_unregistered_strings_are_left_alone() -> None:
    redact.register("abc")  # too short to mask without mangling ordinary words
    redact.register(PASSWORD)
    text = "abc: Dist1nct!ve-P@ss:w0rd/%zX is another string; 50% off; a+b"
    assert redact.scrub(text) == text


def test_reset_forgets_every_secret() -> None:
    redact.register(PASSWORD)
    redact.reset()
    assert redact.scrub(PASSWORD) == PASSWORD


def test_short_lived_secrets_lapse_and_permanent_ones_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(redact, "_now", lambda: now[0])
    redact.register("token-one-1234", forget_after_s=60)
    redact.register("token-two-1234", forget_after_s=60)
    redact.register("token-two-1234")  # registered for good as well: stays
    assert redact.scrub("token-one-1234 token-two-1234") == "*** ***"
    now[0] += 61
    assert redact.scrub("token-one-1234 token-two-1234") == "token-one-1234 ***"


def test_scrub_data_reaches_into_results_and_details() -> None:
    redact.register(PASSWORD)
    result = Result(
        command="history",
        sql=f"-- {PASSWORD}",
        applied=[AppliedRevision("0001", f"uses {quote(PASSWORD)}", "up", 1)],
        revisions=[RevisionInfo("0001", [], json.dumps(PASSWORD), True, True)],
        message=PASSWORD,
    )
    scrubbed = redact.scrub_data(result)
    assert isinstance(scrubbed, Result) and scrubbed.applied[0].revision == "0001"
    assert_clean(PASSWORD, json.dumps(scrubbed.to_dict()))
    assert_clean(PASSWORD, json.dumps(redact.scrub_data({"k": [PASSWORD, (PASSWORD, 1)]})))


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg2://m:{quote(PASSWORD, safe='')}@h:5432/db?sslmode=require",
        f"postgresql+psycopg2://m@h/db?password={lowercase_escapes(PASSWORD)}&sslmode=require",
        f"postgresql+psycopg2://m@h/db?sslmode=require&sslpassword={quote_plus(PASSWORD)}",
        f"postgresql+psycopg2://m@h/db?sslmode=require&password=a-{PASSWORD}&password=b-x",
    ],
    ids=["userinfo", "password", "sslpassword", "repeated"],
)
def test_urls_are_rendered_with_every_secret_masked_even_unregistered(url: str) -> None:
    shown = redact.safe_url(sa.make_url(url))
    assert shown.startswith("postgresql+psycopg2://m") and "sslmode=require" in shown
    assert "***" in shown
    assert_clean(PASSWORD, shown)


@pytest.mark.parametrize("param", ["password", "sslpassword"])
def test_url_credentials_register_query_parameter_secrets(param: str) -> None:
    UrlCredentials(f"postgresql+psycopg2://m@h/db?{param}={lowercase_escapes(PASSWORD)}")
    assert_clean(PASSWORD, redact.scrub(f"driver said: {param}={quote(PASSWORD, safe='')}"))


def test_an_unparseable_url_is_a_configuration_error_that_does_not_echo_it() -> None:
    with pytest.raises(ConfigurationError) as refused:
        UrlCredentials(f"postgresql+psycopg2://m:{quote(PASSWORD, safe='')}@h:port/db")
    assert "DATABASE_URL" in refused.value.message
    assert_clean(PASSWORD, refused.value.message)


def test_an_error_scrubs_a_secret_registered_after_it_was_made() -> None:
    error = AuroraMigrationsError(f"failed near {PASSWORD}", detail=f"x {PASSWORD}")
    redact.register(PASSWORD)
    assert_clean(PASSWORD, str(error), json.dumps(error.to_dict()))


def test_a_scrubbed_stream_hides_what_is_written_to_it() -> None:
    import io

    target = io.StringIO()
    redact.register(PASSWORD)
    redact.scrubbed(target).write(f"url: {lowercase_escapes(PASSWORD)}\n")
    assert target.getvalue() == "url: ***\n"


# --- size ------------------------------------------------------------------------------------


def test_cap_keeps_short_text_and_cuts_long_text_keeping_start_and_end() -> None:
    assert redact.cap("short") == "short"
    long_run = "refused (confirm='" + "a" * 2**20 + "'). To proceed, use confirm='0017'."
    capped = redact.cap(long_run)
    assert len(capped) <= redact.MESSAGE_LIMIT
    assert capped.startswith("refused (confirm='aaaa") and capped.endswith("confirm='0017'.")
    assert "1048589 characters" in capped  # how long the echoed run was
    assert "aaaa'). To proceed" in capped
    words = "start " + "word " * 2**18 + "the fix"
    capped = redact.cap(words)
    assert len(capped) <= redact.MESSAGE_LIMIT and capped.endswith("the fix")
    assert capped.startswith("start ") and f"{len(words)} characters in all" in capped


def test_echo_cuts_user_input_and_states_its_length() -> None:
    assert redact.echo("0017") == "'0017'"
    echoed = redact.echo("x" * 10_000)
    assert len(echoed) < 100 and "10000 characters" in echoed


def test_an_error_message_is_capped() -> None:
    error = AuroraMigrationsError("bad input " + "\x00" * 2**20 + " Do this instead.")
    assert len(error.message) <= redact.MESSAGE_LIMIT
    assert error.message.endswith("Do this instead.")

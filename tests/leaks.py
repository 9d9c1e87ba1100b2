"""The leak check the secret tests share: does this text hold the password, in any spelling?

Written without `runner.core.redact`, so that a bug there cannot hide itself: the text is checked
as it is, percent-decoded once and twice (either hex case decodes), with printf-doubled `%%`
undone, and with JSON / repr backslash escapes undone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import quote, quote_plus, unquote, unquote_plus


def lowercase_escapes(secret: str) -> str:
    """The secret percent-encoded with lowercase hex and `!` left alone: `%3a`, not `%3A`."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), quote(secret, safe="!"))


def spellings(secret: str) -> set[str]:
    return {
        secret,
        quote(secret, safe=""),
        quote(secret, safe="!"),
        lowercase_escapes(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
    }


def _views(text: str) -> Iterator[str]:
    yield text
    for undone in (text, text.replace("%%", "%")):
        once = unquote(undone)
        yield once
        yield unquote(once)
        yield unquote_plus(undone)
    unescaped = re.sub(r"\\+(.)", r"\1", text)  # \" \\" \/ ... -> the character
    yield unescaped
    yield unquote(unescaped)


def leak(secret: str, text: str) -> str | None:
    """Where `secret` shows in `text` (some context around it), or None."""
    for view in _views(text):
        for form in spellings(secret):
            at = view.find(form)
            if at >= 0:
                return view[max(0, at - 80) : at + len(form) + 40]
    return None


def assert_clean(secret: str, *texts: str) -> None:
    for text in texts:
        where = leak(secret, text)
        assert where is None, f"secret leaked: ...{where}..."

"""Keep secrets out of every string we emit, and keep what we emit to a bounded size.

Every password or token the runner handles is registered here, in decoded form. `scrub` then
replaces it wherever it shows, in any spelling it takes on the way out: literal, percent-encoded
(either hex case, `+` for a space, `%25`- or `%%`-doubled), JSON- or repr-escaped at any depth
(`\\"`, `\\\\`, `\\u0040`, `\\x40`). Log lines, results, error messages and CLI output all
pass through it. `safe_url` renders a URL with its password and every secret-carrying query
parameter masked, registered or not. `cap` and `echo` bound messages and echoes of user input.
"""

from __future__ import annotations

import dataclasses
import io
import re
import threading
import time
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

MASK = "***"
MIN_LENGTH = 4  # shorter "secrets" would mask ordinary words everywhere
SECRET_PARAMS = frozenset({"password", "sslpassword"})  # libpq's secret-carrying keywords
MESSAGE_LIMIT = 8 * 1024  # an error message
LINE_LIMIT = 64 * 1024  # one log line (CloudWatch cuts events at 256 KiB)
ECHO_LIMIT = 60  # an echo of user input inside a message

T = TypeVar("T")

_lock = threading.Lock()
_secrets: dict[str, float | None] = {}  # secret -> when to forget it (None: never)
_pattern: re.Pattern[str] | None = None
_now = time.monotonic


# --- registration ----------------------------------------------------------------------------


def register(secret: str | None, *, forget_after_s: float | None = None) -> None:
    """Remember a secret so that `scrub` hides it in any spelling.

    `forget_after_s` is for short-lived credentials (IAM tokens live 15 minutes): a warm
    Lambda makes one per connection, and the set must not grow without bound.
    """
    if not secret or len(secret) < MIN_LENGTH:
        return
    expires = None if forget_after_s is None else _now() + forget_after_s
    global _pattern
    with _lock:
        known = secret in _secrets
        before = _secrets.get(secret)
        forever = expires is None or (known and before is None)
        _secrets[secret] = None if forever else max(expires or 0.0, before or 0.0)
        if not known:
            _pattern = None


def register_url(url: URL) -> None:
    """Register every secret a URL carries: the password and secret query parameters."""
    for secret in url_secrets(url):
        register(secret)


def url_secrets(url: URL) -> list[str]:
    found = [url.password] if isinstance(url.password, str) else []
    for key, value in url.query.items():
        if is_secret_param(key):
            found += [value] if isinstance(value, str) else list(value)
    return found


def is_secret_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_PARAMS or any(w in lowered for w in ("password", "secret", "token"))


def reset() -> None:
    """Forget every registered secret (tests: results must not depend on test order)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


# --- scrubbing -------------------------------------------------------------------------------


def scrub(text: str) -> str:
    """`text` with every registered secret, in every spelling, replaced by `***`."""
    pattern = _current_pattern()
    return text if pattern is None else pattern.sub(MASK, text)


def scrub_data(value: T) -> T:
    """Scrub every string inside dicts, lists, tuples and dataclasses (results, details)."""
    return _walk(value, scrub)  # type: ignore[no-any-return]


def _walk(value: Any, fix: Any) -> Any:
    if isinstance(value, str):
        return fix(value)
    if isinstance(value, dict):
        return {_walk(k, fix): _walk(v, fix) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, fix) for v in value]
    if type(value) is tuple:
        return tuple(_walk(v, fix) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _walk(getattr(value, f.name), fix) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def _current_pattern() -> re.Pattern[str] | None:
    global _pattern
    now = _now()
    with _lock:
        expired = [s for s, until in _secrets.items() if until is not None and until < now]
        for secret in expired:
            del _secrets[secret]
        if _pattern is None or expired:
            longest_first = sorted(_secrets, key=len, reverse=True)
            _pattern = (
                re.compile("|".join(_spellings(s) for s in longest_first))
                if longest_first
                else None
            )
        return _pattern


_NAMED_ESCAPES = {"\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f"}
_BACKSLASHES = r"\\+"  # one or more: JSON or repr, and those escaped again


def _spellings(secret: str) -> str:
    """A regex matching any run of text that decodes to `secret`, one character at a time."""
    return "".join(_char_spellings(ch) for ch in secret)


def _char_spellings(ch: str) -> str:
    data = ch.encode("utf-8", "surrogatepass")
    forms = {
        re.escape(ch),
        "".join(f"(?:%|%25|%%)(?i:{byte:02x})" for byte in data),  # percent, either hex case
    }
    if ch == " ":
        forms.add(r"\+")
    if not (ch.isascii() and ch.isalnum()):  # nothing escapes ASCII letters and digits
        code = ord(ch)
        forms.add("".join(f"{_BACKSLASHES}(?i:x{byte:02x})" for byte in data))  # bytes repr
        if code <= 0xFF:
            forms.add(f"{_BACKSLASHES}(?i:x{code:02x})")  # str repr
        if code <= 0xFFFF:
            forms.add(f"{_BACKSLASHES}(?i:u{code:04x})")  # JSON
        else:
            high, low = divmod(code - 0x10000, 0x400)
            forms.add(
                f"{_BACKSLASHES}(?i:u{0xD800 + high:04x}){_BACKSLASHES}(?i:u{0xDC00 + low:04x})"
            )
            forms.add(f"{_BACKSLASHES}(?i:U{code:08x})")
        if ch in "\"'\\/":
            forms.add(_BACKSLASHES + re.escape(ch))
        if ch in _NAMED_ESCAPES:
            forms.add(_BACKSLASHES + _NAMED_ESCAPES[ch])
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")"


# --- URLs ------------------------------------------------------------------------------------


def safe_url(url: URL) -> str:
    """The URL with its password and every secret-carrying query parameter shown as `***`."""
    masked = {k: MASK for k in url.query if is_secret_param(k)}
    rendered = url.set(query={k: v for k, v in url.query.items() if k not in masked})
    text = rendered.render_as_string(hide_password=True)
    if masked:
        text += ("&" if rendered.query else "?") + "&".join(f"{k}={MASK}" for k in masked)
    return text


# --- size ------------------------------------------------------------------------------------

_LONG_RUN = re.compile(r"\S{256,}")


def cap(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to at most `limit` characters, keeping its start and its end (the fix).

    Long unbroken runs (an echoed 1 MB `confirm`) are shortened first, so the sentence
    around them survives; then, if still too long, the middle goes.
    """
    if len(text) <= limit:
        return text
    text = _LONG_RUN.sub(lambda m: _shortened(m[0]), text)
    if len(text) <= limit:
        return text
    marker = f" [... {len(text)} characters in all, cut ...] "
    keep = max(limit - len(marker), 0)
    head = keep * 3 // 4
    return text[:head] + marker + text[len(text) - (keep - head) :]


def _shortened(run: str) -> str:
    return f"{run[:ECHO_LIMIT]}[... {len(run)} characters ...]{run[-8:]}"


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """`repr(value)` for a message, cut to `limit` characters with the original length stated."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters"
    return f"{text[:limit]}... ({size})"


def clean(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """What an error message goes through: scrubbed first (so no secret is cut in half), capped."""
    return cap(scrub(message), limit)


# --- streams ---------------------------------------------------------------------------------


def scrubbed(stream: IO[str]) -> IO[str]:
    """`stream`, with everything written to it scrubbed."""
    return cast(IO[str], ScrubbedStream(stream))


class ScrubbedStream(io.TextIOBase):
    """A text stream that scrubs everything written to it (the CLI's stdout and stderr)."""

    def __init__(self, target: IO[str]) -> None:
        self._target = target

    def write(self, text: str) -> int:
        self._target.write(scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", "utf-8") or "utf-8"

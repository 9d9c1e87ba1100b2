"""Keep secrets out of every string we emit.

URLs are always rendered with `hide_password=True`; on top of that, every password or token
the runner handles is registered here, and log lines, results and error messages pass
through `scrub`, so a secret that slipped into a driver message is still replaced.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import URL

MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()


def register(secret: str | None) -> None:
    """Remember a secret (and its escaped forms) so that `scrub` hides it anywhere."""
    if secret and len(secret) >= 4:
        forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}
        with _lock:
            _secrets.update(forms)


def scrub(text: str) -> str:
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def safe_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)

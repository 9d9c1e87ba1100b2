"""TLS for AWS connections: verify the server by default, weaken only on purpose and loudly.

`verify-full` checks that the server's certificate chains to a CA we trust (the Amazon RDS
CAs shipped in `runner/certs`, or `DB_SSL_ROOT_CERT`) and names the host we dialled, so a
DNS or routing mistake cannot hand the migration role's password to another server.
"""

from __future__ import annotations

import logging
from pathlib import Path

from runner.core.errors import ConfigurationError
from runner.core.logs import log_event
from runner.core.settings import Settings

DEFAULT_ROOT_CERT = Path(__file__).resolve().parent.parent / "certs" / "rds-global-bundle.pem"
MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
VERIFYING = ("verify-ca", "verify-full")
# What each weaker mode gives up, for the warning.
_LOST = {
    "verify-ca": "the host name is not checked against the certificate",
    "require": "the server's certificate is not checked: traffic is encrypted but the "
    "server is not authenticated",
    "prefer": "traffic may be sent in plain text and the server is not authenticated",
    "allow": "traffic may be sent in plain text and the server is not authenticated",
    "disable": "traffic is sent in plain text and the server is not authenticated",
}


def tls_connect_args(settings: Settings, *, iam: bool) -> dict[str, str]:
    """libpq `sslmode` (and `sslrootcert`) for AWS connections, after checking them."""
    mode = settings.ssl_mode.strip().lower()
    if mode not in MODES:
        raise ConfigurationError(
            f"DB_SSL_MODE={settings.ssl_mode!r} is not a libpq sslmode; use one of "
            f"{', '.join(MODES)} (default verify-full).",
            variable="DB_SSL_MODE",
        )
    if iam and MODES.index(mode) < MODES.index("require"):
        raise ConfigurationError(
            f"DB_SSL_MODE={mode} is refused with DB_IAM_AUTH=true: an IAM token must only "
            "travel over TLS. Use verify-full (the default), verify-ca or require.",
            variable="DB_SSL_MODE",
        )
    if mode != "verify-full":
        log_event(
            "tls.weakened",
            level=logging.WARNING,
            sslmode=mode,
            consequence=_LOST[mode],
            fix="unset DB_SSL_MODE to verify the server (verify-full)",
        )
    if mode not in VERIFYING:
        return {"sslmode": mode}
    root = Path(settings.ssl_root_cert) if settings.ssl_root_cert else DEFAULT_ROOT_CERT
    if not root.is_file():
        raise ConfigurationError(
            f"The CA file {root} does not exist. Set DB_SSL_ROOT_CERT to a PEM file with the "
            "CAs that signed the server's certificate, or unset it to use the bundled RDS CAs.",
            variable="DB_SSL_ROOT_CERT",
        )
    return {"sslmode": mode, "sslrootcert": str(root)}

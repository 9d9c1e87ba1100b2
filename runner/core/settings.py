"""Every setting of the runner, read from one place.

Precedence is always: explicit argument, then environment variable, then the default below.
The README's "Configuration" table lists the same variables; keep the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from runner.core import contract
from runner.core.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# name -> (field, help). The one list of environment variables the runner reads; the names
# come from `runner.core.contract`, the defaults are those of `Settings` below.
ENVIRONMENT: dict[str, tuple[str, str]] = {
    contract.ENV_DATABASE_URL: ("database_url", "SQLAlchemy URL; wins over every other source."),
    contract.ENV_DB_SECRET_ARN: ("secret_arn", "Secrets Manager secret with the RDS JSON shape."),
    contract.ENV_DB_HOST: ("db_host", "Overrides the secret's host (e.g. an RDS Proxy)."),
    contract.ENV_DB_PORT: ("db_port", "Overrides the secret's port."),
    contract.ENV_DB_NAME: ("db_name", "Overrides the secret's dbname."),
    contract.ENV_DB_USER: ("db_user", "Database user for IAM authentication."),
    contract.ENV_DB_IAM_AUTH: ("iam_auth", "true: connect with a fresh IAM auth token."),
    contract.ENV_DB_SSL_MODE: ("ssl_mode", "libpq sslmode for AWS connections."),
    contract.ENV_DB_SSL_ROOT_CERT: (
        "ssl_root_cert",
        "CA bundle file; default: the bundled RDS CAs.",
    ),
    contract.ENV_DB_CONNECT_TIMEOUT_SECONDS: (
        "connect_timeout_s",
        "Give up connecting after this.",
    ),
    contract.ENV_MIGRATION_LOCK_WAIT_SECONDS: (
        "lock_wait_s",
        "How long a run waits for another run's migration lock.",
    ),
    contract.ENV_MIGRATION_LOCK_TIMEOUT_MS: (
        "lock_timeout_ms",
        "PostgreSQL lock_timeout for migration statements (0 = none).",
    ),
    contract.ENV_MIGRATION_LOCK_RETRIES: (
        "lock_retries",
        "How often a revision that hit lock_timeout is retried, with backoff and jitter.",
    ),
    contract.ENV_MIGRATION_LOCK_RETRY_MAX_SECONDS: (
        "lock_retry_max_s",
        "The longest pause between two tries of a revision that hit lock_timeout.",
    ),
    contract.ENV_MIGRATION_STATEMENT_TIMEOUT_MS: (
        "statement_timeout_ms",
        "PostgreSQL statement_timeout for migration statements (0 = none).",
    ),
    contract.ENV_MIGRATION_TIME_GUARD_MARGIN_MS: (
        "time_guard_margin_ms",
        "Lambda only: do not start a revision with less time than this left.",
    ),
    contract.ENV_ALEMBIC_CONFIG: ("alembic_config", "Path of alembic.ini; default: the project's."),
    contract.ENV_AURORA_MIGRATE_DEVDB_DIR: ("devdb_dir", "Where the local dev database lives."),
}

# attr -> (lowest, highest, unit). PostgreSQL takes at most 2^31-1 ms for its timeouts.
_PG_MS_MAX = 2_147_483_647
_LIMITS: dict[str, tuple[float, float, str]] = {
    "db_port": (1, 65_535, ""),
    "connect_timeout_s": (1, 3_600, " seconds"),
    "lock_wait_s": (0.001, _PG_MS_MAX / 1000, " seconds"),
    "lock_timeout_ms": (0, _PG_MS_MAX, " ms (0 = none)"),
    "statement_timeout_ms": (0, _PG_MS_MAX, " ms (0 = none)"),
    "lock_retries": (0, 100, " tries"),
    "lock_retry_max_s": (0, 900, " seconds"),
    "time_guard_margin_ms": (0, 15 * 60 * 1000, " ms"),
}
_VARIABLE = {attr: name for name, (attr, _help) in ENVIRONMENT.items()}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """The runner's configuration; build it with `Settings.from_env()`."""

    database_url: str | None = None
    secret_arn: str | None = None
    db_host: str | None = None
    db_port: int | None = None
    db_name: str | None = None
    db_user: str | None = None
    iam_auth: bool = False
    ssl_mode: str = "verify-full"
    ssl_root_cert: str | None = None
    connect_timeout_s: int = 10
    lock_wait_s: float = 120
    lock_timeout_ms: int = 3_000
    lock_retries: int = 3
    lock_retry_max_s: float = 30
    statement_timeout_ms: int = 300_000
    time_guard_margin_ms: int = 60_000
    alembic_config: str | None = None
    devdb_dir: str | None = None

    def __post_init__(self) -> None:
        for attr, (low, high, unit) in _LIMITS.items():
            value = getattr(self, attr)
            if value is not None and not low <= value <= high:
                raise ConfigurationError(
                    f"{_VARIABLE[attr]} must be between {_number(low)} and {_number(high)}"
                    f"{unit}, not {_number(value)}. Fix the setting and run again; nothing "
                    "was changed.",
                    variable=_VARIABLE[attr],
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, (attr, _help) in ENVIRONMENT.items():
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[attr] = _convert(name, raw, types[attr])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def alembic_ini(self) -> Path:
        return Path(self.alembic_config) if self.alembic_config else PROJECT_ROOT / "alembic.ini"

    @property
    def devdb_path(self) -> Path:
        return Path(self.devdb_dir) if self.devdb_dir else PROJECT_ROOT / ".devdb"


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:g}"


def _convert(name: str, raw: str, kind: Any) -> Any:
    kind = str(kind)
    try:
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(raw)
        if kind in ("int", "int | None"):
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ConfigurationError(
            f"Environment variable {name} has an invalid value; expected {kind.split(' ')[0]}.",
            variable=name,
        ) from None
    return raw

"""What to bootstrap: the role, the schema it owns, and how it logs in.

Names are checked before anything connects. Only plain lower-case identifiers that need no
quoting are accepted, so the SQL a DBA reviews reads exactly like the names they typed, and
the role's stored `search_path` cannot differ from the schema by case or quoting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.dialects import postgresql

from runner.core.errors import InvalidName

DEFAULT_ROLE = "migrator"
DEFAULT_SCHEMA = "public"
# Where the master credentials and the migrator's password come from (names, not values).
ADMIN_URL_VARIABLE = "BOOTSTRAP_DATABASE_URL"
PASSWORD_VARIABLE = "MIGRATOR_PASSWORD"
MIN_PASSWORD_LENGTH = 12

_PLAIN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PREPARER = postgresql.dialect().identifier_preparer  # type: ignore[no-untyped-call]
_NOT_A_ROLE = {"public", "none", "current_role", "current_user", "session_user", "rds_iam"}


@dataclass(frozen=True)
class BootstrapOptions:
    """One bootstrap: `role` owns `schema`; with `iam` it logs in with IAM tokens only."""

    role: str = DEFAULT_ROLE
    schema: str = DEFAULT_SCHEMA
    iam: bool = False

    def __post_init__(self) -> None:
        _check_name("role", self.role)
        _check_name("schema", self.schema)
        if self.role in _NOT_A_ROLE or self.role.startswith(("pg_", "rds")):
            raise InvalidName(
                f"{self.role!r} cannot be the migrator role: it is reserved by PostgreSQL or "
                f"RDS. Choose another name, e.g. --role {DEFAULT_ROLE}.",
                role=self.role,
            )
        if self.schema.startswith("pg_") or self.schema == "information_schema":
            raise InvalidName(
                f"{self.schema!r} is a system schema. Choose the application's schema, e.g. "
                f"--schema {DEFAULT_SCHEMA}.",
                schema=self.schema,
            )

    @property
    def login(self) -> str:
        return "IAM authentication (rds_iam)" if self.iam else "password authentication"


def _check_name(kind: str, name: str) -> None:
    if not _PLAIN.match(name) or _PREPARER.quote(name) != name:
        raise InvalidName(
            f"The {kind} name {name!r} is not accepted: use lower-case letters, digits and "
            "underscores (at most 63, not starting with a digit), and no SQL keyword.",
            **{kind: name},
        )

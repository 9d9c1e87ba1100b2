"""A database URL without SQLAlchemy: what the fast path needs to connect, and nothing more.

The no-op fast path (`runner.core.fastpath`) must not import SQLAlchemy, yet the credential
sources speak in SQLAlchemy URLs. `DbUrl` holds the same parts (driver, user, password, host,
port, database, query) and `parse` reads a URL string exactly as `sqlalchemy.make_url` does
(the same pattern, the same unquoting, the same errors; tests/perf/test_dburl.py compares
them). The engine still gets a real SQLAlchemy URL from `to_sqlalchemy`, built on demand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

# sqlalchemy.engine.url._parse_url's pattern (SQLAlchemy 2.x), so both accept the same strings.
_PATTERN = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)


@dataclass(frozen=True)
class DbUrl:
    """The parts of a database URL; `query` values are a string, or a tuple when repeated."""

    drivername: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)

    def set(self, **changes: Any) -> DbUrl:
        """A copy with some parts changed (as `sqlalchemy.engine.URL.set`)."""
        return replace(self, **changes)

    def to_sqlalchemy(self) -> URL:
        """The same URL as SQLAlchemy's type, for the engine (imports SQLAlchemy)."""
        from sqlalchemy.engine import URL

        return URL.create(
            self.drivername,
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
            query=dict(self.query),
        )

    @classmethod
    def from_sqlalchemy(cls, url: URL) -> DbUrl:
        password = url.password
        return cls(
            drivername=url.drivername,
            username=url.username,
            password=password if isinstance(password, str) else None,
            host=url.host,
            port=url.port,
            database=url.database,
            query=dict(url.query),
        )


def parse(text: str) -> DbUrl:
    """`text` read as `sqlalchemy.make_url` reads it. Raises ValueError if it cannot be parsed."""
    found = _PATTERN.match(text)
    if found is None:
        raise ValueError("Could not parse a database URL from the given string")
    parts = found.groupdict()
    query: dict[str, str | tuple[str, ...]] = {}
    if parts["query"] is not None:
        for key, value in parse_qsl(parts["query"]):
            before = query.get(key)
            if before is None:
                query[key] = value
            else:
                query[key] = (*((before,) if isinstance(before, str) else before), value)
    username, password, database = (
        None if parts[name] is None else unquote(parts[name])
        for name in ("username", "password", "database")
    )
    return DbUrl(
        drivername=parts["name"],
        username=username,
        password=password,
        host=parts["ipv4host"] or parts["ipv6host"],
        port=None if parts["port"] is None else int(parts["port"]),  # "h:" fails, as in SQLAlchemy
        database=database,
        query=query,
    )

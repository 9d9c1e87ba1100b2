"""A normalised, JSON-ready description of the live schema: what drift and baseline compare.

SQLAlchemy's inspector does most of it: tables, columns (type, default, nullability),
indexes, primary and foreign keys, unique and check constraints, enums, sequences and views.
Written by hand here, because the inspector does not reflect them: extensions (names only,
since versions differ between servers) and functions (their `pg_get_functiondef`), leaving
out what an extension owns. Not covered: comments, triggers, grants, policies, partitions.
Only the connection's current schema is described, and never our own tables.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from runner.core import history_table

OWN_TABLES = frozenset({"alembic_version", history_table.TABLE})
OWN_SEQUENCES = frozenset({f"{history_table.TABLE}_id_seq"})
FORMAT = 1
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]

_EXTENSIONS = "SELECT extname FROM pg_extension ORDER BY 1"
_FUNCTIONS = """
SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       pg_get_functiondef(p.oid)
  FROM pg_proc p
 WHERE p.pronamespace = current_schema()::regnamespace AND p.prokind IN ('f', 'p')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                   AND d.objid = p.oid AND d.deptype = 'e')
 ORDER BY 1
"""


def capture(conn: Connection) -> dict[str, Any]:
    """The schema of `conn`'s current schema, as plain sorted data."""
    insp = sa.inspect(conn)
    tables = {
        name: _table(insp, name)
        for name in sorted(insp.get_table_names())
        if name not in OWN_TABLES
    }
    views = {name: _text(insp.get_view_definition(name)) for name in sorted(insp.get_view_names())}
    views |= {
        name: _text(insp.get_view_definition(name))
        for name in sorted(insp.get_materialized_view_names())
    }
    return {
        "tables": tables,
        "enums": {
            e["name"]: list(e["labels"])
            for e in insp.get_enums()  # type: ignore[attr-defined]
            if e.get("visible", True)
        },
        "sequences": sorted(set(insp.get_sequence_names()) - OWN_SEQUENCES),
        "views": views,
        "extensions": [str(n) for (n,) in conn.exec_driver_sql(_EXTENSIONS)],
        "functions": {str(sig): _text(body) for sig, body in conn.exec_driver_sql(_FUNCTIONS)},
    }


def empty() -> dict[str, Any]:
    return {"tables": {}, "enums": {}, "sequences": [], "views": {}, "extensions": [],
            "functions": {}}  # fmt: skip


def _table(insp: Any, name: str) -> dict[str, Any]:
    columns = {
        c["name"]: {
            "type": _type(c["type"]),
            "nullable": bool(c["nullable"]),
            "default": c.get("default"),
            **({"identity": _plain(c["identity"])} if c.get("identity") else {}),
        }
        for c in insp.get_columns(name)
    }
    constraints: dict[str, Any] = {}
    pk = insp.get_pk_constraint(name)
    if pk.get("constrained_columns"):
        constraints[pk.get("name") or "primary key"] = {
            "kind": "primary key",
            "columns": list(pk["constrained_columns"]),
        }
    for fk in insp.get_foreign_keys(name):
        constraints[fk["name"]] = {"kind": "foreign key", **_plain(fk)}
    for uq in insp.get_unique_constraints(name):
        constraints[uq["name"]] = {"kind": "unique", "columns": list(uq["column_names"])}
    for ck in insp.get_check_constraints(name):
        constraints[ck["name"]] = {"kind": "check", "sql": _text(ck["sqltext"])}
    indexes = {
        ix["name"]: _plain({k: v for k, v in ix.items() if k != "name"})
        for ix in insp.get_indexes(name)
        if not ix.get("duplicates_constraint")
    }
    return {
        "columns": columns,
        "constraints": dict(sorted(constraints.items())),
        "indexes": dict(sorted(indexes.items())),
    }


def _type(type_: Any) -> str:
    try:
        return str(type_.compile(dialect=_DIALECT))
    except sa.exc.CompileError:
        return repr(type_)


def _text(value: Any) -> str | None:
    return " ".join(str(value).split()) if value is not None else None


def _plain(value: Any) -> Any:
    """JSON-ready and order-stable: tuples become lists, keys sorted, other objects strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


EXPECTED_FILE = "expected_schema.json"  # beside alembic.ini (and manifest.json in the bundle)
CHECKSUMS_FILE = "checksums.json"

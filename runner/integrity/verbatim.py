"""What revisions imported from SQL files call: run one statement exactly as it was written.

`op.execute` with a plain string would read `:name` as a bind parameter (a colon inside a
string or comment included); `execute` escapes those, so the server receives the text as it
is in the file (percent signs too). Statements that cannot run inside a transaction run in
`outside_transaction()`, Alembic's `autocommit_block()`. `no_downgrade` is the downgrade of a
file that had no down script: it refuses, inside the revision's transaction, so nothing changes.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager

import sqlalchemy as sa

from alembic import op
from runner.core.errors import IrreversibleRevision

# SQLAlchemy's own pattern for a bind parameter in text(), and its escape (a backslash).
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def literal_text(sql: str) -> sa.TextClause:
    """`sql` as a TextClause with no bind parameters: every `:name` is escaped."""
    return sa.text(_BIND.sub(lambda m: "\\:" + m.group(1), sql))


def execute(sql: str) -> None:
    op.execute(literal_text(sql))


def outside_transaction() -> AbstractContextManager[None]:
    """For statements PostgreSQL refuses inside a transaction block (CONCURRENTLY, ...)."""
    return op.get_context().autocommit_block()


def no_downgrade(revision: str, source: str) -> None:
    raise IrreversibleRevision(
        f"Revision {revision} was imported from {source}, which had no down script, so it "
        "cannot be downgraded. Nothing was changed. Write its downgrade() by hand (the "
        "revision file says what the upgrade ran) if it must be reverted.",
        revision=revision,
    )

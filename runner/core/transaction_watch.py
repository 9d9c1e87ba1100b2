"""Notices when a revision's work escapes its transaction, so the record stays true.

Each revision runs in its own transaction, and its version row and history row are written
in that transaction. A revision that calls `op.get_bind().commit()` or uses
`autocommit_block()` breaks that: what ran before the commit (or inside the block) has taken
effect whatever happens next, and Alembic writes the version row in a transaction it never
commits itself. The engine uses this watch to commit that record right after the revision,
and, when such a revision fails, to list the statements that may have taken effect.
"""

from __future__ import annotations

from typing import Any

import psycopg2.extensions
import sqlalchemy as sa
from sqlalchemy.engine import Connection

STATEMENT_CHARS = 200
MAX_LISTED = 20


class TransactionWatch:
    """Listens on one connection while a revision runs."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._active = False
        self.commits = 0
        self._uncommitted: list[str] = []
        self.took_effect: list[str] = []
        sa.event.listen(conn, "commit", self._on_commit)
        sa.event.listen(conn, "before_cursor_execute", self._on_execute)
        sa.event.listen(conn, "after_cursor_execute", self._after_execute)

    def start(self) -> None:
        """A revision begins: forget the previous one."""
        self._active = True
        self.commits = 0
        self._uncommitted = []
        self.took_effect = []

    def stop(self) -> None:
        """The revision's own code is done; what follows is the runner's book-keeping."""
        self._active = False

    @property
    def escaped(self) -> bool:
        """True if part of the revision's work was committed outside its transaction."""
        return self.commits > 0 or bool(self.took_effect)

    def close(self) -> None:
        sa.event.remove(self._conn, "commit", self._on_commit)
        sa.event.remove(self._conn, "before_cursor_execute", self._on_execute)
        sa.event.remove(self._conn, "after_cursor_execute", self._after_execute)

    def _on_commit(self, *_: Any) -> None:
        if self._active:
            self.commits += 1
            self.took_effect.extend(self._uncommitted)
            self._uncommitted = []

    def _after_execute(self, conn: Connection, cursor: Any, *_: Any) -> None:
        """A `COMMIT` (or `END`) sent as SQL ends the transaction behind the driver's back."""
        if self._active and _ended_behind_driver(cursor.connection):
            self._on_commit()

    def _on_execute(self, conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        if not self._active:
            return
        text = " ".join(statement.split())
        if len(text) > STATEMENT_CHARS:
            text = text[: STATEMENT_CHARS - 1] + "…"
        raw = cursor.connection
        if getattr(raw, "autocommit", False) or _ended_behind_driver(raw):
            self.took_effect.append(text)
        else:
            self._uncommitted.append(text)

    def describe(self) -> str:
        """The statements that took effect, for an error message."""
        shown = self.took_effect[:MAX_LISTED]
        more = len(self.took_effect) - len(shown)
        listed = "; ".join(shown) + (f"; and {more} more" if more else "")
        return listed or "(a commit with no statement before it)"


def _ended_behind_driver(raw: Any) -> bool:
    """psycopg2 believes a transaction is open, but the server says none is: each statement
    now commits on its own."""
    info = getattr(raw, "info", None)
    return (
        getattr(raw, "status", None) == psycopg2.extensions.STATUS_BEGIN
        and info is not None
        and info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    )

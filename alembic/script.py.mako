<%!
    # What `alembic revision` and `alembic merge` write. The file passes the project's
    # `ruff check` and `ruff format --check` as written (tests/test_revision_template.py):
    # double-quoted literals, no trailing blanks, no unused import. Autogenerate is not set
    # up (env.py has no target_metadata), so the bodies always start empty.

    def _literal(value):
        """One revision id, or several, written the way ruff format writes them."""
        if value is None:
            return "None"
        if isinstance(value, str):
            return '"%s"' % value
        items = ", ".join('"%s"' % item for item in value)
        return "(%s,)" % items if len(value) == 1 else "(%s)" % items
%>\
<% is_merge = down_revision is not None and not isinstance(down_revision, str) %>\
"""${message}

Revision ID: ${up_revision}
Revises:${" " + comma(down_revision) if down_revision else ""}
Create Date: ${create_date}
"""

from collections.abc import Sequence
% if not is_merge:

# Uncomment what upgrade() and downgrade() use (ruff flags an unused import):
# import sqlalchemy as sa
#
# from alembic import op
% endif

revision: str = "${up_revision}"
down_revision: str | Sequence[str] | None = ${_literal(down_revision)}
branch_labels: str | Sequence[str] | None = ${_literal(branch_labels)}
depends_on: str | Sequence[str] | None = ${_literal(depends_on)}


def upgrade() -> None:
% if is_merge:
    """Joins the branches into one head; changes no schema."""
% else:
    pass
% endif


def downgrade() -> None:
% if is_merge:
    """Splits the branches again; changes no schema."""
% else:
    pass
% endif

"""create dry_run_log

Migration 017 of the existing system, the first one managed by Alembic. Migrations 001-016
were applied by hand as raw SQL before this project; they are not revisions here.

Revision ID: 0017
Revises:
Create Date: 2026-11-29 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dry_run_log",
        sa.Column(
            "log_id", postgresql.UUID(), primary_key=True, comment="Identifier of this log entry."
        ),
        sa.Column("tenant_id", postgresql.UUID(), nullable=False, comment="Tenant that decided."),
        sa.Column("lead_id", postgresql.UUID(), nullable=True, comment="Lead concerned, if any."),
        sa.Column(
            "canal_decidido",
            sa.String(20),
            nullable=False,
            comment="Channel the decision engine chose (e.g. email, sms, whatsapp).",
        ),
        sa.Column(
            "motivo_decisao", sa.Text(), nullable=False, comment="Why that channel was chosen."
        ),
        sa.Column(
            "disparo_seria_executado",
            sa.Boolean(),
            server_default=sa.text("TRUE"),
            comment="Whether the send would have been executed outside dry-run.",
        ),
        sa.Column(
            "razao_bloqueio",
            sa.Text(),
            nullable=True,
            comment="Why the send was blocked, if it was.",
        ),
        sa.Column(
            "ambiente",
            sa.String(10),
            server_default=sa.text("'dev'"),
            comment="Environment that produced the entry (dev, staging, prod).",
        ),
        sa.Column(
            "feature_flag_enabled",
            sa.Boolean(),
            server_default=sa.text("FALSE"),
            comment="Whether the real-send feature flag was on at decision time.",
        ),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(),
            server_default=sa.text("NOW()"),
            comment="When the decision was logged.",
        ),
        comment="Dry-run decisions of the send engine: what would have been sent, and why.",
    )
    op.create_index("idx_dry_run_tenant", "dry_run_log", ["tenant_id", sa.text("created_at DESC")])
    op.create_index("idx_dry_run_canal", "dry_run_log", ["canal_decidido"])
    op.create_index("idx_dry_run_ambiente", "dry_run_log", ["ambiente", sa.text("created_at DESC")])


def downgrade() -> None:
    op.drop_index("idx_dry_run_ambiente", table_name="dry_run_log")
    op.drop_index("idx_dry_run_canal", table_name="dry_run_log")
    op.drop_index("idx_dry_run_tenant", table_name="dry_run_log")
    op.drop_table("dry_run_log")

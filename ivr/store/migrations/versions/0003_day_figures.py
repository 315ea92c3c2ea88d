"""Per-day roll-ups of the console's figures (dashboard, where callers struggle).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "day_figures",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("flow", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "flow", "day"),
    )


def downgrade() -> None:
    op.drop_table("day_figures")

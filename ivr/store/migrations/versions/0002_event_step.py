"""Call events know their step: a column (indexed) for the "where callers struggle" figures.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:10:09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_call_events_step"), ["step"], unique=False)
    # Events written before this revision carry their step inside `data`.
    postgres = op.get_bind().dialect.name == "postgresql"
    step = "data->>'step'" if postgres else "json_extract(data, '$.step')"
    op.execute(f"UPDATE call_events SET step = NULLIF({step}, '') WHERE step IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_events_step"))
        batch_op.drop_column("step")

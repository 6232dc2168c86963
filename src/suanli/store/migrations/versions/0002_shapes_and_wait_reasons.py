"""job shapes and per-shape waiting reasons

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import suanli.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shape", sa.String(length=32), server_default="", nullable=False))
        batch_op.create_index(batch_op.f("ix_jobs_shape"), ["shape"], unique=False)
    op.create_table(
        "wait_reasons",
        sa.Column("shape", sa.String(length=32), nullable=False),
        sa.Column("reasons", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("updated_at", suanli.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shape", name=op.f("pk_wait_reasons")),
    )


def downgrade() -> None:
    op.drop_table("wait_reasons")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_shape"))
        batch_op.drop_column("shape")

"""tenants' monthly budgets; the budget held by each attempt

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("monthly_budget", suanli.store.types.ExactDecimal(), nullable=True))
    with op.batch_alter_table("job_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold", suanli.store.types.ExactDecimal(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("job_attempts", schema=None) as batch_op:
        batch_op.drop_column("hold")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("monthly_budget")

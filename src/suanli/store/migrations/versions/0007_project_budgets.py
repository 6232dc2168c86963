"""jobs carry their tenant's project; monthly budgets per project

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project", sa.String(length=63), nullable=True))
        batch_op.create_index("ix_jobs_tenant_id_project", ["tenant_id", "project"], unique=False)
    op.create_table(
        "project_budgets",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=63), nullable=False),
        sa.Column("monthly_budget", suanli.store.types.ExactDecimal(), nullable=False),
        sa.Column("updated_at", suanli.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_project_budgets_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "project", name=op.f("pk_project_budgets")),
    )


def downgrade() -> None:
    op.drop_table("project_budgets")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_tenant_id_project")
        batch_op.drop_column("project")

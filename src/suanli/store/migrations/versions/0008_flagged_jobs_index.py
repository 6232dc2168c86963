"""a partial index on the jobs with a cancel or preemption asked for

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FLAGGED = "cancel_requested_at IS NOT NULL OR preempt_requested_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_jobs_flagged", ["id"], unique=False, sqlite_where=sa.text(FLAGGED), postgresql_where=sa.text(FLAGGED)
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_flagged")

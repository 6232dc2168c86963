"""the double-entry ledger: entries and postings, append-only

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("ledger_entries", "ledger_postings")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", suanli.store.types.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", suanli.store.types.UTCDateTime(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("centre_id", sa.String(length=64), nullable=True),
        sa.Column("attempt_id", sa.String(length=80), nullable=True),
        sa.Column("reverses", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_ledger_entries_tenant_id_tenants")),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_ledger_entries_centre_id_centres")),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["job_attempts.id"], name=op.f("fk_ledger_entries_attempt_id_job_attempts")
        ),
        sa.ForeignKeyConstraint(
            ["reverses"], ["ledger_entries.id"], name=op.f("fk_ledger_entries_reverses_ledger_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("reference", name=op.f("uq_ledger_entries_reference")),
        sa.UniqueConstraint("reverses", name=op.f("uq_ledger_entries_reverses")),
    )
    op.create_index(op.f("ix_ledger_entries_tenant_id"), "ledger_entries", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_ledger_entries_centre_id"), "ledger_entries", ["centre_id"], unique=False)
    op.create_index(op.f("ix_ledger_entries_attempt_id"), "ledger_entries", ["attempt_id"], unique=False)
    op.create_table(
        "ledger_postings",
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=160), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_ledger_postings_entry_id_ledger_entries")
        ),
        sa.PrimaryKeyConstraint("entry_id", "account", name=op.f("pk_ledger_postings")),
    )
    op.create_index("ix_ledger_postings_account", "ledger_postings", ["account", "entry_id"], unique=False)
    _append_only()


def _append_only() -> None:
    """Past entries can never be edited or deleted: the database itself refuses (corrections are reversals)."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION suanli_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION suanli_append_only()"
            )
        return
    for table in TABLES:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {op_name} on {table} refused'); END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS suanli_append_only()")
    op.drop_index("ix_ledger_postings_account", table_name="ledger_postings")
    op.drop_table("ledger_postings")
    op.drop_index(op.f("ix_ledger_entries_attempt_id"), table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_centre_id"), table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_tenant_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")

"""voucher programmes, claims, lines and audit log; tenants' voucher attributes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import suanli.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voucher_funds",
        sa.Column("programme_id", sa.String(length=63), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("committed_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", name=op.f("pk_voucher_funds")),
    )
    op.create_table(
        "voucher_programmes",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", suanli.store.types.JSONType, nullable=False),
        sa.Column("published_at", suanli.store.types.UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", "version", name=op.f("pk_voucher_programmes")),
    )
    op.create_table(
        "voucher_claims",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("programme_id", sa.String(length=63), nullable=False),
        sa.Column("programme_version", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("contract", sa.String(length=120), nullable=False),
        sa.Column("pledge", sa.Text(), nullable=False),
        sa.Column("requested_fen", sa.BigInteger(), nullable=False),
        sa.Column("base_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("limited_by", sa.String(length=32), nullable=False),
        sa.Column("used_fen", sa.BigInteger(), nullable=False),
        sa.Column("clawed_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", suanli.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", suanli.store.types.UTCDateTime(), nullable=False),
        sa.Column("applied_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_voucher_claims_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_claims")),
    )
    with op.batch_alter_table("voucher_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voucher_claims_programme_id"), ["programme_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_voucher_claims_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_voucher_claims_contract", ["tenant_id", "contract"], unique=False)

    op.create_table(
        "voucher_entities",
        sa.Column("programme_id", sa.String(length=63), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("committed_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_voucher_entities_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("programme_id", "tenant_id", name=op.f("pk_voucher_entities")),
    )
    op.create_table(
        "voucher_events",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("at", suanli.store.types.UTCDateTime(), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["voucher_claims.id"], name=op.f("fk_voucher_events_claim_id_voucher_claims")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_voucher_events")),
    )
    with op.batch_alter_table("voucher_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voucher_events_claim_id"), ["claim_id"], unique=False)

    op.create_table(
        "voucher_lines",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("resource_class", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", suanli.store.types.UTCDateTime(), nullable=False),
        sa.Column("base_fen", sa.BigInteger(), nullable=False),
        sa.Column("rate", suanli.store.types.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("tier", sa.String(length=100), nullable=False),
        sa.Column("subsidy_fen", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["voucher_claims.id"], name=op.f("fk_voucher_lines_claim_id_voucher_claims")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_voucher_lines_entry_id_ledger_entries")
        ),
        sa.PrimaryKeyConstraint("claim_id", "entry_id", name=op.f("pk_voucher_lines")),
    )
    with op.batch_alter_table("voucher_lines", schema=None) as batch_op:
        batch_op.create_index(
            "uq_voucher_lines_active_entry",
            ["entry_id"],
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )

    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("startup", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("blacklisted", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("major_accident_year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("related_parties", suanli.store.types.JSONType, nullable=True))
    _append_only()


LOGS = ("voucher_programmes", "voucher_events")


def _append_only() -> None:
    """Published programme versions and the claims' audit log are never edited or deleted."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION suanli_append_only_log() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$"
        )
        for table in LOGS:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION suanli_append_only_log()"
            )
        return
    for table in LOGS:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op_name} refused'); END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in LOGS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS suanli_append_only_log()")
    else:
        for table in LOGS:
            for name in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{name}")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("related_parties")
        batch_op.drop_column("major_accident_year")
        batch_op.drop_column("blacklisted")
        batch_op.drop_column("startup")

    with op.batch_alter_table("voucher_lines", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_voucher_lines_active_entry", sqlite_where=sa.text("active"), postgresql_where=sa.text("active")
        )

    op.drop_table("voucher_lines")
    with op.batch_alter_table("voucher_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_events_claim_id"))

    op.drop_table("voucher_events")
    op.drop_table("voucher_entities")
    with op.batch_alter_table("voucher_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_voucher_claims_contract")
        batch_op.drop_index(batch_op.f("ix_voucher_claims_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_voucher_claims_programme_id"))

    op.drop_table("voucher_claims")
    op.drop_table("voucher_programmes")
    op.drop_table("voucher_funds")

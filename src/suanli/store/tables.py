"""The typed ORM tables. One Alembic chain (`store/migrations`) creates them on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from suanli.store.types import ExactDecimal, JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), Decimal: ExactDecimal(), dict[str, Any]: JSONType}


class TenantRow(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    sme: Mapped[bool] = mapped_column(Boolean)
    registered_city: Mapped[str] = mapped_column(String(100))
    industry: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    weight: Mapped[float] = mapped_column(Float, server_default="1")
    quota: Mapped[float] = mapped_column(Float, server_default="0")
    monthly_budget: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    startup: Mapped[bool] = mapped_column(Boolean, server_default=false())
    blacklisted: Mapped[bool] = mapped_column(Boolean, server_default=false())
    major_accident_year: Mapped[int | None] = mapped_column(Integer)
    related_parties: Mapped[list[str] | None] = mapped_column(JSONType)


class ProjectBudgetRow(Base):
    """A monthly spending cap on one of a tenant's projects."""

    __tablename__ = "project_budgets"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    project: Mapped[str] = mapped_column(String(63), primary_key=True)
    monthly_budget: Mapped[Decimal] = mapped_column(ExactDecimal())
    updated_at: Mapped[datetime]


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class CentreRow(Base):
    __tablename__ = "centres"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    operator_tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    engine: Mapped[str] = mapped_column(String(32))
    city: Mapped[str] = mapped_column(String(100))
    district: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    last_heartbeat_at: Mapped[datetime | None]
    agent_info: Mapped[dict[str, Any]]


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    centre_id: Mapped[str | None] = mapped_column(ForeignKey("centres.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class AcceleratorModelRow(Base):
    """Operator amendments to the built-in catalogue (added models, corrected figures)."""

    __tablename__ = "accelerator_models"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(100))
    memory_gib: Mapped[Decimal]
    fp16_tflops: Mapped[Decimal]
    stack: Mapped[str] = mapped_column(String(16))
    domestic: Mapped[bool] = mapped_column(Boolean)
    unit: Mapped[str] = mapped_column(String(8))
    aliases: Mapped[dict[str, Any]]  # {"aliases": [...]}
    source: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime]


class PoolRow(Base):
    __tablename__ = "pools"
    __table_args__ = (UniqueConstraint("centre_id", "name", name="uq_pools_centre_name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    centre_id: Mapped[str] = mapped_column(ForeignKey("centres.id"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    model: Mapped[str] = mapped_column(String(64))
    nodes: Mapped[int] = mapped_column(Integer)
    accelerators_per_node: Mapped[int] = mapped_column(Integer)
    cpus_per_node: Mapped[int] = mapped_column(Integer)
    memory_gib_per_node: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    nodes_up: Mapped[int | None] = mapped_column(Integer)


class PriceCardRow(Base):
    __tablename__ = "price_cards"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"), index=True)
    price: Mapped[Decimal]
    unit: Mapped[str] = mapped_column(String(32))
    preemptible_discount: Mapped[Decimal]
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


FLAGGED = "cancel_requested_at IS NOT NULL OR preempt_requested_at IS NOT NULL"


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_jobs_tenant_idempotency_key"),
        Index("ix_jobs_tenant_id_id", "tenant_id", "id"),
        Index("ix_jobs_tenant_id_project", "tenant_id", "project"),
        # the few jobs with a stop asked for (read by every heartbeat and every scheduling cycle)
        Index("ix_jobs_flagged", "id", sqlite_where=text(FLAGGED), postgresql_where=text(FLAGGED)),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(63), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    spec: Mapped[dict[str, Any]]
    priority: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer)
    restarts: Mapped[int] = mapped_column(Integer)
    requeues: Mapped[int] = mapped_column(Integer)
    cancel_requested_at: Mapped[datetime | None]
    preempt_requested_at: Mapped[datetime | None]
    state_reason: Mapped[str] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    finished_at: Mapped[datetime | None]
    pending_reasons: Mapped[dict[str, Any]]  # {"reasons": [...]}
    version: Mapped[int] = mapped_column(Integer)
    shape: Mapped[str] = mapped_column(String(32), index=True, server_default="")
    project: Mapped[str | None] = mapped_column(String(63))


class WaitReasonRow(Base):
    """Why jobs of one shape wait, per pool, as of the latest scheduling cycle (one row per shape)."""

    __tablename__ = "wait_reasons"
    shape: Mapped[str] = mapped_column(String(32), primary_key=True)
    reasons: Mapped[dict[str, Any]]  # {"reasons": [...]}
    summary: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class AttemptRow(Base):
    __tablename__ = "job_attempts"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    centre_id: Mapped[str] = mapped_column(ForeignKey("centres.id"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"), index=True)
    model: Mapped[str] = mapped_column(String(64))
    per_node: Mapped[int] = mapped_column(Integer)
    cpus_per_node: Mapped[float] = mapped_column(Float)
    memory_gib_per_node: Mapped[float] = mapped_column(Float)
    node_indices: Mapped[dict[str, Any]]  # {"nodes": [...]}
    price: Mapped[Decimal]
    price_card_id: Mapped[str | None] = mapped_column(ID)
    state: Mapped[str] = mapped_column(String(16), index=True)
    placed_at: Mapped[datetime]
    explanation: Mapped[str] = mapped_column(Text)
    leased_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    exit_code: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    log_bytes: Mapped[int] = mapped_column(BigInteger)
    log_truncated: Mapped[bool] = mapped_column(Boolean)
    devices: Mapped[dict[str, Any]]
    hold: Mapped[Decimal] = mapped_column(ExactDecimal(), server_default="0")


class JobEventRow(Base):
    """Append-only history of every job state change."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    at: Mapped[datetime]
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int | None] = mapped_column(Integer)


class LogChunkRow(Base):
    __tablename__ = "log_chunks"
    attempt_id: Mapped[str] = mapped_column(ForeignKey("job_attempts.id"), primary_key=True)
    start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class UsageRow(Base):
    """Metered usage per attempt, as the centre's engine measured it; one row per attempt, never updated."""

    __tablename__ = "usage_records"
    attempt_id: Mapped[str] = mapped_column(ForeignKey("job_attempts.id"), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    centre_id: Mapped[str] = mapped_column(ForeignKey("centres.id"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"))
    model: Mapped[str] = mapped_column(String(64))
    accelerators: Mapped[int] = mapped_column(Integer)
    accelerator_seconds: Mapped[float] = mapped_column(Float)
    cpu_seconds: Mapped[float] = mapped_column(Float)
    wall_seconds: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


class LedgerEntryRow(Base):
    """One balanced ledger transaction. Append-only: database triggers refuse UPDATE and DELETE."""

    __tablename__ = "ledger_entries"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    memo: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(128), default="")
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    centre_id: Mapped[str | None] = mapped_column(ForeignKey("centres.id"), index=True)
    attempt_id: Mapped[str | None] = mapped_column(ForeignKey("job_attempts.id"), index=True)
    reverses: Mapped[str | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)


class LedgerPostingRow(Base):
    """A debit (positive) or credit (negative) in whole fen: integers, so sums are exact on every database."""

    __tablename__ = "ledger_postings"
    entry_id: Mapped[str] = mapped_column(ForeignKey("ledger_entries.id"), primary_key=True)
    account: Mapped[str] = mapped_column(String(160), primary_key=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_ledger_postings_account", "account", "entry_id"),)


class VoucherProgrammeRow(Base):
    """One published version of a voucher programme, as data. Versions are never rewritten."""

    __tablename__ = "voucher_programmes"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(128))


class VoucherFundRow(Base):
    """A programme's budget and what is committed against it (the row claims lock to stay within it)."""

    __tablename__ = "voucher_funds"
    programme_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    budget_fen: Mapped[int] = mapped_column(BigInteger)
    committed_fen: Mapped[int] = mapped_column(BigInteger)


class VoucherEntityRow(Base):
    """What one tenant has committed under one programme (its yearly cap is checked against this)."""

    __tablename__ = "voucher_entities"
    programme_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    committed_fen: Mapped[int] = mapped_column(BigInteger)


class VoucherClaimRow(Base):
    __tablename__ = "voucher_claims"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(63), index=True)
    programme_version: Mapped[int] = mapped_column(Integer)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(24))
    contract: Mapped[str] = mapped_column(String(120))
    pledge: Mapped[str] = mapped_column(Text)
    requested_fen: Mapped[int] = mapped_column(BigInteger)
    base_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    limited_by: Mapped[str] = mapped_column(String(32))
    used_fen: Mapped[int] = mapped_column(BigInteger)
    clawed_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    applied_by: Mapped[str] = mapped_column(String(128))
    __table_args__ = (Index("ix_voucher_claims_contract", "tenant_id", "contract"),)


class VoucherLineRow(Base):
    """A usage charge covered by a claim. A charge is covered by at most one active line, whatever the
    programme (a partial unique index): no double subsidy."""

    __tablename__ = "voucher_lines"
    claim_id: Mapped[str] = mapped_column(ForeignKey("voucher_claims.id"), primary_key=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("ledger_entries.id"), primary_key=True)
    centre_id: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    resource_class: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    base_fen: Mapped[int] = mapped_column(BigInteger)
    rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    tier: Mapped[str] = mapped_column(String(100))
    subsidy_fen: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean)
    __table_args__ = (
        Index(
            "uq_voucher_lines_active_entry",
            "entry_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )


class VoucherEventRow(Base):
    """The audit log of a claim: every state change with its actor, role and reason."""

    __tablename__ = "voucher_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("voucher_claims.id"), index=True)
    at: Mapped[datetime]
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)

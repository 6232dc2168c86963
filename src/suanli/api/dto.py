"""Request and response bodies of the admin and tenant API. Money travels as decimal strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from suanli.domain.accelerators import AcceleratorModel, Catalogue
from suanli.domain.centres import EngineKind, PriceCard
from suanli.domain.jobs.model import Attempt, Job, JobEvent
from suanli.domain.tenants import ApiToken, Role, Tenant, TenantKind, TenantStatus, TokenSecret, User
from suanli.service.centres import CentreView, PoolView
from suanli.service.jobs import AttemptUsage


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


# ------------------------------------------------------------------------------------------ tenants


class TenantCreate(In):
    name: str = Field(description="slug, e.g. haier-ai")
    display_name: str = Field("", max_length=200)
    kind: TenantKind
    sme: bool = False
    registered_city: str = Field("", max_length=100)
    industry: str = Field("", max_length=100)
    weight: float = Field(1.0, description="fair-share weight relative to other tenants")
    quota: float = Field(0.0, description="guaranteed capacity in A100-equivalent accelerators")


class TenantPatch(In):
    display_name: str | None = Field(None, max_length=200)
    kind: TenantKind | None = None
    sme: bool | None = None
    registered_city: str | None = Field(None, max_length=100)
    industry: str | None = Field(None, max_length=100)
    status: TenantStatus | None = None
    weight: float | None = None
    quota: float | None = None
    startup: bool | None = None
    blacklisted: bool | None = Field(None, description="on the dishonesty blacklist (voucher programmes refuse it)")
    major_accident_year: int | None = Field(None, ge=1900, le=2100)
    related_parties: list[str] | None = Field(None, max_length=100, description="tenant names or ids")


class TenantOut(BaseModel):
    id: str
    name: str
    display_name: str
    kind: TenantKind
    sme: bool
    registered_city: str
    industry: str
    status: TenantStatus
    created_at: datetime
    weight: float
    quota: float
    startup: bool
    blacklisted: bool
    major_accident_year: int | None
    related_parties: list[str]

    @classmethod
    def of(cls, t: Tenant) -> TenantOut:
        return cls(**{f: getattr(t, f) for f in cls.model_fields})


class UserCreate(In):
    name: str
    role: Role
    display_name: str = Field("", max_length=200)
    email: str = Field("", max_length=254)


class UserOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    display_name: str
    email: str
    role: Role
    status: str
    created_at: datetime

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(**{f: getattr(u, f) for f in cls.model_fields})


class MeOut(BaseModel):
    user: UserOut | None
    tenant: TenantOut | None
    centre_id: str | None = None


class TokenCreate(In):
    name: str = Field("cli", min_length=1, max_length=100)
    ttl_days: int | None = Field(None, description="default: auth.token_ttl_days")


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    user_id: str | None
    centre_id: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, t: ApiToken) -> TokenOut:
        return cls(**{f: getattr(t, f) for f in cls.model_fields})


class TokenCreated(BaseModel):
    id: str
    token: str = Field(description="shown once; only its hash is stored")
    prefix: str
    expires_at: datetime | None

    @classmethod
    def of(cls, t: TokenSecret) -> TokenCreated:
        return cls(id=t.token_id, token=t.secret, prefix=t.prefix, expires_at=t.expires_at)


# ------------------------------------------------------------------------------------------ centres


class CentreCreate(In):
    name: str
    operator_tenant_id: str
    engine: EngineKind = EngineKind.LOCAL
    display_name: str = Field("", max_length=200)
    city: str = Field("", max_length=100)
    district: str = Field("", max_length=100)
    enabled: bool = True


class CentrePatch(In):
    display_name: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=100)
    district: str | None = Field(None, max_length=100)
    enabled: bool | None = None
    engine: EngineKind | None = None


class PoolCreate(In):
    name: str
    model: str = Field(description="accelerator model id from the catalogue")
    nodes: int
    accelerators_per_node: int
    cpus_per_node: int
    memory_gib_per_node: int
    enabled: bool = True


class PoolPatch(In):
    nodes: int | None = None
    accelerators_per_node: int | None = None
    cpus_per_node: int | None = None
    memory_gib_per_node: int | None = None
    enabled: bool | None = None


class PriceCreate(In):
    price: Any = Field(description='CNY per accelerator-hour (core-hour on CPU pools), as a string: "12.50"')
    preemptible_discount: Any = Field("0", description='fraction off for preemptible jobs, e.g. "0.4"')
    valid_from: datetime | None = None
    valid_to: datetime | None = None


class PriceOut(BaseModel):
    id: str
    pool_id: str
    price: str
    unit: str
    preemptible_discount: str
    valid_from: datetime
    valid_to: datetime | None

    @classmethod
    def of(cls, c: PriceCard) -> PriceOut:
        return cls(
            id=c.id,
            pool_id=c.pool_id,
            price=money(c.price) or "0",
            unit=c.unit.value,
            preemptible_discount=money(c.preemptible_discount) or "0",
            valid_from=c.valid_from,
            valid_to=c.valid_to,
        )


class PoolOut(BaseModel):
    id: str
    centre_id: str
    name: str
    model: str
    stack: str
    nodes: int
    nodes_up: int | None
    accelerators_per_node: int
    cpus_per_node: int
    memory_gib_per_node: int
    enabled: bool
    pflops_fp16: str
    accelerators_total: int
    accelerators_in_use: int
    running_jobs: int
    price: PriceOut | None

    @classmethod
    def of(cls, v: PoolView) -> PoolOut:
        p = v.pool
        return cls(
            id=p.id,
            centre_id=p.centre_id,
            name=p.name,
            model=p.model,
            stack=v.shape.model.stack.value,
            nodes=p.nodes,
            nodes_up=p.nodes_up,
            accelerators_per_node=p.accelerators_per_node,
            cpus_per_node=p.cpus_per_node,
            memory_gib_per_node=p.memory_gib_per_node,
            enabled=p.enabled,
            pflops_fp16=format(v.shape.pflops_fp16().normalize(), "f"),
            accelerators_total=p.nodes * p.accelerators_per_node,
            accelerators_in_use=v.accelerators_in_use,
            running_jobs=v.running_jobs,
            price=PriceOut.of(v.price) if v.price else None,
        )


class CentreOut(BaseModel):
    id: str
    name: str
    display_name: str
    operator_tenant_id: str
    engine: EngineKind
    city: str
    district: str
    enabled: bool
    status: str
    engine_error: str | None = Field(None, description="why the centre is degraded: what its agent's engine said")
    last_heartbeat_at: datetime | None
    pflops_fp16: str
    pools: list[PoolOut]

    @classmethod
    def of(cls, v: CentreView) -> CentreOut:
        c = v.centre
        return cls(
            id=c.id,
            name=c.name,
            display_name=c.display_name,
            operator_tenant_id=c.operator_tenant_id,
            engine=c.engine,
            city=c.city,
            district=c.district,
            enabled=c.enabled,
            status=v.status.value,
            engine_error=c.engine_error or None,
            last_heartbeat_at=c.last_heartbeat_at,
            pflops_fp16=format(v.pflops_fp16.normalize(), "f"),
            pools=[PoolOut.of(p) for p in v.pools],
        )


class CapacityOut(BaseModel):
    centres: int
    centres_online: int
    pflops_fp16: str
    pflops_fp16_online: str
    accelerators_total: int
    accelerators_in_use: int
    by_model: dict[str, int]


class AcceleratorModelIn(In):
    id: str
    vendor: str = "unknown"
    memory_gib: Any
    fp16_tflops: Any
    stack: str
    domestic: bool = False
    unit: str | None = None
    aliases: list[str] = []
    source: str


class AcceleratorModelOut(BaseModel):
    id: str
    vendor: str
    memory_gib: str
    fp16_tflops: str
    stack: str
    domestic: bool
    unit: str
    aliases: list[str]
    source: str
    origin: str

    @classmethod
    def of(cls, m: AcceleratorModel) -> AcceleratorModelOut:
        return cls(
            id=m.id,
            vendor=m.vendor,
            memory_gib=format(m.memory_gib, "f"),
            fp16_tflops=format(m.fp16_tflops, "f"),
            stack=m.stack.value,
            domestic=m.domestic,
            unit=m.unit,
            aliases=list(m.aliases),
            source=m.source,
            origin=m.origin,
        )


class CatalogueOut(BaseModel):
    version: str
    models: list[AcceleratorModelOut]

    @classmethod
    def of(cls, c: Catalogue) -> CatalogueOut:
        return cls(version=c.version, models=[AcceleratorModelOut.of(m) for m in sorted(c.models, key=lambda m: m.id)])


# ------------------------------------------------------------------------------------------ jobs


class UsageOut(BaseModel):
    accelerators: int | None = Field(description="as the engine measured (null while a service runs)")
    accelerator_seconds: float | None
    cpu_seconds: float | None
    wall_seconds: float | None
    started_at: datetime | None
    ended_at: datetime | None
    quantity: str | None = Field(description="unit-hours rated at the attempt's fixed price")
    unit: str = Field(description="accelerator_hour or core_hour")
    pflops_hours_fp16: str | None = Field(description="standard compute, from the catalogue's nameplate FP16")
    charged: str = Field(description="CNY charged for this attempt: usage, service periods, less refunds")

    @classmethod
    def of(cls, u: AttemptUsage) -> UsageOut:
        r = u.record
        return cls(
            accelerators=r.accelerators if r else None,
            accelerator_seconds=r.accelerator_seconds if r else None,
            cpu_seconds=r.cpu_seconds if r else None,
            wall_seconds=r.wall_seconds if r else None,
            started_at=r.started_at if r else None,
            ended_at=r.ended_at if r else None,
            quantity=format(u.quantity, "f") if u.quantity is not None else None,
            unit=u.unit,
            pflops_hours_fp16=format(u.pflops_hours, "f") if u.pflops_hours is not None else None,
            charged=format(u.charged, "f"),
        )


class AttemptOut(BaseModel):
    number: int
    id: str
    centre_id: str
    pool_id: str
    where: str = Field("", description="centre/pool")
    cpus_per_node: float
    model: str
    per_node: int
    nodes: list[int]
    price: str
    state: str
    placed_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    exit_code: int | None
    reason: str
    explanation: str
    devices: dict[str, list[int]]
    log_bytes: int
    usage: UsageOut | None = Field(None, description="metered usage and its charge, once there is any")

    @classmethod
    def of(cls, a: Attempt, where: str = "", usage: AttemptUsage | None = None) -> AttemptOut:
        return cls(
            number=a.number,
            id=a.id,
            centre_id=a.centre_id,
            pool_id=a.pool_id,
            where=where,
            cpus_per_node=a.cpus_per_node,
            model=a.model,
            per_node=a.per_node,
            nodes=list(a.node_indices),
            price=money(a.price) or "0",
            state=a.state.value,
            placed_at=a.placed_at,
            started_at=a.started_at,
            ended_at=a.ended_at,
            exit_code=a.exit_code,
            reason=a.reason,
            explanation=a.explanation,
            devices=a.devices,
            log_bytes=a.log_bytes,
            usage=UsageOut.of(usage) if usage else None,
        )


class JobOut(BaseModel):
    id: str
    name: str
    kind: str
    state: str
    state_reason: str
    tenant_id: str
    user_id: str
    priority: int
    preemptible: bool
    submitted_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    attempts: int
    restarts: int
    requeues: int
    exit_code: int | None
    cancel_requested: bool
    num_nodes: int
    accelerators: list[str]
    spec: dict[str, Any] | None = None
    attempt_history: list[AttemptOut] | None = None

    @classmethod
    def of(
        cls,
        j: Job,
        attempts: list[Attempt] | None = None,
        with_spec: bool = False,
        labels: dict[str, str] | None = None,
        usage: dict[str, AttemptUsage] | None = None,
    ) -> JobOut:
        spec = j.spec
        return cls(
            id=j.id,
            name=j.name,
            kind=j.kind.value,
            state=j.state.value,
            state_reason=j.state_reason,
            tenant_id=j.tenant_id,
            user_id=j.user_id,
            priority=j.priority,
            preemptible=spec.preemptible,
            submitted_at=j.submitted_at,
            updated_at=j.updated_at,
            finished_at=j.finished_at,
            attempts=j.attempts,
            restarts=j.restarts,
            requeues=j.requeues,
            exit_code=j.exit_code,
            cancel_requested=j.cancel_requested_at is not None,
            num_nodes=spec.num_nodes,
            accelerators=[f"{o.model}:{o.count}" for o in spec.resources.accelerators],
            spec=_public_spec(spec.model_dump(mode="json")) if with_spec else None,
            attempt_history=[
                AttemptOut.of(a, (labels or {}).get(a.pool_id, ""), (usage or {}).get(a.id)) for a in attempts
            ]
            if attempts is not None
            else None,
        )


def _public_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as stored, with file contents summarised (they can be large)."""
    files = spec.get("files") or {}
    spec["files"] = {path: f"<{len(content.encode())} bytes>" for path, content in files.items()}
    return spec


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


class EventOut(BaseModel):
    at: datetime
    from_state: str | None
    to_state: str
    reason: str
    actor: str
    attempt: int | None

    @classmethod
    def of(cls, e: JobEvent) -> EventOut:
        return cls(
            at=e.at,
            from_state=e.from_state.value if e.from_state else None,
            to_state=e.to_state.value,
            reason=e.reason,
            actor=e.actor,
            attempt=e.attempt,
        )


class LogOut(BaseModel):
    attempt: int | None
    offset: int
    next_offset: int
    data: str = Field(description="UTF-8 text; undecodable bytes are replaced")
    complete: bool
    truncated: bool


class PoolReasonOut(BaseModel):
    pool_id: str
    centre: str
    pool: str
    code: str
    message: str


class WhyOut(BaseModel):
    job_id: str
    state: str
    summary: str
    reasons: list[PoolReasonOut]
    placement: AttemptOut | None

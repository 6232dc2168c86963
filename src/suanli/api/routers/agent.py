"""The agent protocol: centres' agents connect out to the server with their centre's token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from suanli.api.body import read_limited
from suanli.api.deps import Caller, Ctx, get_context, get_principal, wake_scheduler
from suanli.service import agents

router = APIRouter(prefix="/v1/agent", tags=["agent protocol"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HeartbeatIn(_In):
    pools: dict[str, int] = Field(default_factory=dict, description="nodes up per pool name")
    running: list[str] | None = Field(
        None, max_length=100_000, description="attempt ids the engine runs (sent now and then; null: not sent)"
    )
    info: dict[str, Any] = Field(default_factory=dict, description="agent version, engine, health")


class HeartbeatOut(BaseModel):
    cancel: list[str]
    forget: list[str]
    unknown_pools: list[str]
    preempt: list[str] = Field(description="attempts to stop for higher-priority work; report them `preempted`")
    server_time: datetime


class LeaseIn(_In):
    limit: int = 16


class AssignmentOut(BaseModel):
    attempt_id: str
    job_id: str
    job_name: str
    tenant: str
    pool: str
    model: str
    stack: str
    per_node: int
    node_indices: list[int]
    cpus: float
    memory_gib: float
    run: str
    setup: str | None
    envs: dict[str, str]
    files: dict[str, str]
    max_runtime_s: int
    state: str
    cancel_requested: bool
    log_offset: int

    @classmethod
    def of(cls, a: agents.Assignment) -> AssignmentOut:
        data = {f: getattr(a, f) for f in cls.model_fields}
        data["node_indices"] = list(a.node_indices)
        data["stack"] = a.stack.value
        data["state"] = a.state.value
        return cls(**data)


class StateReportIn(_In):
    attempt_id: str
    state: str = Field(description="running, succeeded, failed, timeout, cancelled, preempted or lost")
    at: datetime
    exit_code: int | None = None
    reason: str = Field("", max_length=4000)
    devices: dict[str, list[int]] = Field(default_factory=dict)


class ReportsIn(_In):
    reports: list[StateReportIn] = Field(max_length=1000)


class ReportOut(BaseModel):
    attempt_id: str
    accepted: bool
    job_state: str
    note: str


class LogAckOut(BaseModel):
    accepted: bool
    next_offset: int


class UsageIn(_In):
    attempt_id: str
    accelerators: int
    accelerator_seconds: float
    cpu_seconds: float
    wall_seconds: float
    started_at: datetime
    ended_at: datetime


class UsageOut(BaseModel):
    recorded: bool


class AgentPoolOut(BaseModel):
    name: str
    model: str
    stack: str
    nodes: int
    accelerators_per_node: int
    cpus_per_node: int
    memory_gib_per_node: int


class AgentCentreOut(BaseModel):
    name: str
    pools: list[AgentPoolOut]


@router.get("/centre", summary="The agent's own centre and its registered pools")
def centre(ctx: Ctx, caller: Caller) -> AgentCentreOut:
    name, pools = agents.my_centre(ctx, caller)
    return AgentCentreOut(
        name=name,
        pools=[
            AgentPoolOut(
                name=p.name,
                model=p.model,
                stack=p.stack.value,
                nodes=p.nodes,
                accelerators_per_node=p.accelerators_per_node,
                cpus_per_node=p.cpus_per_node,
                memory_gib_per_node=p.memory_gib_per_node,
            )
            for p in pools
        ],
    )


@router.post("/heartbeat")
def heartbeat(body: HeartbeatIn, ctx: Ctx, caller: Caller) -> HeartbeatOut:
    reply = agents.heartbeat(ctx, caller, body.pools, body.running, body.info)
    return HeartbeatOut(
        cancel=reply.cancel,
        forget=reply.forget,
        unknown_pools=reply.unknown_pools,
        preempt=reply.preempt,
        server_time=datetime.now(UTC),
    )


@router.post("/lease", summary="Take the jobs placed on this centre (each is handed out once)")
def lease(body: LeaseIn, ctx: Ctx, caller: Caller) -> list[AssignmentOut]:
    return [AssignmentOut.of(a) for a in agents.lease(ctx, caller, body.limit)]


@router.get("/assignments", summary="Everything the server believes runs on this centre (for reconciliation)")
def assignments(ctx: Ctx, caller: Caller) -> list[AssignmentOut]:
    return [AssignmentOut.of(a) for a in agents.assignments(ctx, caller)]


@router.post("/reports", summary="State changes of attempts; duplicates change nothing")
def reports(body: ReportsIn, request: Request, ctx: Ctx, caller: Caller) -> list[ReportOut]:
    items = [agents.StateReport(**r.model_dump()) for r in body.reports]
    results = agents.report(ctx, caller, items)
    wake_scheduler(request)
    return [
        ReportOut(attempt_id=r.attempt_id, accepted=r.accepted, job_state=str(r.job_state), note=r.note)
        for r in results
    ]


@router.post("/attempts/{attempt_id}/logs", summary="Append raw log bytes at an offset (octet-stream)")
async def append_log(attempt_id: str, request: Request, offset: Annotated[int, Query(ge=0)]) -> LogAckOut:
    ctx = get_context(request)
    caller = await run_in_threadpool(get_principal, request, request.headers.get("authorization"))
    data = await read_limited(request, ctx.settings.limits.max_log_chunk_bytes, "log chunk")
    ack = await run_in_threadpool(agents.append_log, ctx, caller, attempt_id, offset, data)
    return LogAckOut(accepted=ack.accepted, next_offset=ack.next_offset)


@router.post("/usage", summary="Metered usage of one attempt, recorded once")
def usage(body: UsageIn, ctx: Ctx, caller: Caller) -> UsageOut:
    return UsageOut(recorded=agents.record_usage(ctx, caller, agents.UsageInput(**body.model_dump())))

"""The server side of the agent protocol: heartbeat, lease, assignments, state reports, logs and usage.

Every call is idempotent: an agent may resend anything after a timeout or a restart, and a report about
an attempt that is no longer its job's current one changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from suanli.domain.accelerators import Stack
from suanli.domain.errors import AlreadyExists, Conflict, FieldError, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from suanli.domain.jobs.model import Attempt, Job, Outcome, judge_outcome
from suanli.domain.jobs.states import TERMINAL, JobState
from suanli.domain.tenants import Principal
from suanli.ports import UnitOfWork, UsageRecord
from suanli.service.billing import charge_usage
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context
from suanli.service.lifecycle import move, update_attempt

ACTIVE = (JobState.STARTING, JobState.RUNNING)


@dataclass(frozen=True)
class Assignment:
    """An attempt for the agent to run (or keep running), with everything its engine needs."""

    attempt_id: str
    job_id: str
    job_name: str
    tenant: str
    pool: str
    model: str
    stack: Stack
    per_node: int
    node_indices: tuple[int, ...]
    cpus: float
    memory_gib: float
    run: str
    setup: str | None
    envs: dict[str, str]
    files: dict[str, str]
    max_runtime_s: int
    state: JobState
    cancel_requested: bool
    log_offset: int


@dataclass(frozen=True)
class HeartbeatReply:
    cancel: list[str] = field(default_factory=list)  # attempts to kill at the tenant's request
    forget: list[str] = field(default_factory=list)  # attempts the server no longer runs here: kill, clean up
    unknown_pools: list[str] = field(default_factory=list)
    preempt: list[str] = field(default_factory=list)  # attempts to stop for higher-priority work (then requeued)


@dataclass(frozen=True)
class StateReport:
    attempt_id: str
    state: str  # "running" or an Outcome value
    at: datetime
    exit_code: int | None = None
    reason: str = ""
    devices: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportResult:
    attempt_id: str
    accepted: bool
    job_state: str
    note: str = ""


@dataclass(frozen=True)
class LogAck:
    accepted: bool
    next_offset: int  # the agent sends from here next


def _centre_id(principal: Principal) -> str:
    if principal.centre_id is None:
        raise Forbidden("the agent protocol needs a centre agent token")
    return principal.centre_id


def _own_attempt(uow: UnitOfWork, centre_id: str, attempt_id: str) -> Attempt:
    attempt = uow.attempts.get(attempt_id)
    if attempt is None or attempt.centre_id != centre_id:
        raise NotFound(f"attempt {attempt_id} not found on this centre")
    return attempt


def heartbeat(
    ctx: Context, principal: Principal, pools: dict[str, int], running: list[str] | None, info: dict[str, object]
) -> HeartbeatReply:
    """Record liveness and nodes up per pool; answer which attempts to cancel or forget."""
    centre_id = _centre_id(principal)
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        uow.centres.heartbeat(centre_id, now, info)
        known = {p.name: p for p in uow.pools.list(centre_id)}
        for name, up in pools.items():
            pool = known.get(name)
            if pool is not None and pool.nodes_up != up:
                uow.pools.update(replace(pool, nodes_up=max(0, min(up, pool.nodes))))
        cancel, preempt = [], []
        for job in uow.jobs.flagged(ACTIVE):
            attempt = uow.attempts.get(job.current_attempt_id or "")
            if attempt is not None and attempt.centre_id == centre_id:
                (cancel if job.cancel_requested_at is not None else preempt).append(attempt.id)
        forget = []
        for attempt_id in running or ():
            attempt = uow.attempts.get(attempt_id)
            job = uow.jobs.get(attempt.job_id) if attempt is not None and attempt.centre_id == centre_id else None
            if job is None or job.current_attempt_id != attempt_id or job.state not in ACTIVE:
                forget.append(attempt_id)
    return HeartbeatReply(sorted(cancel), sorted(forget), sorted(set(pools) - set(known)), sorted(preempt))


def lease(ctx: Context, principal: Principal, limit: int) -> list[Assignment]:
    """Hand the agent up to `limit` attempts placed on its centre; each becomes `starting` exactly once."""
    centre_id = _centre_id(principal)
    if not 1 <= limit <= 1000:
        raise InvalidInput([FieldError("limit", "between 1 and 1000")])
    now = ctx.clock.now()
    out = []
    with ctx.store.uow() as uow:
        for attempt in uow.attempts.in_states([JobState.PLACED], centre_id=centre_id)[:limit]:
            job = uow.jobs.get(attempt.job_id)
            if job is None or job.state is not JobState.PLACED or job.current_attempt_id != attempt.id:
                continue
            try:
                job = move(uow, job, JobState.STARTING, f"leased by {principal.name}", principal.name, now)
            except Conflict:
                continue
            attempt = update_attempt(uow, attempt, state=JobState.STARTING, leased_at=now)
            out.append(_assignment(uow, job, attempt))
    return out


def assignments(ctx: Context, principal: Principal) -> list[Assignment]:
    """Every attempt the server believes is starting or running on this centre (for reconciliation)."""
    centre_id = _centre_id(principal)
    with ctx.store.uow() as uow:
        out = []
        for attempt in uow.attempts.in_states(ACTIVE, centre_id=centre_id):
            job = uow.jobs.get(attempt.job_id)
            if job is not None and job.current_attempt_id == attempt.id:
                out.append(_assignment(uow, job, attempt))
        return out


def _assignment(uow: UnitOfWork, job: Job, attempt: Attempt) -> Assignment:
    pool = uow.pools.get(attempt.pool_id)
    tenant = uow.tenants.get(job.tenant_id)
    model = effective_catalogue(uow).get(attempt.model)
    spec = job.spec
    return Assignment(
        attempt_id=attempt.id,
        job_id=job.id,
        job_name=job.name,
        tenant=tenant.name if tenant else job.tenant_id,
        pool=pool.name if pool else attempt.pool_id,
        model=attempt.model,
        stack=model.stack if model else Stack.CPU,
        per_node=attempt.per_node,
        node_indices=attempt.node_indices,
        cpus=attempt.cpus_per_node,
        memory_gib=attempt.memory_gib_per_node,
        run=spec.run,
        setup=spec.setup,
        envs=dict(spec.envs),
        files=dict(spec.files),
        max_runtime_s=spec.max_runtime,
        state=attempt.state,
        cancel_requested=job.cancel_requested_at is not None,
        log_offset=attempt.log_bytes,
    )


def report(ctx: Context, principal: Principal, reports: list[StateReport]) -> list[ReportResult]:
    """Apply state reports in order; duplicates and stale reports are accepted and change nothing."""
    centre_id = _centre_id(principal)
    results = []
    for item in reports:
        with ctx.store.uow() as uow:
            results.append(_apply_report(ctx, uow, centre_id, principal.name, item))
    return results


def _apply_report(ctx: Context, uow: UnitOfWork, centre_id: str, actor: str, item: StateReport) -> ReportResult:
    attempt = _own_attempt(uow, centre_id, item.attempt_id)
    job = uow.jobs.get(attempt.job_id)
    assert job is not None
    now = ctx.clock.now()
    at = min(item.at, now)
    if item.state == "running":
        if job.current_attempt_id == attempt.id and job.state is JobState.STARTING:
            job = move(uow, job, JobState.RUNNING, "running", actor, now)
            update_attempt(uow, uow.attempts.get(attempt.id) or attempt, started_at=at, devices=item.devices)
            return ReportResult(attempt.id, True, job.state)
        return ReportResult(attempt.id, True, job.state, "no change")
    try:
        outcome = Outcome(item.state)
    except ValueError:
        raise InvalidInput([FieldError("state", f"unknown state {item.state!r}")]) from None
    if outcome is Outcome.CANCELLED and job.preempt_requested_at is not None and job.cancel_requested_at is None:
        outcome = Outcome.PREEMPTED  # killed because the scheduler asked for it
    if job.current_attempt_id != attempt.id or job.state not in ACTIVE:
        return ReportResult(attempt.id, True, job.state, "stale or duplicate report: nothing changed")
    verdict = judge_outcome(job, outcome, item.exit_code, item.reason)
    ended = {
        "exit_code": item.exit_code,
        "ended_at": at,
        "reason": item.reason or verdict.reason,
        "devices": item.devices or attempt.devices,
    }
    if attempt.started_at is None:
        ended["started_at"] = at
    attempt = update_attempt(uow, attempt, **ended)
    counters = {"restarts": verdict.restarts, "requeues": verdict.requeues, "preempt_requested_at": None}
    if outcome in (Outcome.PREEMPTED, Outcome.LOST) and verdict.state is not JobState.CANCELLED:
        job = move(uow, job, JobState(outcome.value), f"{outcome}: {item.reason}".rstrip(": "), actor, now)
        job = move(uow, job, verdict.state, verdict.reason, actor, now, **counters)
    else:
        final = (
            JobState.SUCCEEDED
            if outcome is Outcome.SUCCEEDED
            else (JobState.CANCELLED if verdict.state is JobState.CANCELLED else JobState.FAILED)
        )
        exit_code = {"exit_code": item.exit_code} if verdict.state in TERMINAL else {}
        job = move(uow, job, verdict.state, verdict.reason, actor, now, attempt_state=final, **counters, **exit_code)
    return ReportResult(attempt.id, True, job.state)


def append_log(ctx: Context, principal: Principal, attempt_id: str, offset: int, data: bytes) -> LogAck:
    """Append a chunk at `offset` (resent bytes are skipped; bytes past the per-attempt cap are dropped)."""
    centre_id = _centre_id(principal)
    limits = ctx.settings.limits
    if len(data) > limits.max_log_chunk_bytes:
        raise PayloadTooLarge(f"log chunk of {len(data)} bytes; the limit is {limits.max_log_chunk_bytes}", "data")
    if offset < 0:
        raise InvalidInput([FieldError("offset", "must be >= 0")])
    with ctx.store.uow() as uow:
        attempt = _own_attempt(uow, centre_id, attempt_id)
        received = attempt.log_bytes
        if offset > received:
            return LogAck(False, received)  # a gap: the agent resends from what we have
        fresh = data[received - offset :]
        if not fresh:
            return LogAck(True, received)
        room = max(0, limits.max_log_bytes - received)
        kept = fresh[:room]
        try:
            if kept:
                uow.logs.append(attempt.id, received, kept)
        except AlreadyExists:
            return LogAck(True, received)
        update_attempt(
            uow, attempt, log_bytes=received + len(fresh), log_truncated=attempt.log_truncated or len(kept) < len(fresh)
        )
        return LogAck(True, received + len(fresh))


@dataclass(frozen=True)
class UsageInput:
    attempt_id: str
    accelerators: int
    accelerator_seconds: float
    cpu_seconds: float
    wall_seconds: float
    started_at: datetime
    ended_at: datetime


def record_usage(ctx: Context, principal: Principal, usage: UsageInput) -> bool:
    """Store an attempt's metered usage once (resends return False and change nothing)."""
    centre_id = _centre_id(principal)
    errors = []
    if usage.ended_at < usage.started_at:
        errors.append(FieldError("ended_at", "must not be before started_at"))
    for name in ("accelerators", "accelerator_seconds", "cpu_seconds", "wall_seconds"):
        if getattr(usage, name) < 0:
            errors.append(FieldError(name, "must be >= 0"))
    span = (usage.ended_at - usage.started_at).total_seconds()
    if usage.wall_seconds > span + 1:
        errors.append(FieldError("wall_seconds", "longer than ended_at - started_at"))
    if usage.accelerator_seconds > usage.accelerators * usage.wall_seconds * 1.001 + 1:
        errors.append(FieldError("accelerator_seconds", "more than accelerators x wall_seconds"))
    if errors:
        raise InvalidInput(errors)
    with ctx.store.uow() as uow:
        attempt = _own_attempt(uow, centre_id, usage.attempt_id)
        job = uow.jobs.get(attempt.job_id)
        assert job is not None
        record = UsageRecord(
            attempt_id=attempt.id,
            job_id=job.id,
            tenant_id=job.tenant_id,
            centre_id=centre_id,
            pool_id=attempt.pool_id,
            model=attempt.model,
            accelerators=usage.accelerators,
            accelerator_seconds=usage.accelerator_seconds,
            cpu_seconds=usage.cpu_seconds,
            wall_seconds=usage.wall_seconds,
            started_at=usage.started_at,
            ended_at=usage.ended_at,
            recorded_at=ctx.clock.now(),
        )
        if not uow.usage.add_once(record):
            return False
        charge_usage(ctx, uow, record, attempt)
        return True


@dataclass(frozen=True)
class AgentPool:
    name: str
    model: str
    stack: Stack
    nodes: int
    accelerators_per_node: int
    cpus_per_node: int
    memory_gib_per_node: int


def my_centre(ctx: Context, principal: Principal) -> tuple[str, list[AgentPool]]:
    """The agent's centre name and pools as registered (a local engine mirrors them)."""
    centre_id = _centre_id(principal)
    with ctx.store.uow() as uow:
        centre = uow.centres.get(centre_id)
        if centre is None:
            raise NotFound("centre not found")
        catalogue = effective_catalogue(uow)
        pools = []
        for p in uow.pools.list(centre_id):
            model = catalogue.get(p.model)
            pools.append(
                AgentPool(
                    p.name,
                    p.model,
                    model.stack if model else Stack.CPU,
                    p.nodes,
                    p.accelerators_per_node,
                    p.cpus_per_node,
                    p.memory_gib_per_node,
                )
            )
        return centre.name, pools

"""`run_cycle`: load a snapshot through the ports, call the pure `scheduling.decide`, apply the result.

The live server and the simulator call this same function; they differ only in the ports they pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from suanli import scheduling
from suanli.domain.accelerators import Catalogue
from suanli.domain.centres import CentreStatus, PriceCard, price_in_effect
from suanli.domain.errors import Conflict, InvalidInput, InvalidTransition
from suanli.domain.jobs.model import Attempt, Job, Outcome, attempt_id, judge_outcome
from suanli.domain.jobs.request import resolve_request
from suanli.domain.jobs.states import HOLDS_CAPACITY, PENDING, JobState
from suanli.ports import UnitOfWork
from suanli.scheduling.decisions import CycleResult, Placement, PoolReason
from suanli.scheduling.snapshot import NodeFree, PendingJob, PoolState, Snapshot
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context
from suanli.service.lifecycle import move

ACTOR = "scheduler"


@dataclass
class CycleReport:
    placed: int = 0
    waiting: int = 0
    rejected: int = 0
    revoked: int = 0
    lost: int = 0
    conflicts: int = 0
    placements: list[Placement] = field(default_factory=list)


def pool_states(uow: UnitOfWork, now: datetime, heartbeat_timeout: timedelta, catalogue: Catalogue) -> list[PoolState]:
    """Every pool with its free resources per node, its centre's status and its price in effect."""
    centres = {c.id: c for c in uow.centres.list()}
    cards: dict[str, list[PriceCard]] = {}
    for card in uow.prices.list():
        cards.setdefault(card.pool_id, []).append(card)
    used: dict[tuple[str, int], tuple[int, float, float]] = {}
    for attempt in uow.attempts.in_states(sorted(HOLDS_CAPACITY)):
        for node in attempt.node_indices:
            a, c, m = used.get((attempt.pool_id, node), (0, 0.0, 0.0))
            used[(attempt.pool_id, node)] = (
                a + attempt.per_node,
                c + attempt.cpus_per_node,
                m + attempt.memory_gib_per_node,
            )
    states = []
    for pool in uow.pools.list():
        centre = centres[pool.centre_id]
        model = catalogue.get(pool.model)
        if model is None:
            continue
        up = pool.nodes if pool.nodes_up is None else max(0, min(pool.nodes, pool.nodes_up))
        free = []
        for i in range(up):
            a, c, m = used.get((pool.id, i), (0, 0.0, 0.0))
            free.append(NodeFree(pool.accelerators_per_node - a, pool.cpus_per_node - c, pool.memory_gib_per_node - m))
        card = price_in_effect(cards.get(pool.id, []), now)
        states.append(
            PoolState(
                pool_id=pool.id,
                pool_name=pool.name,
                centre_id=centre.id,
                centre_name=centre.name,
                model=model.id,
                stack=model.stack,
                accelerators_per_node=pool.accelerators_per_node,
                cpus_per_node=pool.cpus_per_node,
                memory_gib_per_node=pool.memory_gib_per_node,
                node_count=pool.nodes,
                free=tuple(free),
                centre_status=centre.status(now, heartbeat_timeout),
                enabled=pool.enabled,
                price=card.price if card else None,
                price_card_id=card.id if card else None,
                preemptible_discount=card.preemptible_discount if card else Decimal(0),
            )
        )
    return states


def pending_job(job: Job, catalogue: Catalogue) -> PendingJob:
    """The scheduler's view of a waiting job (raises InvalidInput if its models left the catalogue)."""
    spec = job.spec
    return PendingJob(
        job_id=job.id,
        tenant_id=job.tenant_id,
        priority=job.priority,
        submitted_at=job.submitted_at,
        request=resolve_request(spec, catalogue),
        preemptible=spec.preemptible,
        max_price=spec.max_price,
        allow_centres=frozenset(spec.centres.allow),
        exclude_centres=frozenset(spec.centres.exclude),
    )


def run_cycle(ctx: Context, policy: str | None = None) -> CycleReport:
    """One scheduling cycle: expire stale placements and lost runs, then decide and apply."""
    now = ctx.clock.now()
    report = CycleReport()
    expire(ctx, now, report)
    with ctx.store.uow() as uow:
        catalogue = effective_catalogue(uow)
        snapshot = Snapshot(tuple(pool_states(uow, now, ctx.heartbeat_timeout, catalogue)))
        jobs = uow.jobs.in_states(sorted(PENDING))
    pending, broken = [], {}
    for job in jobs:
        try:
            pending.append(pending_job(job, catalogue))
        except InvalidInput as exc:
            broken[job.id] = exc.detail
    result = scheduling.decide(snapshot, pending, policy or ctx.settings.scheduler.policy, now)
    apply_result(ctx, result, {j.id: j for j in jobs}, broken, now, report)
    return report


def apply_result(
    ctx: Context, result: CycleResult, jobs: dict[str, Job], broken: dict[str, str], now: datetime, report: CycleReport
) -> None:
    """Write placements (compare-and-set on each job), waiting reasons and rejections."""
    with ctx.store.uow() as uow:
        for placement in result.placements:
            job = jobs[placement.job_id]
            number = job.attempts + 1
            try:
                move(
                    uow,
                    job,
                    JobState.PLACED,
                    _placed_reason(snapshot_label(uow, placement), placement),
                    ACTOR,
                    now,
                    attempts=number,
                )
            except Conflict:
                report.conflicts += 1  # cancelled (or otherwise changed) since the snapshot was taken
                continue
            uow.attempts.add(_attempt(job, number, placement, now))
            report.placed += 1
            report.placements.append(placement)
        for job_id, reasons in result.waiting.items():
            _store_reasons(uow, jobs[job_id], reasons, now)
            report.waiting += 1
        for job_id, reasons in result.rejected.items():
            _reject(uow, jobs[job_id], "no pool in the city can run this job: " + summarise(reasons), reasons, now)
            report.rejected += 1
        for job_id, detail in broken.items():
            _reject(uow, jobs[job_id], f"the job's resources no longer resolve: {detail}", (), now)
            report.rejected += 1


def snapshot_label(uow: UnitOfWork, placement: Placement) -> str:
    pool = uow.pools.get(placement.pool_id)
    centre = uow.centres.get(placement.centre_id)
    return f"{centre.name if centre else placement.centre_id}/{pool.name if pool else placement.pool_id}"


def _placed_reason(label: str, placement: Placement) -> str:
    return f"placed on {label}: {placement.explanation}"


def _attempt(job: Job, number: int, p: Placement, now: datetime) -> Attempt:
    return Attempt(
        id=attempt_id(job.id, number),
        job_id=job.id,
        number=number,
        centre_id=p.centre_id,
        pool_id=p.pool_id,
        model=p.model,
        per_node=p.per_node,
        cpus_per_node=p.cpus_per_node,
        memory_gib_per_node=p.memory_gib_per_node,
        node_indices=p.node_indices,
        price=p.price,
        price_card_id=p.price_card_id,
        state=JobState.PLACED,
        placed_at=now,
        explanation=p.explanation,
    )


def _store_reasons(uow: UnitOfWork, job: Job, reasons: Sequence[PoolReason], now: datetime) -> None:
    stored = tuple(r.as_dict() for r in reasons)
    if stored == job.pending_reasons:
        return
    summary = "waiting: " + summarise(reasons) if reasons else "waiting: no pools registered yet"
    try:
        uow.jobs.update_fields(job, _with(job, pending_reasons=stored, state_reason=summary))
    except Conflict:
        pass  # changed meanwhile; the next cycle explains it again


def _reject(uow: UnitOfWork, job: Job, reason: str, reasons: Sequence[PoolReason], now: datetime) -> None:
    try:
        move(uow, job, JobState.REJECTED, reason, ACTOR, now, pending_reasons=tuple(r.as_dict() for r in reasons))
    except (Conflict, InvalidTransition):
        pass


def summarise(reasons: Sequence[PoolReason]) -> str:
    """One line for people: what keeps the job from the pools that could run it; pools that never could
    are counted, not listed (they are all in `why`)."""
    live = [r for r in reasons if not r.static]
    shown = live or list(reasons)
    groups: dict[str, list[PoolReason]] = {}
    for r in shown:
        groups.setdefault(r.message, []).append(r)
    parts = [
        f"{rs[0].centre}/{rs[0].pool}: {message}" if len(rs) == 1 else f"{message} ({len(rs)} pools)"
        for message, rs in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    ]
    text = "; ".join(parts[:3]) + ("; ..." if len(parts) > 3 else "")
    unfit = len(reasons) - len(live)
    if live and unfit:
        text += f" ({unfit} other pool{'s' if unfit > 1 else ''} cannot run it)"
    return text


def _with(job: Job, **changes: object) -> Job:
    return replace(job, **changes)  # type: ignore[arg-type]


def expire(ctx: Context, now: datetime, report: CycleReport) -> None:
    """Requeue placements nobody leased in time, and declare runs lost on centres silent for too long."""
    settings = ctx.settings.scheduler
    placement_timeout = timedelta(seconds=settings.placement_timeout_s)
    lost_timeout = timedelta(seconds=settings.lost_timeout_s)
    with ctx.store.uow() as uow:
        centres = {c.id: c for c in uow.centres.list()}
        for attempt in uow.attempts.in_states([JobState.PLACED, JobState.STARTING, JobState.RUNNING]):
            centre = centres[attempt.centre_id]
            job = uow.jobs.get(attempt.job_id)
            if job is None or job.current_attempt_id != attempt.id:
                continue
            try:
                if attempt.state is JobState.PLACED and now - attempt.placed_at > placement_timeout:
                    status = centre.status(now, ctx.heartbeat_timeout)
                    why = (
                        f"centre {centre.name} is {status}"
                        if status is not CentreStatus.ONLINE
                        else f"centre {centre.name} did not take it"
                    )
                    move(
                        uow,
                        job,
                        JobState.QUEUED,
                        f"placement revoked after {int(placement_timeout.total_seconds())}s: {why}; back in the queue",
                        ACTOR,
                        now,
                        attempt_state=JobState.LOST,
                    )
                    report.revoked += 1
                elif attempt.state is not JobState.PLACED and _silent_for(centre.last_heartbeat_at, now) > lost_timeout:
                    declare_lost(
                        uow, job, f"centre {centre.name} silent for over {int(lost_timeout.total_seconds())}s", now
                    )
                    report.lost += 1
            except Conflict:
                report.conflicts += 1


def _silent_for(last: datetime | None, now: datetime) -> timedelta:
    return timedelta.max if last is None else now - last


def declare_lost(uow: UnitOfWork, job: Job, detail: str, now: datetime, actor: str = ACTOR) -> Job:
    """LOST, then requeued or failed by the job's retry policy (or cancelled if the tenant asked)."""
    job = move(uow, job, JobState.LOST, f"lost: {detail}", actor, now)
    verdict = judge_outcome(job, Outcome.LOST, None, detail)
    return move(
        uow, job, verdict.state, verdict.reason, actor, now, restarts=verdict.restarts, requeues=verdict.requeues
    )

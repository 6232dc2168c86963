"""`Scheduler.cycle`: bring the cache in step with the store, call the pure `scheduling.decide`, apply.

The live server (its scheduler loop) and the simulator run this same code; they differ only in the ports in
the context (store, clock). `run_cycle(ctx)` is a one-off cycle with a fresh cache, for tests and tools.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from suanli import scheduling
from suanli.domain.accelerators import AcceleratorModel, Catalogue
from suanli.domain.centres import Centre, CentreStatus, Pool, PriceCard, price_in_effect
from suanli.domain.errors import Conflict, InvalidTransition
from suanli.domain.jobs.model import Attempt, Job, Outcome, attempt_id, judge_outcome
from suanli.domain.jobs.states import HOLDS_CAPACITY, JobState
from suanli.domain.records import replaced
from suanli.ports import UnitOfWork
from suanli.scheduling.decisions import CycleResult, Placement, PoolReason, Preemption, ReasonCode
from suanli.scheduling.snapshot import NodeFree, PendingJob, PoolState
from suanli.service.budgets import budgets_left
from suanli.service.cache import SchedulerCache
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context
from suanli.service.lifecycle import move

ACTOR = "scheduler"
NOTE_PREFIX = "waiting: "  # a waiting job's own line, written by the scheduler (else its shape explains it)
QUEUED_REASON = "queued: waiting for the scheduler"


@dataclass
class CycleReport:
    placed: int = 0
    waiting: int = 0
    rejected: int = 0
    revoked: int = 0
    lost: int = 0
    conflicts: int = 0
    preempted: int = 0
    placements: list[Placement] = field(default_factory=list)
    revisit_at: datetime | None = None  # the policy's: when time alone could next change its decisions


def pool_templates(
    uow: UnitOfWork, now: datetime, heartbeat_timeout: timedelta, catalogue: Catalogue
) -> list[PoolState]:
    """Every pool with its shape, its centre's status and its price in effect; `free` lists one full node
    per node up (the cache subtracts what is in use). A pool whose inputs are as they were last time gives
    the same (immutable) template again: the cycle and every submission ask, and little changes between."""
    centres = {c.id: c for c in uow.centres.list()}
    cards: dict[str, list[PriceCard]] = {}
    for card in uow.prices.list():
        cards.setdefault(card.pool_id, []).append(card)
    states = []
    for pool in uow.pools.list():
        centre = centres[pool.centre_id]
        model = catalogue.get(pool.model)
        if model is None:
            continue
        card = price_in_effect(cards.get(pool.id, []), now)
        inputs = (pool, centre.name, centre.status(now, heartbeat_timeout), card, model)
        known = _TEMPLATES.get(pool.id)
        if known is not None and known[0] == inputs:
            states.append(known[1])
            continue
        if len(_TEMPLATES) >= _TEMPLATES_KEPT:
            _TEMPLATES.clear()
        state = _template(*inputs, centre_id=centre.id)
        _TEMPLATES[pool.id] = (inputs, state)
        states.append(state)
    return states


_TEMPLATES: dict[str, tuple[tuple[object, ...], PoolState]] = {}  # pool id -> (inputs, template)
_TEMPLATES_KEPT = 10_000


def _template(
    pool: Pool, centre_name: str, status: CentreStatus, card: PriceCard | None, model: AcceleratorModel, centre_id: str
) -> PoolState:
    up = pool.nodes if pool.nodes_up is None else max(0, min(pool.nodes, pool.nodes_up))
    full = NodeFree(pool.accelerators_per_node, pool.cpus_per_node, pool.memory_gib_per_node)
    return PoolState(
        pool_id=pool.id,
        pool_name=pool.name,
        centre_id=centre_id,
        centre_name=centre_name,
        model=model.id,
        stack=model.stack,
        accelerators_per_node=pool.accelerators_per_node,
        cpus_per_node=pool.cpus_per_node,
        memory_gib_per_node=pool.memory_gib_per_node,
        node_count=pool.nodes,
        free=(full,) * up,
        centre_status=status,
        enabled=pool.enabled,
        price=card.price if card else None,
        price_card_id=card.id if card else None,
        preemptible_discount=card.preemptible_discount if card else Decimal(0),
        fp16_tflops=float(model.fp16_tflops),
    )


class Scheduler:
    """One scheduler: its cache lives across cycles (the live loop and the simulator each keep one)."""

    def __init__(self, ctx: Context, policy: str | None = None) -> None:
        self.ctx = ctx
        self.policy = policy
        settings = ctx.settings.scheduler
        self.cache = SchedulerCache(
            timedelta(seconds=settings.resync_s), timedelta(hours=settings.fairshare_half_life_h)
        )
        self._explained: dict[str, tuple[PoolReason, ...]] = {}  # shape -> reasons last written
        self._noted: set[str] = set()  # jobs given a line of their own last cycle

    def cycle(self, policy: str | None = None) -> CycleReport:
        now = self.ctx.clock.now()
        report = CycleReport()
        with self.ctx.store.uow() as uow:
            catalogue = effective_catalogue(uow)
            self.cache.refresh(uow, catalogue, now)
            pools = pool_templates(uow, now, self.ctx.heartbeat_timeout, catalogue)
            centres = {c.id: c for c in uow.centres.list()}
            budgets = budgets_left(uow, now)
            self.cache.pool_cpus = {p.pool_id: int(p.cpus_per_node) for p in pools}
            stopping = {job.id for job in uow.jobs.flagged(sorted(HOLDS_CAPACITY))}  # preempting or cancelling
        if self._expire(now, centres, report):
            with self.ctx.store.uow() as uow:
                self.cache.refresh(uow, catalogue, now)
        snapshot = self.cache.snapshot(pools, now, stopping)
        if budgets:
            snapshot = replace(snapshot, budgets=budgets)
        pending = list(self.cache.pending.values())
        result = scheduling.decide(snapshot, pending, policy or self.policy or self.ctx.settings.scheduler.policy, now)
        self.cache.remember_reservations(result.reserved, result.starts)
        report.revisit_at = result.revisit_at
        self._apply(result, now, report)
        if result.placements or result.rejected:
            with self.ctx.store.uow() as uow:  # take in our own writes, so the cache is current between cycles
                self.cache.refresh(uow, catalogue, now)
        return report

    # ---------------------------------------------------------------------------- timeouts

    def _expire(self, now: datetime, centres: dict[str, Centre], report: CycleReport) -> bool:
        """Requeue placements nobody leased in time; declare runs lost on centres silent for too long."""
        settings = self.ctx.settings.scheduler
        placement_timeout = timedelta(seconds=settings.placement_timeout_s)
        lost_timeout = timedelta(seconds=settings.lost_timeout_s)
        stale = [
            a for job_id in self.cache.placed if now - (a := self.cache.allocs[job_id]).placed_at > placement_timeout
        ]
        silent = {c.id for c in centres.values() if _silent_for(c.last_heartbeat_at, now) > lost_timeout}
        unreachable = {
            c.id for c in centres.values() if c.engine_down_since and now - c.engine_down_since > lost_timeout
        }
        silent |= unreachable
        lost = (
            self.cache.allocs_where(lambda a: a.centre_id in silent and a.state is not JobState.PLACED)
            if silent
            else []
        )
        if not stale and not lost:
            return False
        with self.ctx.store.uow() as uow:
            for alloc in stale:
                job = uow.jobs.get(alloc.job_id)
                if job is None or job.state is not JobState.PLACED or job.current_attempt_id != alloc.attempt_id:
                    continue
                centre = centres[alloc.centre_id]
                status = centre.status(now, self.ctx.heartbeat_timeout)
                why = (
                    f"centre {centre.name} is {status}"
                    if status is not CentreStatus.ONLINE
                    else f"centre {centre.name} did not take it"
                )
                try:
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
                except Conflict:
                    report.conflicts += 1
            for alloc in lost:
                job = uow.jobs.get(alloc.job_id)
                if job is None or job.current_attempt_id != alloc.attempt_id or job.state is JobState.PLACED:
                    continue
                centre = centres[alloc.centre_id]
                what = "engine unreachable" if alloc.centre_id in unreachable else "silent"
                try:
                    declare_lost(
                        uow, job, f"centre {centre.name} {what} for over {int(lost_timeout.total_seconds())}s", now
                    )
                    report.lost += 1
                except (Conflict, InvalidTransition):
                    report.conflicts += 1
        return True

    # ---------------------------------------------------------------------------- applying

    def _apply(self, result: CycleResult, now: datetime, report: CycleReport) -> None:
        """Write placements (compare-and-set on each job), per-shape waiting reasons and rejections."""
        pending = self.cache.pending
        with self.ctx.store.uow() as uow:
            labels = _labels(uow)
            for placement in result.placements:
                job = uow.jobs.get(placement.job_id)
                if job is None:
                    report.conflicts += 1
                    continue
                number = job.attempts + 1
                try:
                    move(
                        uow,
                        job,
                        JobState.PLACED,
                        f"placed on {labels.get(placement.pool_id, '?')}: {placement.explanation}",
                        ACTOR,
                        now,
                        attempts=number,
                    )
                except (Conflict, InvalidTransition):
                    report.conflicts += 1  # cancelled (or otherwise changed) since the cache last saw it
                    continue
                uow.attempts.add(_attempt(job, number, placement, now))
                report.placed += 1
                report.placements.append(placement)
            _store_wait_reasons(uow, result, pending, now, self._explained)
            report.waiting = len(result.waiting)
            for job_id, reasons in result.rejected.items():
                if _reject(uow, job_id, "no pool in the city can run this job: " + summarise(reasons), reasons, now):
                    report.rejected += 1
            for job_id, detail in self.cache.broken.items():
                if _reject(uow, job_id, f"the job's resources no longer resolve: {detail}", (), now):
                    report.rejected += 1
            for preemption in result.preemptions:
                if _preempt(uow, preemption, now):
                    report.preempted += 1
            for job_id, note in result.notes.items():
                _note(uow, job_id, note)
            for job_id in self._noted - set(result.notes):
                _note(uow, job_id, QUEUED_REASON, only_if_noted=True)  # no longer promised anything
            self._noted = set(result.notes)


def run_cycle(ctx: Context, policy: str | None = None) -> CycleReport:
    """One scheduling cycle with a fresh cache (a full load): for tests and one-off tools."""
    return Scheduler(ctx, policy).cycle()


def _labels(uow: UnitOfWork) -> dict[str, str]:
    centres = {c.id: c.name for c in uow.centres.list()}
    return {p.id: f"{centres.get(p.centre_id, '?')}/{p.name}" for p in uow.pools.list()}


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
        hold=p.hold,
        state=JobState.PLACED,
        placed_at=now,
        explanation=p.explanation,
    )


_SHAPE = operator.attrgetter("shape")


def _store_wait_reasons(
    uow: UnitOfWork,
    result: CycleResult,
    pending: dict[str, PendingJob],
    now: datetime,
    written: dict[str, tuple[PoolReason, ...]],
) -> None:
    """One row per shape of waiting job, written only when its reasons change (`written` remembers what this
    scheduler wrote last, so unchanged shapes cost nothing)."""
    waiting, notes = result.waiting, result.notes
    # the last job of each shape without a note of its own (filters and getters in C: the queue may be long)
    plain = list(filter(pending.__contains__, itertools.filterfalse(notes.__contains__, waiting)))
    by_shape = dict(zip(map(_SHAPE, map(pending.__getitem__, plain)), map(waiting.__getitem__, plain), strict=True))
    for job_id in filter(notes.__contains__, waiting):
        job = pending.get(job_id)
        if job is not None and job.shape not in by_shape:
            # only jobs with a promise of their own (a reservation, their note) wait in this shape: the first
            # one's reasons but that promise
            by_shape[job.shape] = tuple(r for r in waiting[job_id] if r.code is not ReasonCode.RESERVED)
    changed = {shape: reasons for shape, reasons in by_shape.items() if written.get(shape) != reasons}
    if not changed:
        return
    stored = uow.waits.get(list(changed))
    for shape, reasons in changed.items():
        dicts = tuple(r.as_dict() for r in reasons)
        summary = summarise(reasons) if reasons else "no pools registered yet"
        if stored.get(shape) != (dicts, summary):
            uow.waits.put(shape, dicts, summary, now)
        written[shape] = reasons


def _preempt(uow: UnitOfWork, preemption: Preemption, now: datetime) -> bool:
    """Ask the job's centre to stop it (it is then requeued); a job not yet taken is simply put back."""
    job = uow.jobs.get(preemption.job_id)
    if job is None or job.preempt_requested_at is not None or job.cancel_requested_at is not None:
        return False
    try:
        if job.state is JobState.PLACED:
            move(
                uow,
                job,
                JobState.QUEUED,
                f"placement withdrawn before it started: {preemption.reason}",
                ACTOR,
                now,
                attempt_state=JobState.PREEMPTED,
            )
            return True
        if job.state not in (JobState.STARTING, JobState.RUNNING):
            return False
        uow.jobs.update_fields(
            job,
            replaced(job, preempt_requested_at=now, updated_at=now, state_reason=f"preempting: {preemption.reason}"),
        )
    except (Conflict, InvalidTransition):
        return False
    return True


def _note(uow: UnitOfWork, job_id: str, note: str, only_if_noted: bool = False) -> None:
    """A waiting job's own line (e.g. its reservation), written only when it changes."""
    job = uow.jobs.get(job_id)
    if job is None or job.state_reason == note or job.state is not JobState.QUEUED:
        return
    if only_if_noted and not job.state_reason.startswith(NOTE_PREFIX):
        return
    try:
        uow.jobs.update_fields(job, replaced(job, state_reason=note))
    except Conflict:
        pass


def _reject(uow: UnitOfWork, job_id: str, reason: str, reasons: Sequence[PoolReason], now: datetime) -> bool:
    job = uow.jobs.get(job_id)
    if job is None:
        return False
    try:
        move(uow, job, JobState.REJECTED, reason, ACTOR, now, pending_reasons=tuple(r.as_dict() for r in reasons))
    except (Conflict, InvalidTransition):
        return False
    return True


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


def _silent_for(last: datetime | None, now: datetime) -> timedelta:
    return timedelta.max if last is None else now - last


def declare_lost(uow: UnitOfWork, job: Job, detail: str, now: datetime, actor: str = ACTOR) -> Job:
    """LOST, then requeued or failed by the job's retry policy (or cancelled if the tenant asked)."""
    job = move(uow, job, JobState.LOST, f"lost: {detail}", actor, now)
    verdict = judge_outcome(job, Outcome.LOST, None, detail)
    return move(
        uow, job, verdict.state, verdict.reason, actor, now, restarts=verdict.restarts, requeues=verdict.requeues
    )

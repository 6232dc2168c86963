"""Preemption planning for the `suanli` policy: which running jobs may be stopped, which of them make a waiting
job's room in one pool losing the least work, and the reasons and promises that follow. Pure functions over a
`Cycle`, like the rest of scheduling/.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from suanli.scheduling import fit
from suanli.scheduling.capacity import PoolFree
from suanli.scheduling.decisions import Preemption
from suanli.scheduling.evaluate import Cycle
from suanli.scheduling.snapshot import PendingJob, PoolState, RunningJob, Snapshot

MIN_RUN_BEFORE_PREEMPT_S = 300.0
PREEMPT_BACKOFF_MAX = 6  # a job requeued k times is protected MIN_RUN_BEFORE_PREEMPT_S * 2**k (at most 5.3 h)
STARVE_AFTER_S = 86400.0  # a job waiting this long since it was queued may stop equal-priority work of richer tenants
STARVE_RATIO = 4.0  # ... and (a batch job) at least this many times its expected runtime
# ... stopping batch jobs that lose at most this many times the accelerator-seconds it has waited (above 1, so that
# work started before it came is not a bar for ever: it may be stopped once the job has waited as long as that work
# had run when the job was queued)
LOSS_RATIO = 2.0


# a starving job that still may not stop anything says why (texts name no other tenant)
STARVED_NOTE = "it has waited long enough to stop other tenants' preemptible work of its priority, but not now: "
STARVED_NO_ROOM = (
    "no tenant holding more than yours runs preemptible work, past its protection, that would make its room"
)


def stoppable(r: RunningJob, now: datetime) -> bool:
    """Whether a preemptible job may be stopped now: once it has run MIN_RUN_BEFORE_PREEMPT_S, doubled for each
    time it was already requeued (up to PREEMPT_BACKOFF_MAX doublings), so the job with the least work to lose
    is not the one stopped over and over; never when its retry policy has no requeue left, as stopping it would
    fail it."""
    return r.requeues_left > 0 and (now - r.started_at).total_seconds() >= protection(r)


def protection(r: RunningJob) -> float:
    """Seconds a job runs before it may be stopped: MIN_RUN_BEFORE_PREEMPT_S, doubled per requeue so far."""
    return MIN_RUN_BEFORE_PREEMPT_S * 2 ** min(r.requeues, PREEMPT_BACKOFF_MAX)


def starving(job: PendingJob, now_ts: float) -> bool:
    """Whether a job has waited long enough since it last joined the queue (submitted, or requeued) to count as
    starving (`starves_at`)."""
    return now_ts >= starves_at(job)


def starves_at(job: PendingJob) -> float:
    """When a waiting job starts to starve: STARVE_AFTER_S after it joined the queue, and for a batch job not
    before it has waited STARVE_RATIO times its expected runtime (a job of days waits days before it may stop
    others' work; a service, which runs as long as it is kept, starves after STARVE_AFTER_S)."""
    wait = STARVE_AFTER_S if job.service else max(STARVE_AFTER_S, STARVE_RATIO * job.quickest)
    return job.queued_ts + wait


def per_weight(snapshot: Snapshot, tenant_id: str, change: float = 0.0) -> float:
    """What a tenant holds (A100-equivalents, plus `change`) per unit of its weight."""
    share = snapshot.tenants.get(tenant_id)
    held = (share.held if share else 0.0) + change
    return held / (share.weight if share and share.weight > 0 else 1.0)


def unfair(
    cycle: Cycle, snapshot: Snapshot, job: PendingJob, pool: PoolState, victims: Sequence[RunningJob]
) -> str | None:
    """Why a starving job may not stop these jobs of its own priority, or None when it may: every tenant it
    takes from must still hold at least as much per unit of weight afterwards as the job's tenant will with the
    job (so compute only moves from a richer tenant to a poorer one, and the tenant that lost it can never take
    it back the same way: no preemption loop) and at least its quota (a guarantee is never taken, so it is never
    reclaimed), and the stopped batch jobs must have run no more than LOSS_RATIO times the accelerator-seconds the
    job has waited (a service loses no work; it starts again). The reason names no other tenant."""
    accel, cpus, _ = fit.demand_per_node(job, pool)
    mine = pool.compute(accel, cpus, job.request.nodes) + cycle.placed_compute.get(job.tenant_id, 0.0)
    taken: dict[str, float] = {}
    for v in victims:
        if v.stopping:
            continue  # its room comes free anyway
        at = cycle.pools[v.pool_id]
        taken[v.tenant_id] = taken.get(v.tenant_id, 0.0) + at.compute(v.per_node, v.cpus, len(v.node_indices))
    floor = per_weight(snapshot, job.tenant_id, mine)
    for tenant, compute in taken.items():
        share = snapshot.tenants.get(tenant)
        if tenant == job.tenant_id or per_weight(snapshot, tenant, -compute) < floor - 1e-9:
            return "stopping the jobs that would make its room would leave their tenant holding less than yours"
        if share is not None and share.held - compute < share.quota - 1e-9:
            # what a tenant is guaranteed is never taken (it would reclaim it: a loop)
            return "the jobs that would make its room are within their tenant's guaranteed quota"
    waited = (cycle.now.timestamp() - job.queued_ts) * max(1, job.request.size)
    if LOSS_RATIO * waited < sum(_lost(v, cycle.now) for v in victims if not v.stopping and not v.service):
        return (
            f"the jobs that would make its room have run more than {LOSS_RATIO:g} times as long as it has waited, "
            "and would lose that work"
        )
    return None


def borrowing(snapshot: Snapshot) -> set[str]:
    """Tenants holding more than they are guaranteed: a tenant without a quota borrows all it holds."""
    shares = snapshot.tenants
    return {r.tenant_id for r in snapshot.running if (s := shares.get(r.tenant_id)) is None or s.held > s.quota}


def plan(
    cycle: Cycle, job: PendingJob, victims: Sequence[RunningJob], room: float | None = None
) -> tuple[PoolState, list[RunningJob]] | None:
    """The pool and victims whose stopping makes room for the job now, losing the least work: victims are
    added least work lost first until the job fits, then any whose stopping the fit does not need is spared
    (highest priority, then most work lost, first), so no job is stopped that frees nothing the job uses.
    `room`: the A100-equivalents the job's tenant may still reclaim of its quota; in a pool where the job
    needs more, only strictly lower priorities are stopped (a reclaim never leaves the tenant borrowing, so
    the tenant it took from cannot reclaim the same room back: no preemption loop)."""
    by_pool: dict[str, list[RunningJob]] = {}
    for r in victims:
        by_pool.setdefault(r.pool_id, []).append(r)
    best: tuple[float, PoolState, list[RunningJob]] | None = None
    for pool in cycle.candidates(job):
        candidates = by_pool.get(pool.pool_id)
        if not candidates or not cycle.affordable(job, pool):
            continue  # never stop others' work for a job its tenant's budget cannot cover
        accel, cpus, _ = fit.demand_per_node(job, pool)
        if room is None or pool.compute(accel, cpus, job.request.nodes) > room + 1e-9:
            candidates = [r for r in candidates if r.stopping or r.priority < job.priority]
            if not candidates:
                continue
        chosen = _fewest_to_stop(cycle, job, pool, candidates)
        if chosen is None:
            continue
        lost = sum(_lost(r, cycle.now) for r in chosen if not r.stopping)  # a stopping job's work is lost already
        if best is None or lost < best[0]:
            best = (lost, pool, chosen)
    return (best[1], best[2]) if best else None


def _fewest_to_stop(
    cycle: Cycle, job: PendingJob, pool: PoolState, candidates: list[RunningJob]
) -> list[RunningJob] | None:
    """The victims in `pool` to stop for the job (none that the fit does not need), or None if stopping all
    of them would not make room, or if the job has room there without stopping any. The pool's free capacity is
    left as it was found."""
    accel, cpus, mem = fit.demand_per_node(job, pool)
    free = cycle.free[pool.pool_id]

    def fits() -> bool:
        return free.fit(job.request.nodes, accel, cpus, mem) is not None

    if fits():
        return None  # it has room here already and waits for another reason (it would delay a reservation)
    chosen: list[RunningJob] = []  # jobs already stopping first: their room costs nothing more
    for r in sorted(candidates, key=lambda r: (not r.stopping, r.priority, _lost(r, cycle.now), r.job_id)):
        chosen.append(r)
        free.give(r.node_indices, r.per_node, r.cpus, r.memory_gib)
        if fits():
            break
    else:
        for r in chosen:
            free.take(r.node_indices, r.per_node, r.cpus, r.memory_gib)
        return None
    for r in sorted(chosen, key=lambda r: (r.stopping, -r.priority, -_lost(r, cycle.now), r.job_id)):
        free.take(r.node_indices, r.per_node, r.cpus, r.memory_gib)
        if fits():
            chosen.remove(r)  # its room was not needed: it keeps running
        else:
            free.give(r.node_indices, r.per_node, r.cpus, r.memory_gib)
    for r in chosen:
        free.take(r.node_indices, r.per_node, r.cpus, r.memory_gib)
    return chosen


def stops(job: PendingJob, victims: list[RunningJob], starved: bool = False) -> tuple[list[Preemption], str]:
    """The preemptions that make the job's room (victims already stopping need none), and how the job's
    reason says so (`starved`: the room is made because the job has waited STARVE_AFTER_S)."""
    stopped = [v for v in victims if not v.stopping]
    if starved:
        hours = STARVE_AFTER_S / 3600
        reason = f"job {job.job_id} has waited over {hours:g} h and its tenant holds less than this job's"
    elif stopped and min(v.priority for v in stopped) < job.priority:
        reason = f"higher-priority job {job.job_id} needs the room"
    else:
        reason = f"job {job.job_id}'s tenant reclaims its quota"
    going = len(victims) - len(stopped)
    made = [f"{len(stopped)} preemptible job(s) stopped for it"] if stopped else []
    made += [f"{going} job(s) already stopping there"] if going else []
    return [Preemption(v.job_id, job.job_id, reason) for v in stopped], "room is being made: " + ", ".join(made)


def promise(
    cycle: Cycle, job: PendingJob, pool: PoolState, victims: list[RunningJob]
) -> tuple[PoolFree, list[RunningJob], tuple[int, ...], tuple[int, float, float]]:
    """Hand the job the room its victims make, for the rest of the preemption pass: later jobs may count on
    what is left of it, not on the free room it shares (undo with what this returns)."""
    free = cycle.free[pool.pool_id]
    for v in victims:
        free.give(v.node_indices, v.per_node, v.cpus, v.memory_gib)
    demand = fit.demand_per_node(job, pool)
    nodes = free.fit(job.request.nodes, *demand)
    assert nodes is not None  # the plan found room with exactly these victims
    free.take(nodes, *demand)
    return free, victims, nodes, demand


def _lost(r: RunningJob, now: datetime) -> float:
    return max(0.0, (now - r.started_at).total_seconds()) * max(1, r.per_node * len(r.node_indices))

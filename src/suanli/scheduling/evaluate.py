"""One cycle's working state, shared by every policy: free capacity per pool, each pool's timeline, and
memoised answers per job *shape* (jobs of one shape fit the same pools the same way), so a cycle over
100,000 waiting jobs costs little more than one over the distinct shapes among them."""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from suanli.scheduling import fit
from suanli.scheduling.capacity import Hold, PoolFree, Reservation, Timeline
from suanli.scheduling.decisions import CycleResult, Placement, PoolReason, Preemption, ReasonCode
from suanli.scheduling.snapshot import PendingJob, PoolState, RunningJob, Snapshot, budget_keys

Shapes = tuple[list[Hashable], dict[Hashable, PendingJob]]  # each job's shape key, and one job per shape


def by_shape(jobs: Sequence[PendingJob]) -> Shapes:
    """Each job's shape key, and one job standing for each shape (jobs of one shape fit, wait and are
    explained alike)."""
    keys = list(map(_SHAPE, jobs))
    return keys, dict(zip(keys, jobs, strict=True))


_SHAPE = operator.attrgetter("key")
_ID = operator.attrgetter("job_id")


class Cycle:
    def __init__(self, snapshot: Snapshot, now: datetime) -> None:
        self.now = now
        self.pools = {p.pool_id: p for p in snapshot.pools}
        self.free = {p.pool_id: PoolFree(p) for p in snapshot.pools}
        holds: dict[str, list[Hold]] = {}
        for r in snapshot.running:
            # a job asked to stop leaves within moments (its deadline still bounds the worst case)
            expected = now if r.stopping else r.expected_end if r.expected_end > now else _expected_end(r, now)
            deadline = r.deadline if r.deadline > now else now
            hold = Hold(r.node_indices, r.per_node, r.cpus, r.memory_gib, expected, deadline, r.job_id)
            holds.setdefault(r.pool_id, []).append(hold)
        self.timelines = {p.pool_id: Timeline(p, holds.get(p.pool_id, [])) for p in snapshot.pools}
        self.version = dict.fromkeys(self.pools, 0)
        self.placements: list[Placement] = []
        self.reservations: dict[str, tuple[str, Reservation]] = {}  # job -> (pool, reservation)
        # shape -> (candidate pools, the other pools' reasons, refused by every pool for good)
        self._candidates: dict[Hashable, tuple[list[PoolState], list[PoolReason], bool]] = {}
        self._ranked: dict[tuple[Hashable, str], list[PoolState]] = {}
        # shape -> pool -> (version, nodes)
        self._fits: dict[Hashable, dict[str, tuple[int, tuple[int, ...] | None]]] = {}
        self._backfill: dict[tuple[object, ...], list[datetime | None]] = {}  # -> [latest end ok, earliest not]
        self._stuck: set[Hashable] = set()  # shapes with no room in any candidate pool this cycle
        # shape -> (epoch, the shortest max_runtime with which no candidate pool could take a job of it now)
        self._refused: dict[Hashable, tuple[int, int]] = {}
        self.epoch = 0  # grows whenever any pool changes (a placement or a reservation)
        self.marks = 0  # grows whenever a shape is found stuck or refused
        self._starts: dict[tuple[object, ...], tuple[datetime, tuple[int, ...]] | None] = {}  # (start, nodes)
        self._busy: dict[tuple[object, ...], PoolReason] = {}
        self._fitting: dict[tuple[object, ...], int] = {}  # (pool, version, demand per node) -> nodes with room
        self.budgets = dict(snapshot.budgets)  # what each capped tenant has left, less this cycle's holds
        self.over_budget: dict[str, str] = {}  # job -> why its tenant's budget cannot cover it
        self.placed_compute: dict[str, float] = {}  # tenant -> A100-equivalents placed this cycle

    # ---------------------------------------------------------------------------- fit

    def candidates(self, job: PendingJob) -> list[PoolState]:
        """Pools that could take this job now but for capacity (shape, centre, status and price all fine)."""
        return self._evaluate(job)[0]

    def unfit(self, job: PendingJob) -> list[PoolReason]:
        """Reasons of the pools that cannot take this job for anything but capacity."""
        return self._evaluate(job)[1]

    def _evaluate(self, job: PendingJob) -> tuple[list[PoolState], list[PoolReason], bool]:
        key = job.key
        known = self._candidates.get(key)
        if known is None:
            ok, reasons = [], []
            for pool in self.pools.values():
                reason = fit.static_reason(job, pool) or fit.availability_reason(job, pool)
                if reason is None:
                    ok.append(pool)
                else:
                    reasons.append(reason)
            never = not ok and bool(reasons) and all(r.static for r in reasons)
            known = self._candidates[key] = (ok, reasons, never)
        return known

    def never_fits(self, job: PendingJob) -> bool:
        """True if every pool refuses the job by its shape or centre lists (it can never run as asked)."""
        return self._evaluate(job)[2]

    def ranked(self, job: PendingJob, order: str, key: Callable[[PoolState], object]) -> list[PoolState]:
        """The job's candidate pools sorted by `key` (memoised per shape and `order` name)."""
        memo = (job.key, order)
        pools = self._ranked.get(memo)
        if pools is None:
            pools = self._ranked[memo] = sorted(self.candidates(job), key=key)
        return pools

    def stuck(self, job: PendingJob) -> bool:
        """No candidate pool had room for this shape earlier in the cycle. Capacity only shrinks within a
        cycle, so later jobs of the shape need not be tried again."""
        return job.key in self._stuck

    def mark_stuck(self, job: PendingJob) -> None:
        if job.job_id in self.over_budget:
            return  # its tenant's budget stopped it, not the capacity: other tenants' jobs of the shape may fit
        self._stuck.add(job.key)
        self.marks += 1

    def refused(self, job: PendingJob) -> bool:
        """Since the city last changed, a job of this shape held no longer than this one found no pool it
        could start in now without delaying a reservation: neither can this one. (Fit depends on the shape
        only; backfill turns from yes to no only as the job holds its nodes longer.) Never with budgets, as
        those depend on the tenant."""
        return self._refused_at(job.key, job.max_runtime_s)

    def _refused_at(self, key: Hashable, seconds: int) -> bool:
        """A job of shape `key` held `seconds` is known, since the city last changed, to have no pool."""
        known = self._refused.get(key)
        return known is not None and known[0] == self.epoch and known[1] <= seconds and not self.budgets

    def mark_refused(self, job: PendingJob) -> None:
        """No candidate pool can start this job now (some had room, but not without delaying a reservation)."""
        if self.budgets:
            return
        known = self._refused.get(job.key)
        if known is None or known[0] != self.epoch or job.max_runtime_s < known[1]:
            self._refused[job.key] = (self.epoch, job.max_runtime_s)
            self.marks += 1

    def settled(self, one_each: Iterable[PendingJob], shortest: Mapping[Hashable, int]) -> bool:
        """No job of any of these shapes can start now: each shape is never run, has no room, or is refused
        for its shortest job (`shortest`: each shape's shortest max_runtime)."""
        for job in one_each:
            key = job.key
            if key not in self._stuck and not self.never_fits(job) and not self._refused_at(key, shortest[key]):
                return False
        return True

    def affordable(self, job: PendingJob, pool: PoolState) -> bool:
        """False if the worst-case cost of the job on this pool is more than its tenant, or its project, has left
        this month."""
        need: Decimal | None = None
        for key in budget_keys(job):
            left = self.budgets.get(key)
            if left is None:
                continue
            need = hold_amount(job, pool) if need is None else need
            if need > left:
                whose = f"project {job.project}'s" if key != job.tenant_id else "the tenant's"
                self.over_budget[job.job_id] = (
                    f"waiting: budget: the worst case (max_runtime x price) is ¥{need:.2f} on {pool.label}; "
                    f"¥{max(left, Decimal(0)):.2f} of {whose} monthly budget is left"
                )
                return False
        return True

    def fit_now(self, job: PendingJob, pool: PoolState) -> tuple[int, ...] | None:
        if self.budgets and not self.affordable(job, pool):
            return None
        fits = self._fits.get(job.key)
        if fits is None:
            fits = self._fits[job.key] = {}
        version = self.version[pool.pool_id]
        known = fits.get(pool.pool_id)
        if known is not None and known[0] == version:
            return known[1]  # the pool has not changed since a job of this shape last asked
        accel, cpus, mem = job.request.demand_on(pool.model)
        nodes = self.free[pool.pool_id].fit(job.request.nodes, accel, cpus, mem)
        fits[pool.pool_id] = (version, nodes)
        return nodes

    # ---------------------------------------------------------------------------- time

    def runtime(self, job: PendingJob, pool: PoolState) -> float:
        """Expected seconds on this pool's model (the estimate; the max_runtime when there is none)."""
        return job.runtimes.get(pool.model, job.max_runtime_s) if job.runtimes else float(job.max_runtime_s)

    def predicted_start(self, job: PendingJob, pool: PoolState) -> datetime | None:
        """When the job would start in this pool, by running jobs' expected ends (memoised until the pool
        changes: jobs of one demand and runtime share the answer)."""
        accel, cpus, mem = fit.demand_per_node(job, pool)
        runtime = self.runtime(job, pool)
        timeline = self.timelines[pool.pool_id]
        key = self._start_key(job, pool, runtime)
        if key not in self._starts:
            self._starts[key] = timeline.earliest_start(
                self.free[pool.pool_id], job.request.nodes, accel, cpus, mem, runtime, self.now, expected=True
            )
        found = self._starts[key]
        return found[0] if found else None

    def _start_key(self, job: PendingJob, pool: PoolState, runtime: float | None) -> tuple[object, ...]:
        """What a predicted start depends on: the pool as it is now, the room asked for and, only where the
        pool has reservations to respect, how long the job holds it (`runtime` None: a pool without any)."""
        accel, cpus, mem = fit.demand_per_node(job, pool)
        held = round(runtime) if runtime is not None and self.timelines[pool.pool_id].reservations else -1
        return (pool.pool_id, self.version[pool.pool_id], job.request.nodes, accel, cpus, mem, held)

    def reserve(self, job: PendingJob, pool: PoolState, *, expected: bool = False) -> Reservation | None:
        if self.budgets and not self.affordable(job, pool):
            return None  # no capacity is promised to a job its tenant's budget cannot cover
        accel, cpus, mem = fit.demand_per_node(job, pool)
        timeline = self.timelines[pool.pool_id]
        # without reservations in the pool, the start and nodes do not depend on how long it holds them
        known = self._starts.get(self._start_key(job, pool, None)) if expected and not timeline.reservations else None
        reservation = timeline.reserve(
            job.job_id,
            self.free[pool.pool_id],
            job.request.nodes,
            accel,
            cpus,
            mem,
            float(job.max_runtime_s),
            self.now,
            expected=expected,
            found=known,
        )
        if reservation is not None:
            self.reservations[job.job_id] = (pool.pool_id, reservation)
            self.version[pool.pool_id] += 1
            self.epoch += 1
        return reservation

    def backfill_ok(self, job: PendingJob, pool: PoolState, nodes: tuple[int, ...]) -> bool:
        """May the job start on these nodes now without delaying a reservation (held until its max_runtime)?
        Memoised until the pool changes: the answer for the same room only turns from yes to no as the job
        holds it longer, so the latest end found harmless and the earliest found harmful answer most asks."""
        timeline = self.timelines[pool.pool_id]
        if not timeline.reservations:
            return True  # nothing to delay
        accel, cpus, mem = fit.demand_per_node(job, pool)
        end = self.now + timedelta(seconds=job.max_runtime_s)
        key = (pool.pool_id, self.version[pool.pool_id], nodes, accel, cpus, mem)
        bounds = self._backfill.get(key)
        if bounds is None:
            bounds = self._backfill[key] = [None, None]
        elif bounds[0] is not None and end <= bounds[0]:
            return True
        elif bounds[1] is not None and end >= bounds[1]:
            return False
        ok = timeline.backfill_ok(nodes, end, accel, cpus, mem, self.now)
        if ok:
            bounds[0] = end if bounds[0] is None else max(bounds[0], end)
        else:
            bounds[1] = end if bounds[1] is None else min(bounds[1], end)
        return ok

    # ---------------------------------------------------------------------------- placing

    def place(self, job: PendingJob, pool: PoolState, nodes: tuple[int, ...], explanation: str) -> Placement:
        accel, cpus, mem = fit.demand_per_node(job, pool)
        self.free[pool.pool_id].take(nodes, accel, cpus, mem)
        end = self.now + timedelta(seconds=job.max_runtime_s)
        self.timelines[pool.pool_id].charge(nodes, end, accel, cpus, mem)
        self.timelines[pool.pool_id].running.append(
            Hold(nodes, accel, cpus, mem, self.now + timedelta(seconds=self.runtime(job, pool)), end, job.job_id)
        )
        self.version[pool.pool_id] += 1
        self.epoch += 1
        price = pool.price_for(job.preemptible)
        assert price is not None
        hold = hold_amount(job, pool)
        for key in budget_keys(job):
            if key in self.budgets:
                self.budgets[key] -= hold
        self.over_budget.pop(job.job_id, None)
        self.count_compute(job, pool)
        placement = Placement(
            job.job_id,
            pool.pool_id,
            pool.centre_id,
            pool.model,
            accel,
            cpus,
            mem,
            nodes,
            price,
            pool.price_card_id,
            explanation,
            hold,
        )
        self.placements.append(placement)
        return placement

    def count_compute(self, job: PendingJob, pool: PoolState) -> None:
        """Count the A100-equivalents the job will hold in `pool` against its tenant for the rest of the cycle
        (placed, or room being made for it by preemption)."""
        accel, cpus, _ = fit.demand_per_node(job, pool)
        tenant = job.tenant_id
        self.placed_compute[tenant] = self.placed_compute.get(tenant, 0.0) + pool.compute(
            accel, cpus, job.request.nodes
        )

    # ---------------------------------------------------------------------------- explaining

    def reasons(self, job: PendingJob, lead: dict[str, PoolReason] | None = None) -> tuple[PoolReason, ...]:
        """A reason per pool: capacity (or `lead`, e.g. a reservation) for candidates, the rest as is."""
        ok, unfit, _ = self._evaluate(job)
        lead = lead or {}
        out = []
        for pool in ok:
            reason = lead.get(pool.pool_id)
            if reason is None:
                # the same for every job that asks this pool for the same room
                accel, cpus, mem = fit.demand_per_node(job, pool)
                key = (pool.pool_id, self.version[pool.pool_id], job.request.nodes, accel, cpus, mem)
                reason = self._busy.get(key)
                if reason is None:
                    free = self.free[pool.pool_id]
                    room = (pool.pool_id, self.version[pool.pool_id], accel, cpus, mem)  # whatever the node count
                    fitting = self._fitting.get(room)
                    if fitting is None:
                        fitting = self._fitting[room] = free.count_fitting(accel, cpus, mem)
                    reason = self._busy[key] = fit.capacity_reason(job, pool, fitting, len(free.accel))
            out.append(reason)
        return tuple(out) + tuple(unfit)

    def explain(
        self,
        waiting: Iterable[PendingJob],
        lead: Mapping[str, dict[str, PoolReason]] | None = None,
    ) -> dict[str, tuple[PoolReason, ...]]:
        """Reasons per waiting job: computed once per shape (after the cycle's placements); jobs with a
        `lead` (their own reason for some pools, e.g. a reservation) get theirs."""
        lead = lead or {}
        waiting = list(waiting)
        keys, one_each = by_shape(waiting)
        memo = {key: self.reasons(job) for key, job in one_each.items()}
        ids = list(map(_ID, waiting))
        out = dict(zip(ids, map(memo.__getitem__, keys), strict=True))
        if not lead:
            return out
        by_id = dict(zip(ids, waiting, strict=True))
        shared: dict[tuple[Hashable, int], tuple[PoolReason, ...]] = {}  # leads shared by jobs: explained once
        for job_id, own in lead.items():  # a few jobs (the head's reservations), not the whole queue
            job = by_id.get(job_id)
            if job is not None and own:
                key = (job.key, id(own))
                reasons = shared.get(key)
                if reasons is None:
                    reasons = shared[key] = self.reasons(job, own)
                out[job.job_id] = reasons
        return out

    def result(
        self,
        waiting: dict[str, tuple[PoolReason, ...]],
        rejected: dict[str, tuple[PoolReason, ...]],
        preemptions: Sequence[Preemption] = (),
        notes: dict[str, str] | None = None,
        revisit_at: datetime | None = None,
    ) -> CycleResult:
        notes = dict(notes or {})
        for job_id, why in self.over_budget.items():
            if job_id in waiting and job_id not in notes:
                notes[job_id] = why
        reserved = {j: pool for j, (pool, _) in self.reservations.items() if j in waiting}
        starts = {j: r.start for j, (_, r) in self.reservations.items() if j in waiting}
        return CycleResult(
            tuple(self.placements), waiting, rejected, tuple(preemptions), notes, reserved, starts, revisit_at
        )


OVERRUN_FACTOR = 0.5  # a job past its expected end is expected to run this share of its time so far again


def _expected_end(r: RunningJob, now: datetime) -> datetime:
    """When a running job should end: its estimate, or, once it has run past that, half as long again as it
    has run so far (a job that has overrun tends to run on; never past its deadline)."""
    if r.expected_end > now:
        return r.expected_end
    elapsed = max(60.0, (now - r.started_at).total_seconds())
    return min(now + timedelta(seconds=OVERRUN_FACTOR * elapsed), max(r.deadline, now))


def hold_amount(job: PendingJob, pool: PoolState) -> Decimal:
    """The most the job can cost on this pool: its max runtime x the price x the units it holds
    (accelerators, or cores on a CPU pool), in whole fen rounded up."""
    price = pool.price_for(job.preemptible) or Decimal(0)
    per_node = job.request.cpus if pool.is_cpu else fit.demand_per_node(job, pool)[0]
    units = Decimal(repr(float(per_node))) * job.request.nodes
    return (price * units * job.max_runtime_s / 3600).quantize(Decimal("0.01"), rounding=ROUND_CEILING)


def price_key(job: PendingJob, pool: PoolState) -> Decimal:
    price = pool.price_for(job.preemptible)
    return price if price is not None else Decimal("Infinity")


__all__ = ["Cycle", "ReasonCode", "Shapes", "by_shape", "price_key"]

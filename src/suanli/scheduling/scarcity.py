"""Room that only some waiting jobs can use.

A job that can run in several pools should not take the last room of a pool that other waiting jobs need
because they can run nowhere else (a pod that fits only the H800s, code that builds only for CANN). Each cycle
counts, per pool, the units (accelerators; cores in CPU pools) asked for by waiting jobs whose only candidate
is that pool: its *captive demand*. A pool is *contested* for a flexible job when taking the job's room would
leave less free than that demand; the job then prefers its other pools, and takes a contested one only when
it has nothing else.

Across cycles, `pressure` reads the scheduler cache's recent (decayed) demand per model from jobs that accept
at most RESTRICTED models, relative to the model's capacity: a model specialised work has been asking for
weighs as dearer when a flexible job chooses among equally fast pools, so long-running flexible work does not
settle there before that work arrives.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from suanli.scheduling import fit
from suanli.scheduling.evaluate import Cycle, shape_of
from suanli.scheduling.snapshot import PendingJob, PoolState, Snapshot

RESTRICTED = 2  # a job that accepts at most this many accelerator models adds to their recent demand


def units(job: PendingJob, pool: PoolState) -> float:
    """What the job takes from the pool: accelerators, or cores in a CPU pool, over all its nodes."""
    accel, cpus, _ = fit.demand_per_node(job, pool)
    return (cpus if pool.is_cpu else accel) * job.request.nodes


class Scarcity:
    def __init__(self, cycle: Cycle, jobs: Sequence[PendingJob]) -> None:
        self.cycle = cycle
        self.captive: dict[str, float] = {}
        self.free: dict[str, float] = {}
        self._only: dict[Hashable, str | None] = {}
        first: dict[Hashable, PendingJob] = {}
        count: dict[Hashable, int] = {}
        for job in jobs:
            key = shape_of(job)
            if key in count:
                count[key] += 1
            else:
                first[key], count[key] = job, 1
        self.shapes = len(count)  # distinct shapes among the jobs
        for key, job in first.items():
            pool = self._sole_pool(job)
            if pool is not None:
                self.captive[pool.pool_id] = self.captive.get(pool.pool_id, 0.0) + count[key] * units(job, pool)
        for pool_id in self.captive:
            free = cycle.free[pool_id]
            self.free[pool_id] = float(sum(free.cpus) if free.cpu_pool else sum(free.accel))

    def _sole_pool(self, job: PendingJob) -> PoolState | None:
        key = shape_of(job)
        if key not in self._only:
            pools = self.cycle.candidates(job)
            self._only[key] = pools[0].pool_id if len(pools) == 1 else None
        only = self._only[key]
        return self.cycle.pools[only] if only is not None else None

    def contested(self, job: PendingJob, pool: PoolState) -> bool:
        """Taking this job's room here would leave less than the jobs that can run only here still need."""
        need = self.captive.get(pool.pool_id, 0.0)
        if need <= 0 or self._sole_pool(job) is not None:
            return False
        return self.free[pool.pool_id] - units(job, pool) < need

    def placed(self, job: PendingJob, pool: PoolState) -> None:
        """The job took room in the pool this cycle."""
        if pool.pool_id not in self.captive:
            return
        taken = units(job, pool)
        self.free[pool.pool_id] -= taken
        if self._sole_pool(job) is not None:
            self.captive[pool.pool_id] -= taken


def pressure(snapshot: Snapshot) -> dict[str, float]:
    """Recent demand on each model relative to its capacity, scaled so the most pressed model is 1."""
    capacity: dict[str, float] = {}
    for pool in snapshot.pools:
        capacity[pool.model] = capacity.get(pool.model, 0.0) + (
            len(pool.free) if pool.is_cpu else len(pool.free) * pool.accelerators_per_node
        )
    ratio = {m: snapshot.demand.get(m, 0.0) / c for m, c in capacity.items() if c > 0}
    top = max(ratio.values(), default=0.0)
    return {m: r / top for m, r in ratio.items()} if top > 0 else {}

"""`fifo`: first come, first served. Jobs start in submission order; a job that cannot start holds back
every later job on the pools it could use (no overtaking), and takes the first pool, in the city's order,
that has room. No priorities, no backfill, no fairness, no notion of price or speed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from suanli.scheduling.decisions import CycleResult, PoolReason, ReasonCode
from suanli.scheduling.evaluate import Cycle
from suanli.scheduling.policies import register
from suanli.scheduling.snapshot import PendingJob, PoolState, Snapshot


class Fifo:
    name = "fifo"

    def decide(self, snapshot: Snapshot, pending: Sequence[PendingJob], now: datetime) -> CycleResult:
        cycle = Cycle(snapshot, now)
        waiting: list[PendingJob] = []
        rejected: dict[str, tuple[PoolReason, ...]] = {}
        held: dict[str, str] = {}  # pool -> the earliest waiting job that could use it
        lead: dict[str, dict[str, PoolReason]] = {}
        shared: dict[tuple[object, int], dict[str, PoolReason]] = {}  # one lead per shape while `held` stands
        for job in sorted(pending, key=lambda j: (j.submitted_at, j.job_id)):
            if cycle.never_fits(job):
                rejected[job.job_id] = cycle.reasons(job)
                continue
            pools = cycle.candidates(job)
            open_pools = [p for p in pools if p.pool_id not in held]
            if open_pools and not cycle.stuck(job) and self._start(cycle, job, open_pools, len(pools)):
                continue
            waiting.append(job)
            if job.job_id in cycle.over_budget:
                continue  # it waits for its tenant's budget, not for room: it holds no place in the queue
            key = (job.shape or job.job_id, len(held))
            if key not in shared:
                shared[key] = {
                    p.pool_id: PoolReason(
                        p.pool_id,
                        p.centre_name,
                        p.pool_name,
                        ReasonCode.LOWER_RANK,
                        f"first come, first served: waits behind job {held[p.pool_id]}",
                    )
                    for p in pools
                    if p.pool_id in held
                }
            lead[job.job_id] = shared[key]
            for pool in pools:
                held.setdefault(pool.pool_id, job.job_id)
        return cycle.result(cycle.explain(waiting, lead), rejected)

    @staticmethod
    def _start(cycle: Cycle, job: PendingJob, pools: Sequence[PoolState], candidates: int) -> bool:
        for pool in pools:
            nodes = cycle.fit_now(job, pool)
            if nodes is not None:
                cycle.place(job, pool, nodes, "first come, first served: the first pool with room")
                return True
        if len(pools) == candidates:
            cycle.mark_stuck(job)  # tried every pool it could use
        return False


register(Fifo.name)(Fifo)

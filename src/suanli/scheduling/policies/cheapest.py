"""`cheapest`: SkyPilot's way. Each job, in submission order, goes to the cheapest pool that can take it now;
when that pool is full it fails over to the next cheapest; with no room anywhere it waits and is tried again
next cycle. No queue discipline, no reservations, no fairness, no notion of speed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from suanli.domain.money import format_price
from suanli.scheduling.decisions import CycleResult, PoolReason
from suanli.scheduling.evaluate import Cycle, price_key
from suanli.scheduling.policies import register
from suanli.scheduling.snapshot import PendingJob, Snapshot


class Cheapest:
    name = "cheapest"

    def decide(self, snapshot: Snapshot, pending: Sequence[PendingJob], now: datetime) -> CycleResult:
        cycle = Cycle(snapshot, now)
        waiting: list[PendingJob] = []
        rejected: dict[str, tuple[PoolReason, ...]] = {}
        for job in sorted(pending, key=lambda j: (j.submitted_at, j.job_id)):
            if cycle.stuck(job):
                waiting.append(job)
                continue
            if cycle.never_fits(job):
                rejected[job.job_id] = cycle.reasons(job)
                continue
            pools = cycle.ranked(job, "price", lambda p, j=job: (price_key(j, p), p.pool_id))
            for rank, pool in enumerate(pools):
                nodes = cycle.fit_now(job, pool)
                if nodes is not None:
                    unit = "core-hour" if pool.is_cpu else "accelerator-hour"
                    price = format_price(pool.price_for(job.preemptible))  # type: ignore[arg-type]
                    why = "cheapest" if rank == 0 else f"cheapest with room (the {rank} cheaper pool(s) are full)"
                    cycle.place(job, pool, nodes, f"{why} at ¥{price}/{unit}")
                    break
            else:
                waiting.append(job)
                cycle.mark_stuck(job)
        return cycle.result(cycle.explain(waiting), rejected)


register(Cheapest.name)(Cheapest)

"""`fit-price`: the first policy. Jobs in priority order; each goes to the cheapest pool it fits now.

Gang-aware (every node of a multi-node job in one pool at once, or none). It has no reservations, no
backfill and no fairness; the strong `suanli` policy adds those. Kept as a simple, readable baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from suanli.domain.money import format_price
from suanli.scheduling import fit
from suanli.scheduling.decisions import CycleResult, Placement, PoolReason, ReasonCode
from suanli.scheduling.policies import register
from suanli.scheduling.snapshot import NodeFree, PendingJob, PoolState, Snapshot


class FitPrice:
    name = "fit-price"

    def decide(self, snapshot: Snapshot, pending: Sequence[PendingJob], now: datetime) -> CycleResult:
        free = {p.pool_id: [NodeFree(n.accelerators, n.cpus, n.memory_gib) for n in p.free] for p in snapshot.pools}
        placements: list[Placement] = []
        waiting: dict[str, tuple[PoolReason, ...]] = {}
        rejected: dict[str, tuple[PoolReason, ...]] = {}
        for job in sorted(pending, key=lambda j: (-j.priority, j.submitted_at, j.job_id)):
            reasons: list[PoolReason] = []
            candidates: list[tuple[Decimal, str, PoolState, tuple[int, ...]]] = []
            for pool in snapshot.pools:
                reason = fit.static_reason(job, pool) or fit.availability_reason(job, pool)
                if reason is not None:
                    reasons.append(reason)
                    continue
                accel, cpus, memory = fit.demand_per_node(job, pool)
                nodes = fit.choose_nodes(free[pool.pool_id], job.request.nodes, accel, cpus, memory)
                if nodes is None:
                    reasons.append(fit.capacity_reason(job, pool, free[pool.pool_id]))
                    continue
                price = pool.price_for(job.preemptible)
                assert price is not None  # availability_reason refuses pools without a price
                candidates.append((price, pool.pool_id, pool, nodes))
            if candidates:
                candidates.sort(key=lambda c: (c[0], c[1]))
                price, _, pool, nodes = candidates[0]
                accel, cpus, memory = fit.demand_per_node(job, pool)
                fit.take(free[pool.pool_id], nodes, accel, cpus, memory)
                placements.append(_placement(job, pool, nodes, price, len(candidates), accel))
            elif reasons and all(r.static for r in reasons):
                rejected[job.job_id] = tuple(reasons)
            else:
                waiting[job.job_id] = tuple(reasons)
        return CycleResult(tuple(placements), waiting, rejected)


def _placement(
    job: PendingJob, pool: PoolState, nodes: tuple[int, ...], price: Decimal, options: int, accel: int
) -> Placement:
    unit = "core-hour" if pool.is_cpu else "accelerator-hour"
    others = f" among {options} pools with room" if options > 1 else ", the only pool with room"
    return Placement(
        job_id=job.job_id,
        pool_id=pool.pool_id,
        centre_id=pool.centre_id,
        model=pool.model,
        per_node=accel,
        cpus_per_node=job.request.cpus,
        memory_gib_per_node=job.request.memory_gib,
        node_indices=nodes,
        price=price,
        price_card_id=pool.price_card_id,
        explanation=f"cheapest at ¥{format_price(price)}/{unit}{others}",
    )


register(FitPrice.name)(FitPrice)

__all__ = ["FitPrice", "ReasonCode"]

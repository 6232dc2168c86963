"""`slurm`: Slurm's default way, across the city's pools as partitions.

- Multifactor priority (sched/priority/multifactor): a QOS-like factor from the job's priority, age (up to
  PriorityMaxAge = 7 days), the tenant's classic fair-share factor 2^(-U/S), and job size (larger first,
  Slurm's default PriorityFavorSmall=NO), with weights a site typically sets.
- Jobs start in priority order in the first pool (partition, in the city's order) with room.
- EASY backfill: the first job that cannot start gets a reservation in the pool where it would start
  earliest, computed from running jobs' time limits; later jobs start only if, by their own time limits,
  they cannot delay it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from suanli.scheduling import fit
from suanli.scheduling.decisions import CycleResult, PoolReason, ReasonCode
from suanli.scheduling.evaluate import Cycle
from suanli.scheduling.fairness import fairshare_factor, normalised
from suanli.scheduling.policies import register
from suanli.scheduling.snapshot import PendingJob, PoolState, Snapshot

MAX_AGE_S = 7 * 86400


@dataclass(frozen=True, slots=True)
class Priority:
    """A job's multifactor priority, with each factor kept so it can be shown (as `sprio` does)."""

    total: float
    breakdown: dict[str, float]


class Slurm:
    name = "slurm"
    weights = {"qos": 100_000.0, "age": 1_000.0, "fairshare": 10_000.0, "jobsize": 1_000.0}

    def priority(
        self, job: PendingJob, now: datetime, usage: dict[str, float], weight: dict[str, float], largest: int
    ) -> Priority:
        size = job.request.nodes * max(1, max((o.per_node for o in job.request.options), default=1))
        factors = {
            "qos": job.priority / 100,
            "age": min(1.0, max(0.0, (now - job.submitted_at).total_seconds()) / MAX_AGE_S),
            "fairshare": fairshare_factor(job.tenant_id, usage, weight),
            "jobsize": min(1.0, size / largest) if largest else 0.0,
        }
        breakdown = {k: self.weights[k] * v for k, v in factors.items()}
        return Priority(sum(breakdown.values()), breakdown)

    def decide(self, snapshot: Snapshot, pending: Sequence[PendingJob], now: datetime) -> CycleResult:
        cycle = Cycle(snapshot, now)
        usage, weight = normalised(snapshot.tenants)
        largest = max((p.node_count * max(p.accelerators_per_node, 1) for p in snapshot.pools), default=1)
        ranked = sorted(
            pending, key=lambda j: (-self.priority(j, now, usage, weight, largest).total, j.submitted_at, j.job_id)
        )
        waiting: list[PendingJob] = []
        rejected: dict[str, tuple[PoolReason, ...]] = {}
        lead: dict[str, dict[str, PoolReason]] = {}
        reserved: tuple[str, PoolState] | None = None  # (job, pool): EASY keeps one reservation
        for job in ranked:
            if cycle.never_fits(job):
                rejected[job.job_id] = cycle.reasons(job)
                continue
            backfill = reserved is not None
            if not cycle.stuck(job) and not (backfill and cycle.refused(job)) and self._start(cycle, job, backfill):
                continue
            waiting.append(job)
            if reserved is None:
                reserved = self._reserve(cycle, job, lead)
            elif reserved is not None and not cycle.stuck(job):
                held_job, pool = reserved
                lead[job.job_id] = {
                    pool.pool_id: PoolReason(
                        pool.pool_id,
                        pool.centre_name,
                        pool.pool_name,
                        ReasonCode.LOWER_RANK,
                        f"room now would delay job {held_job}, reserved here (EASY backfill)",
                    )
                }
        return cycle.result(cycle.explain(waiting, lead), rejected)

    @staticmethod
    def _start(cycle: Cycle, job: PendingJob, backfill: bool) -> bool:
        room = False
        for pool in cycle.candidates(job):
            nodes = cycle.fit_now(job, pool)
            if nodes is None:
                continue
            room = True
            if backfill and not cycle.backfill_ok(job, pool, nodes):
                continue
            how = "backfilled: ends before the reserved job needs the nodes" if backfill else "highest priority"
            cycle.place(job, pool, nodes, f"{how}; first partition with room")
            return True
        if not room:
            cycle.mark_stuck(job)
        elif backfill:
            cycle.mark_refused(job)
        return False

    @staticmethod
    def _reserve(cycle: Cycle, job: PendingJob, lead: dict[str, dict[str, PoolReason]]) -> tuple[str, PoolState] | None:
        """Reserve the pool where the job would start earliest by running jobs' time limits."""
        best: tuple[datetime, PoolState] | None = None
        for pool in cycle.candidates(job):
            accel, cpus, mem = fit.demand_per_node(job, pool)
            found = cycle.timelines[pool.pool_id].earliest_start(
                cycle.free[pool.pool_id],
                job.request.nodes,
                accel,
                cpus,
                mem,
                float(job.max_runtime_s),
                cycle.now,
                expected=False,
            )
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], pool)
        if best is None:
            return None
        reservation = cycle.reserve(job, best[1])
        if reservation is None:
            return None
        hours = (reservation.start - cycle.now) / timedelta(hours=1)
        pool = best[1]
        lead[job.job_id] = {
            pool.pool_id: PoolReason(
                pool.pool_id,
                pool.centre_name,
                pool.pool_name,
                ReasonCode.RESERVED,
                f"reserved: starts by {reservation.start:%Y-%m-%d %H:%M} UTC (in {hours:.1f} h) as running jobs reach "
                "their time limits",
            )
        }
        return job.job_id, pool


register(Slurm.name)(Slurm)

"""The scheduler's cache: the leader's model of what waits and what holds capacity where.

Kept in step with the store through the job event feed, so a cycle costs O(changes) rather than O(jobs):
every job state change writes an event, and each refresh reloads only the jobs named by new events. Where the
store may commit event ids out of order (PostgreSQL), each refresh re-reads the store's `reorder_window` of
recent ids and skips those already seen; a full rebuild every `resync` heals anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from suanli.domain.accelerators import Catalogue
from suanli.domain.errors import InvalidInput
from suanli.domain.jobs.model import Attempt, Job
from suanli.domain.jobs.request import resolve_request
from suanli.domain.jobs.states import HOLDS_CAPACITY, PENDING, JobState
from suanli.ports import UnitOfWork
from suanli.scheduling.snapshot import NodeFree, PendingJob, PoolState, RunningJob, Snapshot


@dataclass(slots=True)
class Alloc:
    """Capacity held by one attempt."""

    attempt_id: str
    job_id: str
    centre_id: str
    state: JobState
    placed_at: datetime
    running: RunningJob


def pending_job(job: Job, catalogue: Catalogue) -> PendingJob:
    """The scheduler's view of a waiting job (InvalidInput if its models have left the catalogue)."""
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
        shape=job.shape,
        name=job.name,
        max_runtime_s=spec.max_runtime,
    )


def running_job(job: Job, attempt: Attempt) -> RunningJob:
    started = attempt.started_at or attempt.leased_at or attempt.placed_at
    return RunningJob(
        job_id=job.id,
        tenant_id=job.tenant_id,
        pool_id=attempt.pool_id,
        node_indices=attempt.node_indices,
        per_node=attempt.per_node,
        cpus=attempt.cpus_per_node,
        memory_gib=attempt.memory_gib_per_node,
        priority=job.priority,
        preemptible=job.spec.preemptible,
        started_at=started,
        expected_end=started + timedelta(seconds=job.spec.max_runtime),
        deadline=started + timedelta(seconds=job.spec.max_runtime),
    )


class SchedulerCache:
    def __init__(self, resync: timedelta = timedelta(seconds=60)) -> None:
        self.resync = resync
        self.synced_at: datetime | None = None
        self.cursor = 0
        self.seen: set[int] = set()  # event ids in the overlap window already applied
        self.pending: dict[str, PendingJob] = {}
        self.broken: dict[str, str] = {}  # pending jobs whose resources no longer resolve, with why
        self.allocs: dict[str, Alloc] = {}  # by job id
        self.placed: set[str] = set()  # job ids whose attempt is still `placed` (placement timeout)
        self.used: dict[str, dict[int, list[float]]] = {}  # pool id -> node -> [accelerators, cpus, memory]
        self.full_rebuilds = 0

    # ---------------------------------------------------------------------------- keeping in step

    def refresh(self, uow: UnitOfWork, catalogue: Catalogue, now: datetime) -> None:
        if self.synced_at is None or now - self.synced_at >= self.resync:
            self.rebuild(uow, catalogue, now)
            return
        events = uow.jobs.changes_since(max(0, self.cursor - uow.jobs.reorder_window))
        fresh = [(eid, job_id) for eid, job_id in events if eid not in self.seen]
        for job_id in dict.fromkeys(job_id for _, job_id in fresh):
            self.sync_job(uow, job_id, catalogue)
        for eid, _ in fresh:
            self.seen.add(eid)
            self.cursor = max(self.cursor, eid)
        if len(self.seen) > 4 * max(uow.jobs.reorder_window, 100):
            floor = self.cursor - uow.jobs.reorder_window
            self.seen = {e for e in self.seen if e > floor}

    def rebuild(self, uow: UnitOfWork, catalogue: Catalogue, now: datetime) -> None:
        position = uow.jobs.feed_position()
        self.pending.clear()
        self.broken.clear()
        self.allocs.clear()
        self.placed.clear()
        self.used.clear()
        attempts = {a.id: a for a in uow.attempts.in_states(sorted(HOLDS_CAPACITY))}
        for job in uow.jobs.in_states(sorted(PENDING | HOLDS_CAPACITY)):
            self._admit(job, attempts.get(job.current_attempt_id or ""), catalogue)
        self.cursor = position
        self.seen = set()
        self.synced_at = now
        self.full_rebuilds += 1

    def sync_job(self, uow: UnitOfWork, job_id: str, catalogue: Catalogue) -> None:
        """Reload one job after a change: it may have started waiting, taken capacity, or left both."""
        self._forget(job_id)
        job = uow.jobs.get(job_id)
        if job is None or (job.state not in PENDING and job.state not in HOLDS_CAPACITY):
            return
        attempt = uow.attempts.get(job.current_attempt_id or "") if job.state in HOLDS_CAPACITY else None
        self._admit(job, attempt, catalogue)

    def _admit(self, job: Job, attempt: Attempt | None, catalogue: Catalogue) -> None:
        if job.state in PENDING:
            try:
                self.pending[job.id] = pending_job(job, catalogue)
            except InvalidInput as exc:
                self.broken[job.id] = exc.detail
            return
        if attempt is None or attempt.job_id != job.id:
            return
        alloc = Alloc(attempt.id, job.id, attempt.centre_id, job.state, attempt.placed_at, running_job(job, attempt))
        self.allocs[job.id] = alloc
        if job.state is JobState.PLACED:
            self.placed.add(job.id)
        self._count(alloc.running, +1)

    def _forget(self, job_id: str) -> None:
        self.pending.pop(job_id, None)
        self.broken.pop(job_id, None)
        self.placed.discard(job_id)
        alloc = self.allocs.pop(job_id, None)
        if alloc is not None:
            self._count(alloc.running, -1)

    def _count(self, r: RunningJob, sign: int) -> None:
        nodes = self.used.setdefault(r.pool_id, {})
        for node in r.node_indices:
            used = nodes.setdefault(node, [0.0, 0.0, 0.0])
            used[0] += sign * r.per_node
            used[1] += sign * r.cpus
            used[2] += sign * r.memory_gib
            if not any(abs(x) > 1e-9 for x in used):
                del nodes[node]

    # ---------------------------------------------------------------------------- what decide sees

    def snapshot(self, pools: list[PoolState]) -> Snapshot:
        """The pools (templates from the store) with each node's free resources, and what runs."""
        filled = []
        for pool in pools:
            used = self.used.get(pool.pool_id, {})
            up = len(pool.free)  # the template lists one (full) node per node up
            free = tuple(
                NodeFree(
                    pool.accelerators_per_node - int(u[0]), pool.cpus_per_node - u[1], pool.memory_gib_per_node - u[2]
                )
                if (u := used.get(i))
                else NodeFree(pool.accelerators_per_node, pool.cpus_per_node, pool.memory_gib_per_node)
                for i in range(up)
            )
            filled.append(replace(pool, free=free))
        return Snapshot(tuple(filled), tuple(a.running for a in self.allocs.values()))

    def allocs_where(self, keep: Callable[[Alloc], bool]) -> list[Alloc]:
        return [a for a in self.allocs.values() if keep(a)]

"""The scheduler's cache: the leader's model of what waits and what holds capacity where, what each tenant
has used, and how long jobs of each name ran.

Kept in step with the store through the job event feed, so a cycle costs O(changes) rather than O(jobs):
every job state change writes an event, and each refresh reloads only the jobs named by new events. Where the
store may commit event ids out of order (PostgreSQL), each refresh re-reads the store's `reorder_window` of
recent ids and skips those already seen; a full rebuild every `resync` heals anything else. Usage and runtime
history live across rebuilds (they start empty when a scheduler starts).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from suanli.domain.accelerators import Catalogue
from suanli.domain.errors import InvalidInput
from suanli.domain.jobs.model import Attempt, Job
from suanli.domain.jobs.request import resolve_request
from suanli.domain.jobs.spec import JobKind
from suanli.domain.jobs.states import HOLDS_CAPACITY, PENDING, JobState
from suanli.domain.tenants import Tenant
from suanli.ports import UnitOfWork
from suanli.scheduling.estimates import RuntimeHistory, estimate
from suanli.scheduling.fairness import REFERENCE_TFLOPS, TenantShare, decay, standard_compute
from suanli.scheduling.scarcity import restricted_demand
from suanli.scheduling.snapshot import NodeFree, PendingJob, PoolState, RunningJob, Snapshot


@dataclass(slots=True)
class Alloc:
    """Capacity held by one attempt, and its rate of standard compute (A100-equivalents)."""

    attempt_id: str
    job_id: str
    centre_id: str
    state: JobState
    placed_at: datetime
    running: RunningJob
    rate: float


class SchedulerCache:
    def __init__(self, resync: timedelta = timedelta(seconds=60), half_life: timedelta = timedelta(days=7)) -> None:
        self.resync = resync
        self.half_life_s = half_life.total_seconds()
        self.synced_at: datetime | None = None
        self.cursor = 0
        self.seen: set[int] = set()  # event ids in the reorder window already applied
        self.pending: dict[str, PendingJob] = {}
        self.broken: dict[str, str] = {}  # pending jobs whose resources no longer resolve, with why
        self.allocs: dict[str, Alloc] = {}  # by job id
        self.placed: set[str] = set()  # job ids whose attempt is still `placed` (placement timeout)
        self.used: dict[str, dict[int, list[float]]] = {}  # pool id -> node -> [accelerators, cpus, memory]
        self.tenants: dict[str, Tenant] = {}
        self.usage: dict[str, tuple[float, datetime]] = {}  # tenant -> (decayed usage, as of)
        self.history = RuntimeHistory()
        # tenant -> (name, max_runtime, models, service) -> expected seconds per model, until the tenant's history grows
        self._estimates: dict[str, dict[tuple[object, ...], dict[str, float]]] = {}
        self.asked: dict[frozenset[str], tuple[float, datetime]] = {}  # models accepted -> (decayed units, as of)
        self.demanded: set[str] = set()  # pending jobs already counted in `asked`
        self.speeds: dict[str, float] = {}  # model -> nameplate TFLOPS
        # in place of the learned estimate (job, its models -> expected seconds per model): a benchmark gives the
        # true runtimes here to measure what perfect knowledge would buy (bench/estimates.py); None in service
        self.estimator: Callable[[Job, list[str]], dict[str, float]] | None = None
        self.cpu_models: tuple[str, ...] = ()
        self.pool_cpus: dict[str, int] = {}  # pool -> CPUs per node (to rate CPU jobs)
        self.reserved: dict[str, str] = {}  # waiting job -> the pool it held a reservation in at the last cycle
        self.promised: dict[str, datetime] = {}  # ... and the start it was first promised in that pool
        self._changes: dict[str, int] = {}  # pool id -> how many times what is used there changed
        # pool id -> (key, free nodes, the template, the pool as decide saw it)
        self._free: dict[str, tuple[tuple[object, ...], tuple[NodeFree, ...], PoolState, PoolState]] = {}
        self.full_rebuilds = 0

    # ---------------------------------------------------------------------------- keeping in step

    def refresh(self, uow: UnitOfWork, catalogue: Catalogue, now: datetime) -> None:
        self._learn(catalogue)
        if self.synced_at is None or now - self.synced_at >= self.resync:
            self.rebuild(uow, catalogue, now)
            return
        window = uow.jobs.reorder_window
        events = uow.jobs.changes_since(max(0, self.cursor - window))
        fresh = [(eid, job_id) for eid, job_id in events if eid not in self.seen]
        for job_id in dict.fromkeys(job_id for _, job_id in fresh):
            self.sync_job(uow, job_id, catalogue, now)
        for eid, _ in fresh:
            if window:
                self.seen.add(eid)
            self.cursor = max(self.cursor, eid)
        if len(self.seen) > 4 * max(window, 100):
            floor = self.cursor - window
            self.seen = {e for e in self.seen if e > floor}

    def _learn(self, catalogue: Catalogue) -> None:
        if not self.speeds or len(self.speeds) != len(catalogue.models):
            self.speeds = {m.id: float(m.fp16_tflops) for m in catalogue.models}
            self.cpu_models = tuple(sorted(m.id for m in catalogue.models if m.is_cpu))
            self._estimates.clear()

    def rebuild(self, uow: UnitOfWork, catalogue: Catalogue, now: datetime) -> None:
        self._learn(catalogue)
        position = uow.jobs.feed_position()
        self.allocs.clear()  # reloaded below; usage is charged only when a job stops holding capacity
        self.pending.clear()
        self.broken.clear()
        self.placed.clear()
        self.used.clear()
        self._free.clear()
        self.tenants = {t.id: t for t in uow.tenants.list()}
        attempts = {a.id: a for a in uow.attempts.in_states(sorted(HOLDS_CAPACITY))}
        for job in uow.jobs.in_states(sorted(PENDING | HOLDS_CAPACITY)):
            self._admit(job, attempts.get(job.current_attempt_id or ""), catalogue, now)
        self.cursor = position
        self.demanded &= set(self.pending) | set(self.allocs)  # a requeued job is not new demand
        self.seen = set()
        self.synced_at = now
        self.full_rebuilds += 1

    def sync_job(self, uow: UnitOfWork, job_id: str, catalogue: Catalogue, now: datetime) -> None:
        """Reload one job after a change: it may have started waiting, taken capacity, or left both."""
        job = uow.jobs.get(job_id)
        attempt = uow.attempts.get(job.current_attempt_id or "") if job is not None and job.attempts else None
        old = self.allocs.get(job_id)
        still_holding = (
            job is not None
            and job.state in HOLDS_CAPACITY
            and old is not None
            and old.attempt_id == job.current_attempt_id
        )
        self._forget(job_id, now, ended=attempt.ended_at if attempt is not None else None, charge=not still_holding)
        if job is None:
            return
        if job.tenant_id not in self.tenants:
            tenant = uow.tenants.get(job.tenant_id)
            if tenant is not None:
                self.tenants[tenant.id] = tenant
        if job.state is JobState.SUCCEEDED and attempt is not None:
            self._observe(job, attempt)
        if job.state in PENDING or job.state in HOLDS_CAPACITY:
            self._admit(job, attempt if job.state in HOLDS_CAPACITY else None, catalogue, now)

    def _observe(self, job: Job, attempt: Attempt) -> None:
        if attempt.started_at is None or attempt.ended_at is None:
            return
        models = [o.model for o in job.spec.resources.accelerators] or list(self.cpu_models)
        known = [m for m in models if m in self.speeds]
        slowest = min(known, key=lambda m: self.speeds[m]) if known else None
        self._estimates.pop(job.tenant_id, None)
        self.history.observe(
            job.tenant_id,
            job.name,
            attempt.model,
            (attempt.ended_at - attempt.started_at).total_seconds(),
            job.spec.max_runtime,
            self.speeds,
            slowest,
            service=job.spec.kind is JobKind.SERVICE,
        )

    def _admit(self, job: Job, attempt: Attempt | None, catalogue: Catalogue, now: datetime) -> None:
        if job.state in PENDING:
            try:
                self.pending[job.id] = self._pending(job, catalogue)
            except InvalidInput as exc:
                self.broken[job.id] = exc.detail
                return
            self._demand(self.pending[job.id], now)
            return
        if attempt is None or attempt.job_id != job.id:
            return
        running = self._running(job, attempt)
        alloc = Alloc(attempt.id, job.id, attempt.centre_id, job.state, attempt.placed_at, running, self._rate(running))
        self.allocs[job.id] = alloc
        if job.state is JobState.PLACED:
            self.placed.add(job.id)
        self._count(running, +1)

    def _pending(self, job: Job, catalogue: Catalogue) -> PendingJob:
        spec = job.spec
        request = resolve_request(spec, catalogue)
        models = [o.model for o in request.options] or list(self.cpu_models)
        return PendingJob(
            job_id=job.id,
            tenant_id=job.tenant_id,
            priority=job.priority,
            submitted_at=job.submitted_at,
            request=request,
            preemptible=spec.preemptible,
            max_price=spec.max_price,
            allow_centres=frozenset(spec.centres.allow),
            exclude_centres=frozenset(spec.centres.exclude),
            shape=job.shape,
            name=job.name,
            max_runtime_s=spec.max_runtime,
            estimates=self._estimate(job, models),
            project=spec.project or "",
            queued_at=job.updated_at if job.attempts else None,  # a requeued job starts waiting again
            service=spec.kind is JobKind.SERVICE,
        )

    def _estimate(self, job: Job, models: list[str]) -> dict[str, float]:
        return self.estimator(job, models) if self.estimator is not None else self.learned_estimate(job, models)

    def learned_estimate(self, job: Job, models: list[str]) -> dict[str, float]:
        """Expected seconds on each model, from the runtime history (kept per tenant until its history grows:
        a job is estimated again at each of its state changes, and its tenant's other jobs ask alike)."""
        spec = job.spec
        service = spec.kind is JobKind.SERVICE
        known = self._estimates.setdefault(job.tenant_id, {})
        key = (job.name, spec.max_runtime, tuple(models), service)
        found = known.get(key)
        if found is None:
            found = known[key] = estimate(
                job.tenant_id, job.name, spec.max_runtime, models, self.speeds, self.history, service=service
            )
        return found

    def _demand(self, job: PendingJob, now: datetime) -> None:
        if job.job_id in self.demanded:
            return
        self.demanded.add(job.job_id)
        models = frozenset(o.model for o in job.request.options)
        if not models:
            return
        value, at = self.asked.get(models, (0.0, now))
        self.asked[models] = (decay(value, (now - at).total_seconds(), self.half_life_s) + job.request.size, now)

    def _running(self, job: Job, attempt: Attempt) -> RunningJob:
        started = attempt.started_at or attempt.leased_at or attempt.placed_at
        deadline = started + timedelta(seconds=job.spec.max_runtime)
        models = [o.model for o in job.spec.resources.accelerators] or list(self.cpu_models)
        guess = self._estimate(job, models)
        expected = started + timedelta(seconds=guess.get(attempt.model, job.spec.max_runtime))
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
            expected_end=min(expected, deadline),
            deadline=deadline,
            model=attempt.model,
            attempt_id=attempt.id,
            requeues=job.requeues,
            requeues_left=max(0, job.spec.retry.max_requeues - job.requeues),
            service=job.spec.kind is JobKind.SERVICE,
        )

    def _rate(self, r: RunningJob) -> float:
        tflops = self.speeds.get(r.model, REFERENCE_TFLOPS)
        return standard_compute(r.per_node, r.cpus, self.pool_cpus.get(r.pool_id, 1), len(r.node_indices), tflops)

    def _forget(self, job_id: str, now: datetime, ended: datetime | None, charge: bool) -> None:
        self.pending.pop(job_id, None)
        self.broken.pop(job_id, None)
        self.placed.discard(job_id)
        alloc = self.allocs.pop(job_id, None)
        if alloc is not None:
            self._count(alloc.running, -1)
            if not charge:
                return
            until = min(ended or now, now)
            self._charge(
                alloc.running.tenant_id, alloc.rate * max(0.0, (until - alloc.running.started_at).total_seconds()), now
            )

    def _charge(self, tenant: str, amount: float, now: datetime) -> None:
        value, at = self.usage.get(tenant, (0.0, now))
        self.usage[tenant] = (decay(value, (now - at).total_seconds(), self.half_life_s) + amount, now)

    def _count(self, r: RunningJob, sign: int) -> None:
        self._changes[r.pool_id] = self._changes.get(r.pool_id, 0) + 1
        nodes = self.used.setdefault(r.pool_id, {})
        for node in r.node_indices:
            used = nodes.setdefault(node, [0.0, 0.0, 0.0])
            used[0] += sign * r.per_node
            used[1] += sign * r.cpus
            used[2] += sign * r.memory_gib
            if not any(abs(x) > 1e-9 for x in used):
                del nodes[node]

    # ---------------------------------------------------------------------------- what decide sees

    def snapshot(self, pools: list[PoolState], now: datetime, stopping: Collection[str] = ()) -> Snapshot:
        """The pools (templates from the store) with each node's free resources, what runs (`stopping`: the
        jobs asked to stop, whose room is coming free), and the fair-share standing of every tenant with work
        waiting or running."""
        filled = []
        for pool in pools:
            up = len(pool.free)  # the template lists one (full) node per node up
            a, c, m = pool.accelerators_per_node, pool.cpus_per_node, pool.memory_gib_per_node
            key = (up, a, c, m, self._changes.get(pool.pool_id, 0))
            known = self._free.get(pool.pool_id)
            if known is not None and known[0] == key:
                # nothing started or ended there since: the same nodes (decide only reads them), and the same
                # pool if its template is the one of last time
                if known[2] is pool:
                    filled.append(known[3])
                    continue
                free = known[1]
            else:
                used = self.used.get(pool.pool_id, {})
                free = tuple(
                    NodeFree(a - int(u[0]), c - u[1], m - u[2]) if (u := used.get(i)) else NodeFree(a, c, m)
                    for i in range(up)
                )
            state = replace(pool, free=free)
            self._free[pool.pool_id] = (key, free, pool, state)
            filled.append(state)
        asked = {s: decay(v, (now - at).total_seconds(), self.half_life_s) for s, (v, at) in self.asked.items()}
        reserved = {j: pool for j, pool in self.reserved.items() if j in self.pending}
        promised = {j: at for j, at in self.promised.items() if j in reserved}
        running = tuple(a.running for a in self.allocs.values())
        if stopping:
            running = tuple(replace(r, stopping=True) if r.job_id in stopping else r for r in running)
        return Snapshot(
            tuple(filled),
            running,
            self.shares(now),
            demand=restricted_demand(asked),
            asked=asked,
            reserved=reserved,
            promised=promised,
        )

    def remember_reservations(self, reserved: Mapping[str, str], starts: Mapping[str, datetime]) -> None:
        """Where each waiting job holds a reservation after this cycle (the next keeps those pools where it can),
        and the earliest start it has been promised in that pool since it was first reserved there."""
        promised: dict[str, datetime] = {}
        for job_id, pool_id in reserved.items():
            start = starts.get(job_id)
            if start is None:
                continue
            first = self.promised.get(job_id) if self.reserved.get(job_id) == pool_id else None
            promised[job_id] = start if first is None else min(first, start)
        self.reserved, self.promised = dict(reserved), promised

    def shares(self, now: datetime) -> dict[str, TenantShare]:
        held: dict[str, float] = {}
        running_use: dict[str, float] = {}
        for alloc in self.allocs.values():
            tenant = alloc.running.tenant_id
            held[tenant] = held.get(tenant, 0.0) + alloc.rate
            seconds = max(0.0, (now - alloc.running.started_at).total_seconds())
            running_use[tenant] = running_use.get(tenant, 0.0) + alloc.rate * seconds
        active = set(held) | {p.tenant_id for p in self.pending.values()}
        out = {}
        for tenant in active:
            value, at = self.usage.get(tenant, (0.0, now))
            record = self.tenants.get(tenant)
            out[tenant] = TenantShare(
                tenant_id=tenant,
                weight=record.weight if record is not None else 1.0,
                usage=decay(value, (now - at).total_seconds(), self.half_life_s) + running_use.get(tenant, 0.0),
                held=held.get(tenant, 0.0),
                quota=record.quota if record is not None else 0.0,
            )
        return out

    def allocs_where(self, keep: Callable[[Alloc], bool]) -> list[Alloc]:
        return [a for a in self.allocs.values() if keep(a)]

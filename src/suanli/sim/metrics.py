"""What a simulation measured, read back from the platform's own records (jobs, attempts, prices).

Batch jobs: completion time (JCT = end - submit), queueing delay (JCT minus time actually running, so
waits after a requeue count), bounded slowdown (JCT / max(run time, 10 s)), makespan. Long-running services:
placement delay and how many were never placed. Per pool: utilisation over time. Per tenant: what it paid,
and its share of what was held while it had work waiting, against its fair share (Jain's index).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal

from suanli.domain.jobs.states import JobState
from suanli.sim.engine import SIM_START, Sample, SimRun

BOUND_SECONDS = 10.0  # the usual bound of "bounded slowdown"
_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class JobOutcome:
    key: str
    tenant_id: str
    service: bool
    state: JobState
    submitted: float  # seconds from the simulation's start
    first_start: float | None
    end: float | None
    run_seconds: float
    accelerators: int
    attempts: int
    cost: Decimal
    preempted: int = 0  # attempts stopped by preemption (each requeued)
    lost_hours: float = 0.0  # accelerator-hours those attempts ran, lost as the trace has no checkpoints
    censored: bool = False  # the trace saw it only up to its end: its end here is no completion

    @property
    def jct(self) -> float | None:
        return None if self.end is None else self.end - self.submitted

    @property
    def wait(self) -> float | None:
        jct = self.jct
        return None if jct is None else max(0.0, jct - self.run_seconds)


@dataclass
class Stats:
    mean: float
    median: float
    p95: float
    p99: float
    count: int

    @staticmethod
    def of(values: list[float]) -> Stats:
        if not values:
            return Stats(math.nan, math.nan, math.nan, math.nan, 0)
        ordered = sorted(values)
        return Stats(sum(ordered) / len(ordered), _pct(ordered, 50), _pct(ordered, 95), _pct(ordered, 99), len(ordered))


def _pct(ordered: list[float], p: float) -> float:
    """Percentile by linear interpolation between closest ranks."""
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def cycle_wait_floor(arrivals: Sequence[float], interval_s: float, p: float = 95) -> float:
    """The p-th percentile queueing delay no policy can go below when cycles run every `interval_s` seconds
    on a fixed grid from the start (as the simulator's do): a job waits at least for the next cycle.
    `arrivals`: the batch jobs' submissions, in seconds from the start."""
    if not arrivals:
        return math.nan
    return _pct(sorted(math.ceil(a / interval_s) * interval_s - a for a in arrivals), p)


@dataclass
class TenantMetrics:
    tenant: str
    accelerator_hours: float
    cost: str
    jobs: int
    mean_jct_h: float
    share_vs_fair: float  # time-averaged (share held / fair share) while it had work waiting


@dataclass
class Metrics:
    trace: str
    policy: str
    seed: int
    batch_jobs: int
    finished: int
    unfinished: int
    refused: int
    rejected: int
    jct: Stats
    wait: Stats
    bounded_slowdown: Stats
    makespan_h: float
    services: int
    service_placement_delay: Stats
    services_never_placed: int
    total_cost: str
    jain: float
    utilisation: dict[str, float]  # pool -> busy accelerator (core) time / capacity over the makespan
    tenants: list[TenantMetrics] = field(default_factory=list)
    cycles: int = 0
    wall_seconds: float = 0.0
    jain_compute: float = 1.0  # Jain's index with what is held counted in standard compute (A100-equivalents)
    sim_hours: float = 0.0
    scenario: str | None = None
    preemptions: int = 0  # attempts stopped for other work
    lost_hours: float = 0.0  # accelerator-hours batch attempts had run when stopped (not services', nor CPU hours)
    contracts: int = 0  # tenants with a quota
    contract_wait: Stats = field(default_factory=lambda: Stats.of([]))  # queueing delay of contracted tenants' jobs
    other_wait: Stats = field(default_factory=lambda: Stats.of([]))  # and of everyone else's
    quota_shortfall: float = math.nan  # share of contracted compute not held while its tenant had work waiting
    # A100-equivalent hours of contracted compute wanted but not held, over the whole replay (0: none short)
    quota_short_hours: float = 0.0
    censored: int = 0  # batch jobs the trace saw still running at its end: replayed, but no completion

    def to_json(self) -> dict[str, object]:
        """The metrics as plain JSON values: a figure with nothing to measure (NaN) is null, as JSON has no NaN."""
        return _nulls(asdict(self))  # type: ignore[no-any-return]


def _nulls(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nulls(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nulls(v) for v in value]
    return value


def outcomes(run: SimRun) -> list[JobOutcome]:
    """Every submitted job, as the store recorded it."""
    out = []
    end_of_run = _secs(run.end)
    with run.ctx.store.uow() as uow:
        for job in uow.jobs.in_states(list(JobState)):
            attempts = uow.attempts.for_job(job.id)
            run_seconds, cost, accelerators, first = 0.0, Decimal(0), 0, None
            preempted, lost = 0, 0.0
            for a in attempts:
                if a.started_at is None:
                    continue
                start = _secs(a.started_at)
                stop = _secs(a.ended_at) if a.ended_at is not None else end_of_run
                first = start if first is None else min(first, start)
                seconds = max(0.0, stop - start)
                run_seconds += seconds
                units = a.per_node * len(a.node_indices) or a.cpus_per_node * len(a.node_indices)
                accelerators = max(accelerators, a.per_node * len(a.node_indices))
                cost += a.price * Decimal(str(round(units * seconds / _HOUR, 6)))
                if a.state is JobState.PREEMPTED:
                    preempted += 1
                    if job.kind.value != "service":  # a service's past hours were served, not lost
                        lost += a.per_node * len(a.node_indices) * seconds / _HOUR
            key = job.spec.envs.get("TRACE_JOB", job.id)
            replayed = run.workload.jobs.get(key)
            out.append(
                JobOutcome(
                    key=key,
                    tenant_id=job.tenant_id,
                    service=job.kind.value == "service",
                    state=job.state,
                    submitted=_secs(job.submitted_at),
                    first_start=first,
                    end=_secs(job.finished_at)
                    if job.finished_at is not None and job.state is JobState.SUCCEEDED
                    else None,
                    run_seconds=run_seconds,
                    accelerators=accelerators,
                    attempts=job.attempts,
                    cost=cost.quantize(Decimal("0.01")),
                    preempted=preempted,
                    lost_hours=lost,
                    censored=replayed is not None and replayed.trace.censored,
                )
            )
    return out


def _secs(t: datetime) -> float:
    return (t - SIM_START).total_seconds()


def measure(run: SimRun) -> Metrics:
    jobs = outcomes(run)
    batch = [j for j in jobs if not j.service]
    services = [j for j in jobs if j.service]
    censored = [j for j in batch if j.censored]
    done = [j for j in batch if j.end is not None and not j.censored]
    jct = [j.jct for j in done if j.jct is not None]
    wait = [j.wait for j in done if j.wait is not None]
    slowdown = [max(1.0, j.jct / max(j.run_seconds, BOUND_SECONDS)) for j in done if j.jct is not None]
    first = min((j.submitted for j in batch), default=0.0)
    last = max((j.end for j in done if j.end is not None), default=first)
    placed = [j.first_start - j.submitted for j in services if j.first_start is not None]
    contracted = [j.wait for j in done if j.wait is not None and j.tenant_id in run.contracts]
    others = [j.wait for j in done if j.wait is not None and j.tenant_id not in run.contracts]
    return Metrics(
        trace=run.trace.name,
        policy=run.policy,
        seed=run.seed,
        batch_jobs=len(batch) + sum(1 for k in run.refused if not run.workload.jobs[k].trace.is_service),
        finished=len(done),
        unfinished=len(batch) - len(done) - len(censored),
        censored=len(censored),
        refused=len(run.refused),
        rejected=sum(1 for j in jobs if j.state is JobState.REJECTED),
        jct=Stats.of(jct),
        wait=Stats.of(wait),
        bounded_slowdown=Stats.of(slowdown),
        makespan_h=(last - first) / _HOUR,
        services=len(services),
        service_placement_delay=Stats.of(placed),
        services_never_placed=sum(1 for j in services if j.first_start is None),
        total_cost=str(sum((j.cost for j in jobs), Decimal(0))),
        jain=jain_index(run),
        jain_compute=jain_index(run, compute=True),
        utilisation=utilisation(run, first, max(last, first + 1)),
        tenants=tenant_table(run, jobs),
        cycles=run.cycles,
        wall_seconds=run.wall_seconds,
        sim_hours=_secs(run.end) / _HOUR,
        scenario=run.scenario,
        preemptions=sum(j.preempted for j in jobs),
        lost_hours=round(sum(j.lost_hours for j in jobs), 1),
        contracts=len(run.contracts),
        contract_wait=Stats.of(contracted),
        other_wait=Stats.of(others),
        quota_shortfall=quota_shortfall(run.samples, run.contracts),
        quota_short_hours=round(quota_short_hours(run.samples, run.contracts), 1),
    )


def quota_shortfall(samples: Sequence[Sample], contracts: dict[str, float]) -> float:
    """The share of contracted compute its tenants could have used but did not hold while they had work
    waiting, over the samples (NaN when no contracted tenant ever waited): 0 means every guarantee was delivered
    whenever it was wanted. What a tenant could use is what it held plus what it waited for, up to its quota
    (cards waited for counted at the rate of those it held, one A100-equivalent a card if it held none)."""
    short = wanted = 0.0
    for sample in samples:
        for usable, held in _wanted(sample, contracts):
            wanted += usable
            short += max(0.0, usable - held)
    return short / wanted if wanted > 0 else math.nan


def quota_short_hours(samples: Sequence[Sample], contracts: dict[str, float]) -> float:
    """The contracted compute tenants could have used but did not hold, in A100-equivalent hours: what
    `quota_shortfall` counts per sample, held from each sample to the next. The shortfall is a share of the
    samples in which a tenant waited, so a tenant that seldom waits, but then for a whole node, has a high share
    and few hours short; this is the amount."""
    short = 0.0
    for sample, after in zip(samples, samples[1:], strict=False):
        hours = max(0.0, after.at - sample.at) / 3600
        short += sum(max(0.0, usable - held) for usable, held in _wanted(sample, contracts)) * hours
    return short


def _wanted(sample: Sample, contracts: dict[str, float]) -> list[tuple[float, float]]:
    """(what it could use, what it held) of each contracted tenant with work waiting at this sample."""
    out = []
    for tenant, quota in contracts.items():
        waiting = sample.waiting.get(tenant, 0)
        if waiting <= 0:
            continue
        held, cards = sample.held_compute.get(tenant, 0.0), sample.held.get(tenant, 0)
        out.append((min(quota, held + waiting * (held / cards if cards else 1.0)), held))
    return out


def max_min_fair(capacity: float, demands: dict[str, float]) -> dict[str, float]:
    """Water-filling: each tenant gets an equal share of `capacity`, capped at its demand; what a capped
    tenant leaves is shared among the rest."""
    fair: dict[str, float] = {}
    left, open_ = capacity, dict(demands)
    while open_ and left > 1e-9:
        share = left / len(open_)
        capped = {t: d for t, d in open_.items() if d <= share}
        if not capped:
            for t in open_:
                fair[t] = share
            return fair
        for t, d in capped.items():
            fair[t] = d
            left -= d
            del open_[t]
    for t in open_:
        fair[t] = fair.get(t, 0.0)
    return fair


def jain_index(run: SimRun, *, compute: bool = False) -> float:
    """Jain's index over tenants' time-averaged ratio of what they held to their max-min fair share (given
    what they wanted) of what all backlogged tenants held, while at least two were backlogged. What is held is
    counted in accelerators, or with `compute` in standard compute (A100-equivalents: accelerators weighted by
    nameplate FP16, DOMAIN.md), which is what the platform's fair share divides."""
    return jain_of(share_ratios(run.samples, set(run.tenant_ids.values()), compute=compute))


def jain_of(ratios: dict[str, float | None]) -> float:
    values = [v for v in ratios.values() if v is not None]
    if not values:
        return 1.0
    total = sum(values)
    squares = sum(v * v for v in values)
    return (total * total) / (len(values) * squares) if squares > 0 else 1.0


def share_ratios(samples: Sequence[Sample], tenants: set[str], *, compute: bool = False) -> dict[str, float | None]:
    """Each tenant's time-averaged held / max-min fair share over the samples with two or more backlogged."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for sample in samples:
        backlogged = sample.waiting
        if len(backlogged) < 2:
            continue
        cards = {t: float(sample.held.get(t, 0)) for t in backlogged}
        held = {t: sample.held_compute.get(t, 0.0) for t in backlogged} if compute else cards
        # what a tenant waits for is counted at the rate of what it holds (one A100-equivalent a card if nothing)
        rate = {t: (held[t] / cards[t] if compute and cards[t] > 0 else 1.0) for t in backlogged}
        total = sum(held.values())
        if total <= 0:
            continue
        fair = max_min_fair(total, {t: held[t] + backlogged[t] * rate[t] for t in backlogged})
        for tenant, amount in held.items():
            if fair.get(tenant, 0) <= 0:
                continue
            sums[tenant] = sums.get(tenant, 0.0) + amount / fair[tenant]
            counts[tenant] = counts.get(tenant, 0) + 1
    return {t: (sums[t] / counts[t] if counts.get(t) else None) for t in tenants}


def utilisation(run: SimRun, start: float, end: float) -> dict[str, float]:
    """Busy fraction of each pool's accelerators (cores for CPU pools) from first arrival to the last end."""
    busy: dict[str, float] = {}
    capacity: dict[str, float] = {}
    with run.ctx.store.uow() as uow:
        centres = {c.id: c.name for c in uow.centres.list()}
        labels = {}
        for pool in uow.pools.list():
            label = f"{centres[pool.centre_id]}/{pool.name}"
            labels[pool.id] = label
            capacity[label] = pool.nodes * (pool.accelerators_per_node or pool.cpus_per_node)
        for attempt in uow.attempts.in_states(list(JobState)):
            if attempt.started_at is None:
                continue
            a0 = max(_secs(attempt.started_at), start)
            a1 = min(_secs(attempt.ended_at) if attempt.ended_at else _secs(run.end), end)
            if a1 <= a0:
                continue
            units = attempt.per_node * len(attempt.node_indices) or attempt.cpus_per_node * len(attempt.node_indices)
            label = labels[attempt.pool_id]
            busy[label] = busy.get(label, 0.0) + units * (a1 - a0)
    span = end - start
    return {label: round(busy.get(label, 0.0) / (cap * span), 4) for label, cap in sorted(capacity.items())}


def utilisation_series(run: SimRun, step: float = _HOUR) -> tuple[list[float], dict[str, list[float]]]:
    """Busy fraction per pool in each `step`-second bucket, for plotting."""
    horizon = _secs(run.end)
    buckets = max(1, math.ceil(horizon / step))
    series: dict[str, list[float]] = {}
    with run.ctx.store.uow() as uow:
        centres = {c.id: c.name for c in uow.centres.list()}
        pools = {p.id: p for p in uow.pools.list()}
        for pool in pools.values():
            series[f"{centres[pool.centre_id]}/{pool.name}"] = [0.0] * buckets
        for attempt in uow.attempts.in_states(list(JobState)):
            if attempt.started_at is None:
                continue
            pool = pools[attempt.pool_id]
            label = f"{centres[pool.centre_id]}/{pool.name}"
            cap = pool.nodes * (pool.accelerators_per_node or pool.cpus_per_node)
            units = attempt.per_node * len(attempt.node_indices) or attempt.cpus_per_node * len(attempt.node_indices)
            a0 = _secs(attempt.started_at)
            a1 = _secs(attempt.ended_at) if attempt.ended_at else horizon
            b = int(a0 // step)
            while b < buckets and b * step < a1:
                overlap = min(a1, (b + 1) * step) - max(a0, b * step)
                series[label][b] += units * max(0.0, overlap) / (cap * step)
                b += 1
    return [i * step / _HOUR for i in range(buckets)], series


def tenant_table(run: SimRun, jobs: list[JobOutcome]) -> list[TenantMetrics]:
    names = {tid: name for name, tid in run.tenant_ids.items()}
    ratios = share_ratios(run.samples, set(run.tenant_ids.values()))
    rows = []
    for tenant_id in sorted(names, key=lambda t: names[t]):
        mine = [j for j in jobs if j.tenant_id == tenant_id]
        jcts = [j.jct for j in mine if j.jct is not None and not j.service]
        rows.append(
            TenantMetrics(
                tenant=names[tenant_id],
                accelerator_hours=round(sum(j.accelerators * j.run_seconds for j in mine) / _HOUR, 1),
                cost=str(sum((j.cost for j in mine), Decimal(0))),
                jobs=len(mine),
                mean_jct_h=round(sum(jcts) / len(jcts) / _HOUR, 3) if jcts else math.nan,
                share_vs_fair=round(ratios.get(tenant_id) or math.nan, 3),
            )
        )
    return rows

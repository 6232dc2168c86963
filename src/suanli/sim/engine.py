"""The discrete-event simulator: the platform's own services, scheduler and agent loop, run on a virtual
clock with the in-memory store and a trace-driven engine per centre. Deterministic for a seed.

Nothing here decides anything: arrivals are submitted through `service.jobs.submit_job`, cycles are
`Scheduler.cycle()`, and each centre's `Agent` leases, runs and reports exactly as it does live.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from suanli.agent.loop import Agent
from suanli.config import SchedulerSettings, Settings
from suanli.domain.accelerators import builtin_catalogue
from suanli.domain.errors import InvalidInput
from suanli.domain.tenants import Principal
from suanli.ports import AttemptSpec
from suanli.service import jobs, tenants
from suanli.service.auth import authenticate
from suanli.service.context import Context
from suanli.service.scheduler import Scheduler
from suanli.service.tenants import bootstrap
from suanli.sim.agents import InProcessAgentClient
from suanli.sim.backend import SimBackend, SimPool
from suanli.sim.city import CityModel, Workload, seed_city, seed_tenants
from suanli.sim.scenarios import Scenario
from suanli.sim.traces import Trace
from suanli.store.memory import MemoryStore

SIM_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
NEVER = 1e12  # timeouts the simulator does not exercise (no centre goes silent here)


class VirtualClock:
    def __init__(self, start: datetime = SIM_START) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t


@dataclass
class Sample:
    """Who held what and wanted how much more, at one cycle (for share-versus-fair-share under contention)."""

    at: float
    held: dict[str, int]  # tenant -> accelerators held (CPU jobs: cores / 32)
    waiting: dict[str, int]  # tenant -> accelerators its waiting jobs ask for (backlogged tenants only)
    held_compute: dict[str, float] = field(default_factory=dict)  # tenant -> A100-equivalents held


@dataclass
class SimRun:
    """What one simulation produced: the store holds every job, attempt and event."""

    trace: Trace
    policy: str
    seed: int
    ctx: Context
    workload: Workload
    tenant_ids: dict[str, str]  # trace tenant -> tenant id
    refused: dict[str, str] = field(default_factory=dict)  # trace job -> why submission was refused
    samples: list[Sample] = field(default_factory=list)
    cycles: int = 0
    wall_seconds: float = 0.0
    end: datetime = SIM_START
    scenario: str | None = None
    contracts: dict[str, float] = field(default_factory=dict)  # tenant id -> quota (A100-equivalents)


@dataclass(frozen=True)
class Progress:
    """How far a replay has got: its virtual time, the jobs submitted of the trace's, and cycles run."""

    virtual_s: float
    submitted: int
    jobs: int
    cycles: int
    wall_s: float


PROGRESS_EVERY_S = 1.0  # wall seconds between progress reports, at most
PROGRESS_STEPS = 256  # events handled between looks at the wall clock
AGENT_POLL_S = 1.0  # a live agent sees a run stop within this (`Agent.poll_interval`), reports it, and wakes the loop


class Simulation:
    def __init__(
        self,
        trace: Trace,
        city: CityModel,
        policy: str,
        *,
        seed: int = 0,
        interval_s: float = 60.0,
        sample_every_s: float = 600.0,
        scenario: Scenario | None = None,
        wake: bool = True,
    ) -> None:
        """`wake`: a cycle runs at once when a job arrives or ends, as the live loop is woken by submissions and
        agents' reports (`SchedulerLoop.wake`); False runs cycles only on an `interval_s` grid, so every job
        waits for the next boundary (the simulator before 2026-12-07)."""
        fit = city.fit(trace.name)
        self.centres = city.scaled(fit.scale, fit.cpu_scale)
        self.trace = trace
        self.policy = policy
        self.seed = seed
        self.scenario = scenario
        self.interval = timedelta(seconds=interval_s)
        self.wake_on_events = wake
        self.sample_every = sample_every_s
        self.clock = VirtualClock()
        scheduler = SchedulerSettings(
            policy=policy, heartbeat_timeout_s=NEVER, placement_timeout_s=NEVER, lost_timeout_s=NEVER, resync_s=NEVER
        )
        self.ctx = Context(MemoryStore(), Settings(home=Path("/nonexistent"), scheduler=scheduler), self.clock)
        admin = authenticate(self.ctx, bootstrap(self.ctx).secret)
        seed_city(self.ctx, admin, self.centres)
        self.principals = seed_tenants(self.ctx, admin, sorted({j.tenant for j in trace.jobs}))
        self.workload = Workload(trace, fit, builtin_catalogue(), self.centres, seed, scenario)
        self.contracts: dict[str, float] = {}  # tenant id -> quota
        for name, quota in self.workload.contracts.items():
            tenant_id = self.principals[name].tenant_id or ""
            tenants.update_tenant(self.ctx, admin, tenant_id, {"quota": quota})
            self.contracts[tenant_id] = quota
        self.scheduler = Scheduler(self.ctx, policy)
        self._wakes: list[datetime] = []
        self.backends: dict[str, SimBackend] = {}
        self.agents: dict[str, Agent] = {}
        with self.ctx.store.uow() as uow:
            centre_ids = {c.name: c.id for c in uow.centres.list()}
        for spec in self.centres:
            backend = SimBackend(
                self.clock,
                [SimPool(p.name, p.nodes, p.accelerators_per_node, p.cpus_per_node) for p in spec.pools],
                self._runtime,
                self._wake,
            )
            principal = Principal("sim", None, None, None, centre_id=centre_ids[spec.name], name=f"agent:{spec.name}")
            self.backends[centre_ids[spec.name]] = backend
            self.agents[centre_ids[spec.name]] = Agent(
                InProcessAgentClient(self.ctx, principal), backend, name=spec.name, lease_batch=1000, clock=self.clock
            )

    def _runtime(self, spec: AttemptSpec) -> float:
        return self.workload.runtime(spec.envs["TRACE_JOB"], spec.model)

    def _wake(self, at: datetime) -> None:
        heapq.heappush(self._wakes, at)

    def run(self, progress: Callable[[Progress], None] | None = None) -> SimRun:
        """Replay the trace to its end; `progress`, if given, is told how far it has got about every
        PROGRESS_EVERY_S wall seconds, and once more at the end."""
        started = time.perf_counter()
        result = SimRun(
            self.trace,
            self.policy,
            self.seed,
            self.ctx,
            self.workload,
            {name: p.tenant_id or "" for name, p in self.principals.items()},
            scenario=self.scenario.name if self.scenario is not None else None,
            contracts=dict(self.contracts),
        )
        arrivals = sorted(self.trace.jobs, key=lambda j: (j.arrival, j.key))
        next_arrival = 0
        cycle_due: datetime | None = None
        revisit: datetime | None = None  # the last cycle's policy asked to look again then, even if nothing happens
        next_sample = 0.0
        for agent in self.agents.values():
            agent.tick()
        steps, told_at = 0, started
        while True:
            steps += 1
            due = progress is not None and steps % PROGRESS_STEPS == 0
            if due and time.perf_counter() - told_at >= PROGRESS_EVERY_S:
                told_at = time.perf_counter()
                virtual = (self.clock.t - SIM_START).total_seconds()
                progress(Progress(virtual, next_arrival, len(arrivals), result.cycles, told_at - started))
            times = [
                t
                for t in (
                    SIM_START + timedelta(seconds=arrivals[next_arrival].arrival)
                    if next_arrival < len(arrivals)
                    else None,
                    self._wakes[0] if self._wakes else None,
                    cycle_due,
                    revisit,
                )
                if t is not None
            ]
            if not times:
                break
            now = min(times)
            self.clock.t = now
            dirty = False
            while next_arrival < len(arrivals) and SIM_START + timedelta(seconds=arrivals[next_arrival].arrival) <= now:
                self._submit(arrivals[next_arrival], result)
                next_arrival += 1
                dirty = True
            while self._wakes and self._wakes[0] <= now:
                heapq.heappop(self._wakes)
            for centre_id, backend in self.backends.items():
                if backend.advance(now):
                    self.agents[centre_id].tick()
                    dirty = True
            if revisit is not None and now >= revisit:  # the live loop would run a cycle by then anyway
                revisit, dirty = None, True
            if dirty and self.wake_on_events:
                cycle_due = now
            elif dirty and cycle_due is None:
                cycle_due = _next_boundary(now, self.interval)
            if cycle_due is not None and now >= cycle_due:
                report = self.scheduler.cycle()
                result.cycles += 1
                told = dict.fromkeys(p.centre_id for p in report.placements)  # in order, not by hash
                if report.preempted:  # live agents hear of stops at their next heartbeat, within seconds
                    told = dict.fromkeys([*told, *self.agents])
                for centre_id in told:
                    self.agents[centre_id].tick()
                # the stopped jobs are back in the queue and their room is free: the next cycle places them, when
                # the agents report the stops (live, within their poll interval; on the grid, at the next boundary)
                after = timedelta(seconds=AGENT_POLL_S) if self.wake_on_events else self.interval
                cycle_due = now + after if report.preempted else None
                revisit = report.revisit_at
                elapsed = (now - SIM_START).total_seconds()
                if elapsed >= next_sample:
                    result.samples.append(self._sample(elapsed))
                    next_sample = elapsed + self.sample_every
            result.end = now
        result.wall_seconds = time.perf_counter() - started
        if progress is not None:
            virtual = (result.end - SIM_START).total_seconds()
            progress(Progress(virtual, next_arrival, len(arrivals), result.cycles, result.wall_seconds))
        return result

    def _submit(self, job, result: SimRun) -> None:  # type: ignore[no-untyped-def]
        sim_job = self.workload.jobs[job.key]
        try:
            jobs.submit_job(self.ctx, self.principals[job.tenant], sim_job.body())
        except InvalidInput as exc:
            result.refused[job.key] = exc.detail

    def _sample(self, elapsed: float) -> Sample:
        held: dict[str, int] = {}
        compute: dict[str, float] = {}
        for alloc in self.scheduler.cache.allocs.values():
            r = alloc.running
            amount = r.per_node * len(r.node_indices) or math.ceil(r.cpus * len(r.node_indices) / 32)
            held[r.tenant_id] = held.get(r.tenant_id, 0) + amount
            compute[r.tenant_id] = compute.get(r.tenant_id, 0.0) + alloc.rate
        waiting: dict[str, int] = {}
        for p in self.scheduler.cache.pending.values():
            r = p.request
            amount = r.nodes * (r.options[0].per_node if r.options else math.ceil(r.cpus / 32))
            waiting[p.tenant_id] = waiting.get(p.tenant_id, 0) + amount
        return Sample(elapsed, held, waiting, compute)


def _next_boundary(now: datetime, interval: timedelta) -> datetime:
    """The first cycle boundary at or after `now` (cycles on a fixed grid, when nothing wakes the loop)."""
    elapsed = (now - SIM_START) / interval
    return SIM_START + interval * math.ceil(elapsed)

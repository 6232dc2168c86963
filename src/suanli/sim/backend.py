"""The trace-driven engine: a `Backend` on a virtual clock. An attempt runs for the time its trace job
truly takes on the model it was given (capped at its max_runtime); nothing else differs from a real engine
as the agent sees it."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from suanli.domain.errors import BackendError
from suanli.ports import AttemptSpec, AttemptStatus, Clock, EngineState, EngineUsage, Feature, PoolCapacity


@dataclass(frozen=True)
class SimPool:
    name: str
    nodes: int
    accelerators_per_node: int
    cpus_per_node: float


@dataclass
class SimRun:
    spec: AttemptSpec
    state: EngineState
    started: datetime | None = None
    ends: datetime | None = None  # None: runs until cancelled (a service past the trace's end)
    outcome: EngineState = EngineState.SUCCEEDED
    ended: datetime | None = None
    nodes: list[int] = field(default_factory=list)


class SimBackend:
    name = "sim"
    features = frozenset({Feature.GANG, Feature.USAGE, Feature.RUNTIME_LIMIT, Feature.RECONCILE, Feature.EVENTS})

    def __init__(
        self,
        clock: Clock,
        pools: list[SimPool],
        runtime: Callable[[AttemptSpec], float],
        wake: Callable[[datetime], None] = lambda _: None,
    ) -> None:
        self.clock = clock
        self.pools = {p.name: p for p in pools}
        self.runtime = runtime
        self.wake = wake
        self.runs: dict[str, SimRun] = {}
        self.free = {p.name: [[p.accelerators_per_node, p.cpus_per_node] for _ in range(p.nodes)] for p in pools}
        self.waiting: list[str] = []  # accepted, waiting for room inside the engine
        self._due: list[tuple[datetime, str]] = []  # (end, attempt) of running attempts, a heap
        self._changed: dict[str, None] = {}

    # ---------------------------------------------------------------------------- the port

    def capacity(self) -> list[PoolCapacity]:
        return [PoolCapacity(name, len(nodes), sum(n[0] for n in nodes)) for name, nodes in self.free.items()]

    def submit(self, spec: AttemptSpec) -> None:
        if spec.attempt_id in self.runs:
            return
        if spec.pool not in self.pools:
            raise BackendError(f"this engine has no pool {spec.pool!r}", retryable=False)
        self.runs[spec.attempt_id] = SimRun(spec, EngineState.PENDING)
        self.waiting.append(spec.attempt_id)
        self._start_waiting()

    def status(self, attempt_id: str) -> AttemptStatus:
        run = self.runs.get(attempt_id)
        if run is None:
            return AttemptStatus(attempt_id, EngineState.UNKNOWN)
        devices = {str(r): list(range(run.spec.per_node)) for r in range(len(run.nodes))}
        return AttemptStatus(
            attempt_id,
            run.state,
            0 if run.state is EngineState.SUCCEEDED else None,
            "max_runtime reached; killed" if run.state is EngineState.TIMEOUT else "",
            run.started,
            run.ended,
            devices,
        )

    def cancel(self, attempt_id: str) -> None:
        run = self.runs.get(attempt_id)
        if run is None or run.state.finished:
            return
        if run.state is EngineState.PENDING:
            self.waiting.remove(attempt_id)
        self._end(run, EngineState.CANCELLED)
        self._start_waiting()

    def read_log(self, attempt_id: str, offset: int, limit: int) -> bytes:
        return b""

    def usage(self, attempt_id: str) -> EngineUsage | None:
        run = self.runs.get(attempt_id)
        if run is None or run.started is None or run.ended is None:
            return None
        wall = (run.ended - run.started).total_seconds()
        accelerators = run.spec.per_node * run.spec.nodes
        cpu = run.spec.cpus * run.spec.nodes * wall
        return EngineUsage(attempt_id, accelerators, wall * accelerators, cpu, wall, run.started, run.ended)

    def known_attempts(self) -> list[str]:
        return sorted(self.runs)

    def forget(self, attempt_id: str) -> None:
        run = self.runs.get(attempt_id)
        if run is not None and not run.state.finished:
            raise BackendError(f"attempt {attempt_id} is still running; cancel it first")
        self.runs.pop(attempt_id, None)

    def close(self) -> None:
        return None

    def changed(self) -> list[str]:
        out = list(self._changed)
        self._changed.clear()
        return out

    # ---------------------------------------------------------------------------- virtual time

    def advance(self, now: datetime) -> bool:
        """End every run due by `now`; True if anything changed."""
        ended = False
        while self._due and self._due[0][0] <= now:
            ends, attempt_id = heapq.heappop(self._due)
            run = self.runs.get(attempt_id)
            if run is not None and run.state is EngineState.RUNNING and run.ends == ends:
                self._end(run, run.outcome, at=ends)
                ended = True
        if ended:
            self._start_waiting()
        return ended

    def _start_waiting(self) -> None:
        for attempt_id in list(self.waiting):
            run = self.runs[attempt_id]
            nodes = self._take(run.spec)
            if nodes is None:
                continue
            self.waiting.remove(attempt_id)
            now = self.clock.now()
            seconds = self.runtime(run.spec)
            limit = run.spec.max_runtime_s
            run.state, run.started, run.nodes = EngineState.RUNNING, now, nodes
            if seconds <= limit:
                run.ends = now + timedelta(seconds=seconds) if seconds != float("inf") else None
            else:
                run.ends, run.outcome = now + timedelta(seconds=limit), EngineState.TIMEOUT
            self._changed[attempt_id] = None
            if run.ends is not None:
                heapq.heappush(self._due, (run.ends, attempt_id))
                self.wake(run.ends)

    def _take(self, spec: AttemptSpec) -> list[int] | None:
        nodes = self.free[spec.pool]
        wanted = [
            n
            for n in spec.node_indices
            if n < len(nodes) and nodes[n][0] >= spec.per_node and nodes[n][1] >= spec.cpus - 1e-9
        ]
        if len(wanted) < spec.nodes:
            wanted = [n for n, free in enumerate(nodes) if free[0] >= spec.per_node and free[1] >= spec.cpus - 1e-9]
        if len(wanted) < spec.nodes:
            return None
        chosen = wanted[: spec.nodes]
        for n in chosen:
            nodes[n][0] -= spec.per_node
            nodes[n][1] -= spec.cpus
        return chosen

    def _end(self, run: SimRun, state: EngineState, at: datetime | None = None) -> None:
        if run.state is EngineState.RUNNING:
            for n in run.nodes:
                self.free[run.spec.pool][n][0] += run.spec.per_node
                self.free[run.spec.pool][n][1] += run.spec.cpus
        run.state, run.ended = state, at or self.clock.now()
        if run.started is None:
            run.started = run.ended
        self._changed[run.spec.attempt_id] = None

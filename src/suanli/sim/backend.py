"""The trace-driven engine: a `Backend` on a virtual clock. An attempt runs for the time its trace job
truly takes on the model it was given (capped at its max_runtime) and ends with the exit code the model gives
it; it holds distinct device ids on each of its nodes. Nothing else differs from a real engine as the agent
sees it, except that no command is run (no logs, files or environment)."""

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
    planned_exit: int = 0  # the exit code it ends with if it runs its course
    exit_code: int | None = None
    ended: datetime | None = None
    nodes: list[int] = field(default_factory=list)
    devices: list[list[int]] = field(default_factory=list)  # device ids held, per node of `nodes`


class SimBackend:
    name = "sim"
    features = frozenset({Feature.GANG, Feature.USAGE, Feature.RUNTIME_LIMIT, Feature.RECONCILE, Feature.EVENTS})

    def __init__(
        self,
        clock: Clock,
        pools: list[SimPool],
        runtime: Callable[[AttemptSpec], float],
        wake: Callable[[datetime], None] = lambda _: None,
        exit_code: Callable[[AttemptSpec], int] = lambda _: 0,
    ) -> None:
        """`runtime` gives an attempt's seconds (inf: until cancelled); `exit_code` how it ends if not cut off."""
        self.clock = clock
        self.pools = {p.name: p for p in pools}
        self.runtime = runtime
        self.exit_code = exit_code
        self.wake = wake
        self.runs: dict[str, SimRun] = {}
        # per node: [accelerators free, CPUs free, the free device ids]
        self.free = {
            p.name: [
                [p.accelerators_per_node, p.cpus_per_node, list(range(p.accelerators_per_node))] for _ in range(p.nodes)
            ]
            for p in pools
        }
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
        devices = {str(rank): ids for rank, ids in enumerate(run.devices)}
        reason = {
            EngineState.TIMEOUT: "max_runtime reached; killed",
            EngineState.FAILED: f"exited with code {run.exit_code}",
        }.get(run.state, "")
        return AttemptStatus(attempt_id, run.state, run.exit_code, reason, run.started, run.ended, devices)

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
        if run is None or not run.nodes or run.started is None or run.ended is None:
            return None  # unknown, never started (cancelled while waiting), or not finished
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
            run.devices = [self._take_devices(run.spec, n) for n in nodes]
            if seconds <= limit:
                run.ends = now + timedelta(seconds=seconds) if seconds != float("inf") else None
                run.planned_exit = self.exit_code(run.spec)
                run.outcome = EngineState.SUCCEEDED if run.planned_exit == 0 else EngineState.FAILED
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

    def _take_devices(self, spec: AttemptSpec, node: int) -> list[int]:
        free = self.free[spec.pool][node][2]
        taken, free[:] = free[: spec.per_node], free[spec.per_node :]
        return taken

    def _end(self, run: SimRun, state: EngineState, at: datetime | None = None) -> None:
        if run.state is EngineState.RUNNING:
            for n, ids in zip(run.nodes, run.devices, strict=True):
                node = self.free[run.spec.pool][n]
                node[0] += run.spec.per_node
                node[1] += run.spec.cpus
                node[2].extend(ids)
                node[2].sort()
        run.exit_code = run.planned_exit if state in (EngineState.SUCCEEDED, EngineState.FAILED) else None
        run.state, run.ended = state, at or self.clock.now()
        if run.started is None:
            run.started = run.ended
        self._changed[run.spec.attempt_id] = None

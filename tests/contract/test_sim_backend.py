"""The trace-driven engine keeps the backend contract on its virtual clock: idempotent submit and cancel,
runtime limits, whole gangs, usage, capacity, and the change feed the agent relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from suanli.domain.accelerators import Stack
from suanli.domain.errors import BackendError
from suanli.ports import AttemptSpec, EngineState, Feature
from suanli.sim.backend import SimBackend, SimPool
from suanli.sim.engine import VirtualClock

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def spec(attempt_id: str, seconds: float, *, nodes: int = 1, per_node: int = 4, limit: int = 3600) -> AttemptSpec:
    return AttemptSpec(
        attempt_id,
        attempt_id,
        "j",
        "t",
        "gpu",
        "A100",
        Stack.CUDA,
        per_node,
        nodes,
        tuple(range(nodes)),
        1,
        1,
        "x",
        None,
        {"SECONDS": str(seconds)},
        {},
        limit,
    )


@pytest.fixture
def engine():
    clock = VirtualClock(T0)
    wakes: list[datetime] = []
    backend = SimBackend(clock, [SimPool("gpu", 2, 8, 64)], lambda s: float(s.envs["SECONDS"]), wakes.append)
    return clock, backend, wakes


def advance(clock: VirtualClock, backend: SimBackend, seconds: float) -> None:
    clock.t += timedelta(seconds=seconds)
    backend.advance(clock.t)


def test_runs_for_the_trace_time_then_succeeds_once(engine):
    clock, backend, wakes = engine
    backend.submit(spec("a-1", 100))
    backend.submit(spec("a-1", 100))
    assert backend.status("a-1").state is EngineState.RUNNING and wakes == [T0 + timedelta(seconds=100)]
    assert backend.changed() == ["a-1"] and backend.changed() == []
    advance(clock, backend, 99)
    assert backend.status("a-1").state is EngineState.RUNNING
    advance(clock, backend, 1)
    status = backend.status("a-1")
    assert status.state is EngineState.SUCCEEDED and status.exit_code == 0 and backend.changed() == ["a-1"]
    usage = backend.usage("a-1")
    assert usage is not None and usage.wall_seconds == 100 and usage.accelerator_seconds == 400


def test_runtime_limit_and_idempotent_cancel(engine):
    clock, backend, _ = engine
    backend.submit(spec("slow-1", 10_000, limit=60))
    advance(clock, backend, 60)
    assert backend.status("slow-1").state is EngineState.TIMEOUT
    backend.submit(spec("c-1", 100))
    backend.cancel("c-1")
    backend.cancel("c-1")
    backend.cancel("never-1")
    assert backend.status("c-1").state is EngineState.CANCELLED
    assert backend.status("never-1").state is EngineState.UNKNOWN


def test_gangs_start_whole_or_wait_inside_the_engine(engine):
    clock, backend, _ = engine
    backend.submit(spec("one-1", 50, per_node=8))
    backend.submit(spec("gang-1", 50, nodes=2, per_node=8))
    assert backend.status("gang-1").state is EngineState.PENDING
    assert {c.pool: c.accelerators_free for c in backend.capacity()} == {"gpu": 8}
    advance(clock, backend, 50)
    assert backend.status("gang-1").state is EngineState.RUNNING
    assert backend.status("gang-1").devices == {"0": list(range(8)), "1": list(range(8))}


def test_forget_and_refusals(engine):
    _, backend, _ = engine
    backend.submit(spec("r-1", 10))
    with pytest.raises(BackendError):
        backend.forget("r-1")
    with pytest.raises(BackendError) as exc:
        backend.submit(
            AttemptSpec(
                "x-1", "x", "j", "t", "tpu", "A100", Stack.CUDA, 1, 1, (0,), 1, 1, "x", None, {"SECONDS": "1"}, {}, 60
            )
        )
    assert not exc.value.retryable
    assert Feature.EVENTS in backend.features and Feature.LOGS not in backend.features

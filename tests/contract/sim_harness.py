"""The simulator's engine on the wall clock, so the backend contract suite can drive it like a real engine.

`suanli sim` advances the virtual clock itself, from one event to the next. Here the virtual clock follows the
wall clock from the moment the engine is made, and every call through the port first lets the engine catch up
to now: a test that waits two seconds sees two seconds of engine time pass. The engine outlives the adapter, as
a real centre's engine outlives an agent restart.

An attempt's behaviour comes from its spec: SIM_SECONDS (how long its command runs) and SIM_EXIT (its exit
code), which the contract's specs set for every engine and only this one reads.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from suanli.ports import AttemptSpec, AttemptStatus, EngineUsage, PoolCapacity
from suanli.sim.backend import SimBackend, SimPool


class WallClock:
    """Virtual time that moves with the wall clock."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC)
        self.began = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began)


def make_engine(pools: list[SimPool]) -> SimBackend:
    return SimBackend(
        WallClock(),
        pools,
        lambda spec: float(spec.envs.get("SIM_SECONDS", "0.2")),
        exit_code=lambda spec: int(spec.envs.get("SIM_EXIT", "0")),
    )


class WallClockSim:
    """The port, over a shared `SimBackend` brought up to the wall-clock time before each call."""

    def __init__(self, engine: SimBackend) -> None:
        self.engine = engine
        self.name = engine.name
        self.features = engine.features

    def _now(self) -> SimBackend:
        self.engine.advance(self.engine.clock.now())
        return self.engine

    def capacity(self) -> list[PoolCapacity]:
        return self._now().capacity()

    def submit(self, spec: AttemptSpec) -> None:
        self._now().submit(spec)

    def status(self, attempt_id: str) -> AttemptStatus:
        return self._now().status(attempt_id)

    def cancel(self, attempt_id: str) -> None:
        self._now().cancel(attempt_id)

    def read_log(self, attempt_id: str, offset: int, limit: int) -> bytes:
        return self._now().read_log(attempt_id, offset, limit)

    def usage(self, attempt_id: str) -> EngineUsage | None:
        return self._now().usage(attempt_id)

    def known_attempts(self) -> list[str]:
        return self._now().known_attempts()

    def forget(self, attempt_id: str) -> None:
        self._now().forget(attempt_id)

    def changed(self) -> list[str]:
        return self._now().changed()

    def close(self) -> None:
        return None

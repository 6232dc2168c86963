"""A long replay says how far it has got while it runs (`Simulation.run(progress=...)`, shown by `suanli sim`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.sim import engine
from suanli.sim.city import load_city
from suanli.sim.engine import Progress, Simulation
from suanli.sim.traces import load_trace

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"


def test_a_replay_reports_its_progress_and_ends_with_every_job_in(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(engine, "PROGRESS_EVERY_S", 0.0)  # report at every event
    monkeypatch.setattr(engine, "PROGRESS_STEPS", 1)
    trace = load_trace("philly", DATA, limit=150)
    seen: list[Progress] = []
    run = Simulation(trace, load_city(ROOT / "bench" / "city-qingdao.yaml"), "fifo").run(progress=seen.append)
    assert len(seen) >= 2  # while it ran, and at the end
    assert all(a.submitted <= b.submitted and a.virtual_s <= b.virtual_s for a, b in zip(seen, seen[1:], strict=False))
    assert all(p.jobs == 150 for p in seen) and seen[0].submitted < 150
    last = seen[-1]
    assert last.submitted == 150 and last.cycles == run.cycles and last.wall_s == run.wall_seconds
    assert last.virtual_s == (run.end - engine.SIM_START).total_seconds()


def test_a_replay_without_a_listener_is_the_same_replay():
    trace = load_trace("philly", DATA, limit=80)
    city = load_city(ROOT / "bench" / "city-qingdao.yaml")
    quiet = Simulation(trace, city, "suanli").run()
    told = Simulation(trace, city, "suanli").run(progress=lambda p: None)
    assert (quiet.cycles, quiet.end) == (told.cycles, told.end)

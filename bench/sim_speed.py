"""Simulated jobs per wall-clock second on a full trace, and on a 100,000-job trace (Philly twice over:
its 55,803 jobs, then the same again nine weeks later, as another set of tenants).

    python bench/sim_speed.py [--jobs 100000] [--policy suanli] [--traces ../shared/traces] [--grid]

Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from suanli import scheduling
from suanli.agent.loop import Agent
from suanli.service.scheduler import Scheduler
from suanli.sim.city import load_city
from suanli.sim.engine import Simulation
from suanli.sim.traces import Trace, load_trace, traces_root

NINE_WEEKS = 9 * 7 * 86400.0
TARGET_JOBS, TARGET_S = 100_000, 60.0  # the target: this many jobs in under this many seconds


def repeated(trace: Trace, jobs: int) -> Trace:
    out, lap = [], 0
    while len(out) < jobs:
        out += [
            replace(j, key=f"{j.key}-{lap}", tenant=f"{j.tenant}-{lap}", arrival=j.arrival + lap * NINE_WEEKS)
            for j in trace.jobs[: jobs - len(out)]
        ]
        lap += 1
    return Trace(f"{trace.name}", out, trace.horizon + (lap - 1) * NINE_WEEKS, trace.gpu_types, trace.source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--policy", default="suanli")
    parser.add_argument("--traces", type=Path, default=None)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument(
        "--grid", action="store_true", help="cycles only every --interval s, not when a job arrives or ends"
    )
    args = parser.parse_args()
    philly = load_trace("philly", traces_root(args.traces))
    trace = repeated(philly, args.jobs)
    city = load_city(Path("bench/city-qingdao.yaml"))
    with timing_parts() as spent:
        run = Simulation(trace, city, args.policy, interval_s=args.interval, wake=not args.grid).run()
    rate = len(trace.jobs) / run.wall_seconds
    print(
        f"{len(trace.jobs)} jobs under {args.policy}: {run.wall_seconds:.1f} s wall, {run.cycles} cycles, "
        f"{rate:,.0f} simulated jobs/s ({(run.end - run.end.replace(year=2026, month=1, day=5)).days} days of "
        f"virtual time); target: 100,000 jobs in under 60 s"
    )
    for line in breakdown(spent, run.wall_seconds, run.cycles, len(trace.jobs)):
        print(line)


def breakdown(spent: dict[str, float], wall: float, cycles: int, jobs: int) -> list[str]:
    """Where a replay's wall time went: `decide`, the rest of each scheduler cycle, the agents' ticks and the
    submissions, and what no scheduler change can remove (the per-job path), against the 60 s target."""
    decide, cycle = spent["decide"], spent["cycle"]
    agents, submit = spent["agents"], spent["submit"]
    other = wall - cycle - agents - submit
    per_cycle, per_job = 1000 / max(1, cycles), 1000 / max(1, jobs)
    path = (agents + submit) / max(1, jobs) * TARGET_JOBS  # seconds the per-job path takes at the target's size
    left = max(0.0, TARGET_S - path) / max(1.0, cycles / max(1, jobs) * TARGET_JOBS)  # seconds a cycle
    return [
        f"  the policy's decide: {decide:.1f} s ({decide / wall:.0%}, {decide * per_cycle:.2f} ms a cycle)",
        f"  the rest of each cycle (cache, snapshot, timeouts, writing results): {cycle - decide:.1f} s "
        f"({(cycle - decide) / wall:.0%}, {(cycle - decide) * per_cycle:.2f} ms a cycle)",
        f"  the agents' ticks (heartbeats, leases, the engine, reports, usage and billing): {agents:.1f} s "
        f"({agents / wall:.0%}, {agents * per_job:.2f} ms a job)",
        f"  submissions (validation, admission, the store): {submit:.1f} s ({submit / wall:.0%}, "
        f"{submit * per_job:.2f} ms a job)",
        f"  the event loop and sampling: {other:.1f} s ({other / wall:.0%})",
        f"  the per-job path (agents and submissions, whatever the policy): {(agents + submit) * per_job:.2f} ms a "
        f"job, so {(agents + submit) * per_job * TARGET_JOBS / 1000:.0f} s for {TARGET_JOBS:,} jobs against the "
        f"{TARGET_S:.0f} s target; what is left of it for ~{cycles / max(1, jobs) * TARGET_JOBS:,.0f} cycles "
        f"(this replay's {cycles / max(1, jobs):.2f} a job): {left * 1000:.2f} ms a cycle, against "
        f"{cycle * per_cycle:.2f} ms here",
    ]


@contextlib.contextmanager
def wrapped_decide(wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    """While the block runs, the scheduler calls `wrap(decide)` in place of `scheduling.decide`."""
    decide = scheduling.decide
    scheduling.decide = wrap(decide)  # type: ignore[assignment]
    try:
        yield
    finally:
        scheduling.decide = decide


@contextlib.contextmanager
def timing_parts() -> Iterator[dict[str, float]]:
    """Add up the seconds spent, while the block runs, in `scheduling.decide`, in whole scheduler cycles, in
    the agents' ticks and in submissions (`decide` is part of `cycle`; the others do not overlap)."""
    spent = dict.fromkeys(("decide", "cycle", "agents", "submit"), 0.0)

    def timer(part: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(call: Callable[..., Any]) -> Callable[..., Any]:
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return call(*args, **kwargs)
                finally:
                    spent[part] += time.perf_counter() - started

            return timed

        return wrap

    methods = [(Scheduler, "cycle", "cycle"), (Agent, "tick", "agents"), (Simulation, "_submit", "submit")]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in methods]
    for owner, name, part in methods:
        setattr(owner, name, timer(part)(getattr(owner, name)))
    try:
        with wrapped_decide(timer("decide")):
            yield spent
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


if __name__ == "__main__":
    main()

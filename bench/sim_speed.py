"""Simulated jobs per wall-clock second on a full trace, and on a 100,000-job trace (Philly twice over:
its 55,803 jobs, then the same again nine weeks later, as another set of tenants).

    python bench/sim_speed.py [--jobs 100000] [--policy suanli] [--traces ../shared/traces]

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
from suanli.sim.city import load_city
from suanli.sim.engine import Simulation
from suanli.sim.traces import Trace, load_trace, traces_root

NINE_WEEKS = 9 * 7 * 86400.0


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
    args = parser.parse_args()
    philly = load_trace("philly", traces_root(args.traces))
    trace = repeated(philly, args.jobs)
    city = load_city(Path("bench/city-qingdao.yaml"))
    with timing_decide() as spent:
        run = Simulation(trace, city, args.policy, interval_s=args.interval).run()
    rate = len(trace.jobs) / run.wall_seconds
    print(
        f"{len(trace.jobs)} jobs under {args.policy}: {run.wall_seconds:.1f} s wall, {run.cycles} cycles, "
        f"{rate:,.0f} simulated jobs/s ({(run.end - run.end.replace(year=2026, month=1, day=5)).days} days of "
        f"virtual time); target: 100,000 jobs in under 60 s"
    )
    decided = spent[0]
    print(
        f"of which the policy's decide: {decided:.1f} s ({decided / run.wall_seconds:.0%}, "
        f"{1000 * decided / max(1, run.cycles):.2f} ms a cycle); the rest of the platform (agents, store, cache, "
        f"submissions, writing results): {run.wall_seconds - decided:.1f} s"
    )


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
def timing_decide() -> Iterator[list[float]]:
    """Add up the seconds spent in `scheduling.decide` while the block runs (the list's one item)."""
    spent = [0.0]

    def timing(decide: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return decide(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started

        return timed

    with wrapped_decide(timing):
        yield spent


if __name__ == "__main__":
    main()

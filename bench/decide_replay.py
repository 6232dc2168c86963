"""`decide` alone, on the cycles of a real replay: how much of a simulation's time the policy itself takes, and
whether a change to it keeps its decisions.

A replay of a trace (Philly by default) records what `decide` was given at each cycle (the snapshot, the
waiting jobs, the time); then every policy decides those same cycles again, in order, in this one process,
with no store, agents or cache around it. It prints the time per cycle (the fastest of `--repeat` passes), by
how many jobs waited, each policy's ratio to `suanli`, and a fingerprint of each policy's decisions: a change
meant to make `decide` faster without changing what it decides must leave the fingerprint as it was.

    python bench/decide_replay.py [--jobs 3000] [--trace philly] [--every 1] [--repeat 3]
                                  [--policies suanli,slurm,cheapest,fifo] [--save FILE | --load FILE]

`--save` keeps the recorded cycles (a pickle) and `--load` decides them again without the replay, so two
versions of the code can be compared on exactly the same inputs. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import pickle
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from suanli import scheduling
from suanli.scheduling.decisions import CycleResult
from suanli.scheduling.policies import policy_names
from suanli.scheduling.snapshot import PendingJob, Snapshot
from suanli.sim.city import load_city
from suanli.sim.engine import Simulation
from suanli.sim.traces import load_trace, traces_root

sys.path.insert(0, str(Path(__file__).parent))
from sim_speed import repeated, wrapped_decide  # noqa: E402 - a sibling script, not a package

Case = tuple[Snapshot, list[PendingJob], datetime]
BUCKETS = [(0, 0), (1, 9), (10, 99), (100, 999), (1000, None)]


@contextlib.contextmanager
def recording(cases: list[Case], every: int) -> Iterator[None]:
    """Keep every `every`-th input the scheduler hands to `decide` while the block runs."""
    seen = [0]

    def keeping(decide: Callable[..., CycleResult]) -> Callable[..., CycleResult]:
        def keep(snapshot: Snapshot, pending: list[PendingJob], policy: str, now: datetime) -> CycleResult:
            if seen[0] % every == 0:
                cases.append((snapshot, list(pending), now))
            seen[0] += 1
            return decide(snapshot, pending, policy, now)

        return keep

    with wrapped_decide(keeping):
        yield


def record(trace_name: str, jobs: int, every: int, traces: Path | None) -> list[Case]:
    trace = load_trace(trace_name, traces_root(traces))
    if len(trace.jobs) < jobs:
        trace = repeated(trace, jobs)  # the trace again, weeks later, as other tenants
    trace.jobs[:] = sorted(trace.jobs, key=lambda j: (j.arrival, j.key))[:jobs]
    cases: list[Case] = []
    started = time.perf_counter()
    with recording(cases, every):
        run = Simulation(trace, load_city(Path("bench/city-qingdao.yaml")), "suanli").run()
    print(
        f"replayed {len(trace.jobs):,} {trace_name} jobs under suanli: {run.cycles:,} cycles in "
        f"{time.perf_counter() - started:.1f} s; kept {len(cases):,} of them"
    )
    return cases


def time_policy(cases: list[Case], policy: str, repeat: int) -> tuple[list[float], str]:
    """Seconds per cycle (the fastest of `repeat` passes, cycle by cycle) and a fingerprint of the decisions."""
    digest = hashlib.sha256()
    best = [float("inf")] * len(cases)
    for attempt in range(repeat):
        for i, (snapshot, pending, now) in enumerate(cases):
            started = time.perf_counter()
            result = scheduling.decide(snapshot, pending, policy, now)
            best[i] = min(best[i], time.perf_counter() - started)
            if attempt == 0:
                digest.update(repr(result).encode())
    return best, digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--trace", default="philly")
    parser.add_argument("--every", type=int, default=1, help="keep every n-th cycle")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--policies", default=",".join(["suanli", *(p for p in policy_names() if p != "suanli")]))
    parser.add_argument("--traces", type=Path, default=None)
    parser.add_argument("--save", type=Path, default=None)
    parser.add_argument("--load", type=Path, default=None)
    args = parser.parse_args()
    if args.load is not None:
        with args.load.open("rb") as f:
            cases: list[Case] = pickle.load(f)  # noqa: S301 - a file this script wrote
        print(f"loaded {len(cases):,} cycles from {args.load}")
    else:
        cases = record(args.trace, args.jobs, args.every, args.traces)
        if args.save is not None:
            with args.save.open("wb") as f:
                pickle.dump(cases, f)
    waiting = [len(pending) for _, pending, _ in cases]
    print(f"jobs waiting per cycle: mean {statistics.mean(waiting):.0f}, max {max(waiting):,}\n")
    policies = args.policies.split(",")
    print(f"| policy | ms per cycle (mean) | p50 | p95 | max | total s | ratio to {policies[0]} | decisions |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    reference = None
    per_cycle: dict[str, list[float]] = {}
    for policy in policies:
        seconds, fingerprint = time_policy(cases, policy, args.repeat)
        per_cycle[policy] = seconds
        total = sum(seconds)
        reference = total if reference is None else reference
        ms = sorted(s * 1000 for s in seconds)
        print(
            f"| {policy} | {statistics.mean(ms):.2f} | {ms[len(ms) // 2]:.2f} | {ms[int(0.95 * (len(ms) - 1))]:.2f} "
            f"| {ms[-1]:.1f} | {total:.2f} | {total / reference:.2f} | {fingerprint} |"
        )
    first = policies[0]
    print(f"\n{first}, by how many jobs waited:\n")
    print("| jobs waiting | cycles | ms per cycle |")
    print("|---|---:|---:|")
    for low, high in BUCKETS:
        picked = [s for s, n in zip(per_cycle[first], waiting, strict=True) if n >= low and (high is None or n <= high)]
        if picked:
            label = f"{low:,}" if high == low else f"{low:,}-{high:,}" if high is not None else f"{low:,} or more"
            print(f"| {label} | {len(picked):,} | {1000 * statistics.mean(picked):.2f} |")


if __name__ == "__main__":
    main()

"""What `suanli` would gain from knowing every job's true runtime: the same replays with the platform's own
learned estimates, with the true runtimes (an oracle no scheduler has), and with each half of that knowledge
alone (the true ratios between models at the learned scale; the true scale at the learned ratios), against
`slurm`, which reads no estimates. The gap between `learned` and `oracle` is the part of a result limited by
what the scheduler knows rather than by how it places.

    python bench/estimates.py [--trace gavel] [--limit 3000] [--seeds 5] [--traces ../shared/traces]

Not a test: it prints figures (means over the seeds; all runs in this one process).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from pathlib import Path

from suanli.domain.jobs.model import Job
from suanli.service.cache import SchedulerCache
from suanli.sim.city import CityModel, Workload, load_city
from suanli.sim.engine import Simulation
from suanli.sim.metrics import Metrics, measure
from suanli.sim.traces import Trace, load_trace, traces_root

MODES = ("learned", "true-ratios", "true-scale", "oracle")
Estimator = Callable[[Job, list[str]], dict[str, float]]


def estimator(mode: str, cache: SchedulerCache, workload: Workload) -> Estimator | None:
    """The estimate a replay's scheduler uses in `mode` (None: its own learned one)."""
    if mode == "learned":
        return None

    def true(job: Job, models: list[str]) -> dict[str, float]:
        key = job.spec.envs["TRACE_JOB"]
        return {m: min(workload.runtime(key, m), float(job.spec.max_runtime)) for m in models}

    if mode == "oracle":
        return true

    def half(job: Job, models: list[str]) -> dict[str, float]:
        known, learned = true(job, models), cache.learned_estimate(job, models)
        models = [m for m in models if m in learned]
        if not models:
            return learned
        # the shape (each model's runtime over the fastest one's) from one, the scale (the fastest) from the other
        shape, scale = (known, learned) if mode == "true-ratios" else (learned, known)
        fastest, base = min(shape[m] for m in models), min(scale[m] for m in models)
        return {m: max(1.0, min(base * (shape[m] / fastest), float(job.spec.max_runtime))) for m in models}

    return half


def replay(trace: Trace, city: CityModel, mode: str, seed: int) -> Metrics:
    policy = "slurm" if mode == "slurm" else "suanli"
    sim = Simulation(trace, city, policy, seed=seed)
    if mode != "slurm":
        sim.scheduler.cache.estimator = estimator(mode, sim.scheduler.cache, sim.workload)
    return measure(sim.run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", action="append", help="these traces (repeatable; default gavel and philly)")
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--traces", type=Path, default=None)
    args = parser.parse_args()
    city = load_city(Path("bench/city-qingdao.yaml"))
    for name in args.trace or ["gavel", "philly"]:
        trace = load_trace(name, traces_root(args.traces), args.limit)
        print(f"{name}: first {args.limit} jobs, means over seeds 0-{args.seeds - 1}")
        print(f"  {'estimates':<12} {'mean JCT h':>10} {'below slurm':>11} {'p95 wait h':>10} {'cost':>12} {'Jain':>6}")
        base: float | None = None
        for mode in ("slurm", *MODES):
            runs = [replay(trace, city, mode, seed) for seed in range(args.seeds)]
            jct = statistics.mean(m.jct.mean for m in runs) / 3600
            wait = statistics.mean(m.wait.p95 for m in runs) / 3600
            cost = statistics.mean(float(m.total_cost) for m in runs)
            jain = statistics.mean(m.jain for m in runs)
            base = jct if base is None else base
            versus = "" if mode == "slurm" else f"{1 - jct / base:+.0%}"
            label = "slurm" if mode == "slurm" else mode
            print(f"  {label:<12} {jct:>10.2f} {versus:>11} {wait:>10.2f} {cost:>12,.0f} {jain:>6.3f}", flush=True)


if __name__ == "__main__":
    main()

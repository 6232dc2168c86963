"""Every policy on every shared trace over the city model: the metrics, each baseline's ratio to `suanli`,
and whether `suanli` meets its targets (25% lower mean JCT and 40% lower p95 queueing delay than the best
baseline, at no higher total cost, with Jain's index at least as high).

    python bench/policies.py [--traces ../shared/traces] [--limit N] [--seed 0] [--seeds K] [--out bench/results]
                             [--scenario contracts] [--grid]

Not a test: it prints figures (and writes a report per trace). All policies run in this one process. With
`--seeds K` every trace is replayed under seeds seed..seed+K-1 (each seed maps the trace onto the city
differently: stacks per tenant, speed-ups, max_runtimes) and the verdict is taken on the means over seeds, as
one seed's outcome on a loaded city swings by a factor of two or more.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from suanli.cli.sim import run_policies
from suanli.sim.metrics import Metrics, cycle_wait_floor
from suanli.sim.traces import READERS, load_trace, traces_root

BASELINES = ["fifo", "slurm", "cheapest"]


def verdict(results: list[Metrics], floor: float = 0.0) -> list[str]:
    """How `suanli` compares with the best baseline on each target (best = lowest mean JCT). `floor`: the p95
    queueing delay no policy can go below at this cycle interval (`cycle_wait_floor`)."""
    ours = next(m for m in results if m.policy == "suanli")
    baselines = [m for m in results if m.policy in BASELINES and not math.isnan(m.jct.mean)]
    if not baselines or math.isnan(ours.jct.mean):
        return ["no batch jobs finished: the JCT targets do not apply"]
    best = min(baselines, key=lambda m: m.jct.mean)
    best_wait = min(m.wait.p95 for m in baselines)
    lines = [
        f"best baseline by mean JCT: {best.policy}",
        _line("mean JCT", ours.jct.mean, best.jct.mean, 0.25),
        _line("p95 queueing delay", ours.wait.p95, best_wait, 0.40, floor),
        f"total cost: {float(ours.total_cost):,.0f} vs {float(best.total_cost):,.0f} "
        f"({'ok' if float(ours.total_cost) <= float(best.total_cost) else 'HIGHER'})",
        f"Jain: {ours.jain:.3f} vs best baseline {max(m.jain for m in baselines):.3f} "
        f"({'ok' if ours.jain >= max(m.jain for m in baselines) - 1e-9 else 'LOWER'})",
        f"Jain in standard compute (FP16-weighted): {ours.jain_compute:.3f} vs best baseline "
        f"{max(m.jain_compute for m in baselines):.3f} "
        f"({'ok' if ours.jain_compute >= max(m.jain_compute for m in baselines) - 1e-9 else 'LOWER'})",
    ]
    return lines


def contract_lines(results: list[Metrics]) -> list[str]:
    """Under a scenario: what `suanli`'s guarantees bought (the contracted tenants' wait, the quota shortfall)
    against the baselines, which neither reclaim nor preempt, and what they cost (stops, work lost)."""
    ours = next(m for m in results if m.policy == "suanli")
    baselines = [m for m in results if m.policy in BASELINES]
    if not ours.contracts or not baselines or math.isnan(ours.contract_wait.mean):
        return []
    best = min(baselines, key=lambda m: m.contract_wait.p95)
    held = sum(t.accelerator_hours for t in ours.tenants) or 1.0
    others = min(m.other_wait.p95 for m in baselines)
    return [
        f"contracted tenants ({ours.contracts}): p95 wait {ours.contract_wait.p95 / 3600:.2f} h vs "
        f"{best.contract_wait.p95 / 3600:.2f} h ({best.policy}); mean {ours.contract_wait.mean / 3600:.2f} h vs "
        f"{best.contract_wait.mean / 3600:.2f} h; quota shortfall {ours.quota_shortfall:.0%} vs "
        f"{min(m.quota_shortfall for m in baselines):.0%}; hours short {ours.quota_short_hours:,.0f} vs "
        f"{min(m.quota_short_hours for m in baselines):,.0f}",
        f"others: p95 wait {ours.other_wait.p95 / 3600:.2f} h vs {others / 3600:.2f} h "
        f"(best baseline); cost of the guarantees: {ours.preemptions} preemptions, {ours.lost_hours:,.0f} card-hours "
        f"lost ({ours.lost_hours / held:.1%} of what ran)",
    ]


def _line(name: str, ours: float, best: float, target: float, floor: float = 0.0) -> str:
    if best <= 0:
        return f"{name}: {ours / 3600:.3f} h vs {best / 3600:.3f} h (baseline is zero: no reduction possible)"
    cut = 1 - ours / best
    text = (
        f"{name}: {ours / 3600:.2f} h vs {best / 3600:.2f} h: {cut:+.0%} lower (target {target:.0%}: "
        f"{'met' if cut >= target else 'NOT met'})"
    )
    if best * (1 - target) < floor:
        text += (
            f"; out of reach at this cycle interval: {target:.0%} below the baseline is {best * (1 - target):.0f} s, "
            f"and no policy goes below {floor:.0f} s, as every job waits for the next cycle"
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=Path, default=None)
    parser.add_argument("--trace", action="append", help="only these traces (repeatable)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N jobs of each trace")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="replay each trace under this many seeds")
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument(
        "--grid", action="store_true", help="cycles only every --interval s (the simulator before 2026-12-07)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--scenario", default=None, help="lay this scenario of the city model over every trace")
    args = parser.parse_args()
    console = Console(width=160)
    for trace in args.trace or sorted(READERS):
        console.rule(trace)
        runs: list[list[Metrics]] = []
        jobs = load_trace(trace, traces_root(args.traces), args.limit).jobs
        # a woken loop places a job the second it arrives; on a grid every job waits for the next boundary
        floor = cycle_wait_floor([j.arrival for j in jobs if not j.is_service], args.interval) if args.grid else 0.0
        folder = args.out / (f"{trace}-{args.scenario}" if args.scenario else trace)
        for seed in range(args.seed, args.seed + args.seeds):
            results = run_policies(
                trace,
                ["suanli", *BASELINES],
                limit=args.limit,
                seed=seed,
                city=Path("bench/city-qingdao.yaml"),
                traces=args.traces,
                interval=args.interval,
                out=folder / f"seed-{seed}" if args.seeds > 1 else folder,
                console=console,
                scenario=args.scenario,
                grid=args.grid,
            )
            runs.append(results)
            for line in verdict(results, floor) + contract_lines(results):
                console.print(f"  seed {seed}: " + line)
        if args.seeds > 1:
            for line in verdict([_mean(policy_runs) for policy_runs in zip(*runs, strict=True)], floor):
                console.print(f"  mean over {args.seeds} seeds: " + line)


def _mean(results: Sequence[Metrics]) -> Metrics:
    """One policy's figures averaged over seeds (JCT, p95 wait, cost, Jain: what the verdict reads)."""
    n = len(results)
    first = results[0]
    return replace(
        first,
        jct=replace(first.jct, mean=sum(m.jct.mean for m in results) / n),
        wait=replace(first.wait, p95=sum(m.wait.p95 for m in results) / n),
        total_cost=str(sum(float(m.total_cost) for m in results) / n),
        jain=sum(m.jain for m in results) / n,
        jain_compute=sum(m.jain_compute for m in results) / n,
    )


if __name__ == "__main__":
    main()

"""`decide` at city scale: 10 centres, 5,000 nodes, 40,000 accelerators, 100,000 pending jobs from 1,000
tenants; placements per second and cycle time for every policy, and how both grow from a tenth of that.
With `--fleet ../shared/traces` the city takes the shape of a real fleet (Alibaba's 2026 spot-GPU cluster:
mostly 1-GPU nodes and 8-GPU nodes of six kinds) scaled to about 40,000 accelerators.

Two cities: *busy* (about 75% of the accelerators running jobs that end within a day: a cycle places what
the free quarter holds and spends most of its time ranking and explaining the jobs that wait) and *idle* (every
node free, as on the day a centre comes online or after an outage: a cycle places until the city is full, which
measures how fast placements are made when there is room). `--busy` picks the one to run (default: both).

    python bench/scale.py [--fraction 1.0] [--policies suanli,slurm,fifo,cheapest] [--seed 1] [--fleet DIR]
                          [--busy yes|no|both] [--repeat 3]

Not a test: it prints figures. Every policy runs in this one process on the same snapshot, so the ratios
hold on a noisy machine even when the absolute times move; each figure is the fastest of `--repeat` runs
(this machine's speed moves by a third from one minute to the next).
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from suanli.domain.accelerators import builtin_catalogue
from suanli.domain.centres import CentreStatus
from suanli.domain.jobs.request import Option, ResourceRequest
from suanli.scheduling import decide
from suanli.scheduling.fairness import TenantShare
from suanli.scheduling.policies import policy_names
from suanli.scheduling.snapshot import NodeFree, PendingJob, PoolState, RunningJob, Snapshot
from suanli.sim.traces import read_fleet

NOW = datetime(2026, 11, 1, tzinfo=UTC)
MODELS = ["A100", "H800", "H20", "L40S", "RTX4090", "Ascend910B", "DCU-K100"]
SHAPES = [(1, 1), (1, 2), (1, 4), (1, 8), (2, 8), (4, 8)]  # (nodes, per node), weighted towards small


Layout = list[tuple[int, str, str, int, float, int]]  # (centre, pool name, model, per node, cpus per node, nodes)

# The Alibaba 2026 spot-GPU fleet's models, as the catalogue's nearest (two series are undisclosed)
FLEET_MODELS = {"A10": "L40S", "A100-SXM4-80GB": "A100", "A800-SXM4-80GB": "A100", "H800": "H800",
                "GPU-series-1": "H20", "GPU-series-2": "Ascend910B"}  # fmt: skip


def synthetic_layout(fraction: float) -> Layout:
    """10 centres x 2 pools of 8-accelerator nodes: 5,000 nodes, 40,000 accelerators at fraction 1."""
    nodes = max(1, round(250 * fraction))
    return [(c, f"p{k}", MODELS[(c * 2 + k) % len(MODELS)], 8, 128.0, nodes) for c in range(10) for k in range(2)]


def fleet_layout(fraction: float, traces: Path) -> Layout:
    """The real fleet of `alibaba-spot-gpu-2026` (4,278 nodes of 1, 4 or 8 GPUs of six kinds), spread over 10
    centres and scaled to about 40,000 accelerators at fraction 1."""
    groups = read_fleet(traces)
    scale = 40_000 * fraction / sum(g.gpus_per_node * g.count for g in groups)
    out: Layout = []
    for i, g in enumerate(groups):
        total = max(1, round(g.count * scale))
        for c in range(10):
            nodes = total // 10 + (1 if c < total % 10 else 0)
            if nodes:
                out.append((c, f"g{i}", FLEET_MODELS.get(g.model, "A100"), g.gpus_per_node, float(g.cpus), nodes))
    return out


def city(layout: Layout, rng: random.Random, busy: bool = True) -> tuple[list[PoolState], list[RunningJob]]:
    """The pools of `layout`, about 75% of their accelerators busy with running jobs that end within a day
    (`busy`), or all free."""
    catalogue = builtin_catalogue()
    pools, running = [], []
    for c, name, model, per_node, cpus, node_count in layout:
        pool_id = f"pool-{c}-{name}"
        free = []
        for n in range(node_count):
            held = rng.choice([per_node, per_node, per_node, per_node // 2, 0])
            busy_here = held if busy else 0
            share = busy_here / per_node
            free.append(NodeFree(per_node - busy_here, cpus * (1 - share), 1024.0 * (1 - share)))
            if busy_here:
                ends = NOW + timedelta(seconds=rng.uniform(600, 86400))
                running.append(
                    RunningJob(
                        f"r-{pool_id}-{n}", f"t{rng.randrange(1000)}", pool_id, (n,), busy_here, cpus * share,
                        1024.0 * share, 50, rng.random() < 0.2, NOW - timedelta(hours=1), ends,
                        ends + timedelta(hours=2), model,
                    )
                )  # fmt: skip
        pools.append(
            PoolState(
                pool_id=pool_id,
                pool_name=name,
                centre_id=f"c{c}",
                centre_name=f"centre-{c}",
                model=model,
                stack=catalogue.get(model).stack,  # type: ignore[union-attr]
                accelerators_per_node=per_node,
                cpus_per_node=cpus,
                memory_gib_per_node=1024.0,
                node_count=node_count,
                free=tuple(free),
                centre_status=CentreStatus.ONLINE,
                price=Decimal(rng.choice(["2.6", "5.2", "8.5", "11", "26"])),
                price_card_id=f"card-{pool_id}",
                preemptible_discount=Decimal("0.4"),
                fp16_tflops=float(catalogue.get(model).fp16_tflops),  # type: ignore[union-attr]
            )
        )
    return pools, running


def queue(fraction: float, rng: random.Random, models: list[str]) -> list[PendingJob]:
    catalogue = builtin_catalogue()
    jobs = []
    for i in range(max(1, round(100_000 * fraction))):
        nodes, per_node = rng.choice(SHAPES[:4] * 4 + SHAPES[4:])
        wanted = rng.sample(models, rng.randint(1, min(3, len(models))))
        options = tuple(Option(m, per_node, catalogue.get(m).stack) for m in wanted)  # type: ignore[union-attr]
        walltime = rng.choice([3600, 4 * 3600, 24 * 3600])
        estimates = {m: walltime * rng.uniform(0.2, 0.9) for m in wanted}
        jobs.append(
            PendingJob(
                job_id=f"job-{i:06d}",
                tenant_id=f"t{rng.randrange(1000)}",
                priority=rng.choice([50, 50, 50, 80]),
                submitted_at=NOW - timedelta(seconds=rng.uniform(0, 7 * 86400)),
                request=ResourceRequest(options, nodes, 8.0 * per_node, 64.0 * per_node),
                preemptible=rng.random() < 0.2,
                shape=f"{nodes}x{per_node}:{','.join(sorted(wanted))}",
                name=f"job-{i % 500}",
                max_runtime_s=walltime,
                estimates=estimates,
            )
        )
    return jobs


def tenants(rng: random.Random) -> dict[str, TenantShare]:
    return {
        f"t{i}": TenantShare(f"t{i}", weight=1.0, usage=rng.uniform(0, 5e6), held=rng.uniform(0, 80))
        for i in range(1000)
    }


def measure(
    fraction: float, policies: list[str], seed: int, fleet: Path | None = None, busy: bool = True, repeat: int = 1
) -> list[tuple[str, float, int, int, float]]:
    rng = random.Random(seed)
    layout = fleet_layout(fraction, fleet) if fleet is not None else synthetic_layout(fraction)
    pools, running = city(layout, rng, busy)
    pending = queue(fraction, rng, sorted({model for _, _, model, _, _, _ in layout}))
    snapshot = Snapshot(tuple(pools), tuple(running), tenants(rng))
    rows = []
    for policy in policies:
        seconds = float("inf")
        for _ in range(max(1, repeat)):
            started = time.perf_counter()
            result = decide(snapshot, pending, policy, NOW)
            seconds = min(seconds, time.perf_counter() - started)
        placed = len(result.placements)
        rows.append((policy, seconds, placed, len(pending), placed / seconds if seconds else 0.0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=1.0, help="scale of the city and queue (1 = full)")
    parser.add_argument("--policies", default=",".join(policy_names()))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--fleet", type=Path, default=None, help="shared traces folder: shape the city as the Alibaba 2026 GPU fleet"
    )
    parser.add_argument("--busy", choices=["yes", "no", "both"], default="both", help="busy city, idle one, or both")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the fastest is shown")
    args = parser.parse_args()
    policies = [p for p in args.policies.split(",") if p]
    for busy in {"yes": [True], "no": [False], "both": [True, False]}[args.busy]:
        print(f"\n{'busy' if busy else 'idle'} city ({'about 75% of accelerators running' if busy else 'all free'})")
        print(f"{'scale':>6} {'policy':>9} {'pending':>8} {'cycle s':>8} {'placed':>7} {'placements/s':>13}")
        results: dict[float, dict[str, tuple[float, float]]] = {}
        for fraction in sorted({args.fraction / 10, args.fraction}):
            rows = measure(fraction, policies, args.seed, args.fleet, busy, args.repeat)
            for policy, seconds, placed, pending, rate in rows:
                results.setdefault(fraction, {})[policy] = (seconds, rate)
                print(f"{fraction:>6.2f} {policy:>9} {pending:>8} {seconds:>8.3f} {placed:>7} {rate:>13,.0f}")
        small, big = sorted(results)
        if small != big:
            print("growth from 1/10 to full scale (10x the jobs and nodes):")
            for policy in policies:
                (s0, _), (s1, _) = results[small][policy], results[big][policy]
                print(f"  {policy:>9}: cycle time x{s1 / s0:.1f}")
    print("\ntargets: a cycle over 100,000 pending jobs under 2 s; 10,000 placements per second")


if __name__ == "__main__":
    main()

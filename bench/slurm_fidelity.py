"""Simulator fidelity against a real Slurm: one window of a shared trace, time-compressed, replayed through the
Slurm test cluster (`scripts/slurm-up.sh`: partition gpu, 2 nodes x 4 gres gpu:a100) and through the simulator
with the `slurm` policy on the same node shape. Prints start-order agreement (Kendall tau-b) and the mean and p95
difference of each job's queueing delay.

    scripts/slurm-up.sh
    python bench/slurm_fidelity.py [--trace philly] [--window 200] [--offset 0] [--busy 240] [--out DIR]

How the window is made comparable: every job keeps its GPU count (1-4 GPUs on one node; 5-8 as 2 nodes x 4),
its runtime and arrival are divided by one factor so that the window's GPU-seconds fill the 8 GPUs for about
`--busy` seconds (runtimes clamped to 2-90 s), and its time limit is 1.5 x the runtime rounded up to whole
minutes (Slurm's unit) in both. One tenant, so fair-share plays no part: the `slurm` policy is then age order with
EASY backfill, and Slurm runs priority/basic (submit order) with its backfill scheduler. Slurm jobs are
`sleep <runtime>`; times are Slurm's whole seconds. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

from suanli.sim.city import CentreSpec, CityModel, PoolSpec, TraceFit
from suanli.sim.engine import Simulation
from suanli.sim.metrics import outcomes
from suanli.sim.traces import Trace, TraceJob, load_trace, traces_root

GPUS_PER_NODE, NODES = 4, 2


def window(trace: Trace, size: int, offset: int, busy: float) -> list[tuple[str, float, int, int, float, int]]:
    """(key, arrival s, nodes, per node, runtime s, limit min) for `size` finite GPU jobs, compressed."""
    picked = [j for j in trace.jobs if j.gpus > 0 and j.duration and not j.is_service][offset : offset + size]
    shaped = []
    for j in picked:
        gpus = min(j.gpus, GPUS_PER_NODE * NODES)
        nodes, per_node = (1, gpus) if gpus <= GPUS_PER_NODE else (NODES, GPUS_PER_NODE)
        shaped.append((j, nodes, per_node))
    work = sum(n * p * (j.duration or 0) for j, n, p in shaped)
    factor = work / (GPUS_PER_NODE * NODES * busy)
    first = min(j.arrival for j, _, _ in shaped)
    out = []
    for j, nodes, per_node in shaped:
        runtime = float(min(90, max(2, round((j.duration or 0) / factor))))
        limit = math.ceil(1.5 * runtime / 60)
        out.append((j.key, round((j.arrival - first) / factor, 1), nodes, per_node, runtime, limit))
    return sorted(out, key=lambda r: (r[1], r[0]))


def run_slurm(jobs: list, conf: str) -> dict[str, tuple[float, float]]:
    """Submit each job at its arrival; (submit, start) seconds from the first submission, per key."""
    env = {**os.environ, "SLURM_CONF": conf}
    tag = uuid.uuid4().hex[:6]
    names = {}
    t0 = time.time()
    for key, arrival, nodes, per_node, runtime, limit in jobs:
        delay = t0 + arrival - time.time()
        if delay > 0:
            time.sleep(delay)
        name = f"fid-{tag}-{key}"[:100]
        names[name] = key
        subprocess.run(
            ["sbatch", "--parsable", f"--job-name={name}", "--partition=gpu", f"--nodes={nodes}",
             "--ntasks-per-node=1", f"--gres=gpu:a100:{per_node}", f"--time={limit}", "--cpus-per-task=1",
             "--mem=100M", "--output=/dev/null", f"--wrap=sleep {runtime}"],
            env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
    while True:
        out = subprocess.run(
            ["squeue", "-h", "-o", "%j"], env=env, check=True, capture_output=True, text=True
        ).stdout.split()
        if not any(n in names for n in out):
            break
        time.sleep(2)
    time.sleep(2)  # accounting takes the last records in
    rows = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", "now-2hours", "--format=JobName%100,Submit,Start"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.splitlines()  # fmt: skip
    result = {}
    base = None
    for row in rows:
        name, submit, start = row.split("|")
        if name in names:
            s, b = _epoch(submit), _epoch(start)
            base = s if base is None else min(base, s)
            result[names[name]] = (s, b)
    assert base is not None, "no job came back from sacct"
    return {k: (s - base, b - base) for k, (s, b) in result.items()}


def run_sim(jobs: list, policy: str) -> dict[str, tuple[float, float]]:
    trace = Trace(
        "fidelity",
        [TraceJob(key, "tenant", arrival, n * p, duration=rt) for key, arrival, n, p, rt, _ in jobs],
        horizon=max(a for _, a, *_ in jobs) + 3600,
        gpu_types=(),
        source="compressed window",
    )
    pool = PoolSpec("a100", "A100", NODES, GPUS_PER_NODE, 8, 16, "10.00", "0.4")
    city = CityModel("slurm-twin", (CentreSpec("slurm", "slurm", "", (pool,)),), {"fidelity": TraceFit(
        reference="A100", speed_exponent=(0.0, 0.0))})  # fmt: skip
    sim = Simulation(trace, city, policy, interval_s=1.0)
    for key, _, nodes, per_node, _, limit in jobs:
        sim.workload.jobs[key] = replace(sim.workload.jobs[key], nodes=nodes, per_node=per_node, walltime=limit * 60)
    run = sim.run()
    return {o.key: (o.submitted, o.first_start) for o in outcomes(run) if o.first_start is not None}


def kendall_tau_b(x: list[float], y: list[float]) -> float:
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denom = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denom if denom else float("nan")


def compare(real: dict, sim: dict) -> dict[str, float]:
    keys = sorted(set(real) & set(sim))
    waits_real = [max(0.0, real[k][1] - real[k][0]) for k in keys]
    waits_sim = [max(0.0, sim[k][1] - sim[k][0]) for k in keys]
    diffs = sorted(abs(a - b) for a, b in zip(waits_real, waits_sim, strict=True))
    return {
        "jobs": len(keys),
        "kendall_tau_b_start_order": kendall_tau_b([real[k][1] for k in keys], [sim[k][1] for k in keys]),
        "mean_wait_slurm_s": sum(waits_real) / len(keys),
        "mean_wait_sim_s": sum(waits_sim) / len(keys),
        "mean_abs_wait_diff_s": sum(diffs) / len(diffs),
        "p95_abs_wait_diff_s": diffs[min(len(diffs) - 1, math.ceil(0.95 * len(diffs)) - 1)],
    }


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", default="philly")
    parser.add_argument("--traces", type=Path, default=None)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--busy", type=float, default=240.0, help="seconds of work for the 8 GPUs")
    parser.add_argument("--slurm-conf", default=os.environ.get("SLURM_CONF", "/tmp/suanli-slurm/etc/slurm.conf"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    trace = load_trace(args.trace, traces_root(args.traces), limit=(args.offset + args.window) * 3)
    jobs = window(trace, args.window, args.offset, args.busy)
    runtimes = [j[4] for j in jobs]
    print(f"{args.trace}: {len(jobs)} jobs, arrivals over {jobs[-1][1]:.0f} s, runtimes {min(runtimes):.0f}-"
          f"{max(runtimes):.0f} s (mean {sum(runtimes) / len(runtimes):.1f}), 8 GPUs")  # fmt: skip
    started = time.perf_counter()
    real = run_slurm(jobs, args.slurm_conf)
    print(f"real Slurm: {len(real)} jobs in {time.perf_counter() - started:.0f} s wall")
    results = {}
    for policy in ("slurm", "fifo"):
        sim = run_sim(jobs, policy)
        results[policy] = compare(real, sim)
    head = f"{'simulator policy':<18}{'tau-b':>8}{'wait slurm':>12}{'wait sim':>10}"
    print(f"{head}{'mean |diff|':>13}{'p95 |diff|':>12}")
    for policy, r in results.items():
        print(
            f"{policy:<18}{r['kendall_tau_b_start_order']:>8.3f}{r['mean_wait_slurm_s']:>11.1f}s"
            f"{r['mean_wait_sim_s']:>9.1f}s{r['mean_abs_wait_diff_s']:>12.1f}s{r['p95_abs_wait_diff_s']:>11.1f}s"
        )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"slurm-fidelity-{args.trace}.json"
        path.write_text(json.dumps({"trace": args.trace, "jobs": jobs, "results": results}, indent=2))
        print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())

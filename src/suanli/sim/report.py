"""Reports of simulations: a Markdown page with tables, PNG plots, and the metrics as JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402

from suanli.sim.engine import SimRun
from suanli.sim.metrics import Metrics, outcomes, utilisation_series

_H = 3600.0


def _h(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds / _H:.2f}"


def _num(value: float) -> str:
    """Two decimals, or "-" where there was nothing to measure (no finished job; never backlogged beside others)."""
    return "-" if math.isnan(value) else f"{value:.2f}"


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0%}"


def _ratio(value: float, base: float) -> str:
    if math.isnan(value) or math.isnan(base) or base == 0:
        return "-"
    return f"{value / base:.2f}x"


def markdown(results: Sequence[Metrics], reference: str = "suanli", title: str = "") -> str:
    """Tables comparing policies on one trace; ratios are each policy's value over the reference's."""
    ref = next((m for m in results if m.policy == reference), results[0])
    trace = results[0].trace
    scenario = f" ({ref.scenario})" if ref.scenario else ""
    lines = [f"# {title or f'Simulation: {trace}{scenario}'}", ""]
    lines += [
        f"Trace `{trace}`; seed {results[0].seed}; {ref.batch_jobs} batch jobs, {ref.services} services. "
        + (
            f"{ref.censored} of the batch jobs were still running when the trace ended (censored): each is replayed "
            "for the lifetime the trace saw and counts in no JCT. "
            if ref.censored
            else ""
        )
        + f"Times in hours; ratios are over `{ref.policy}` (below 1.00x: better than `{ref.policy}`).",
        "",
        "| policy | mean JCT | median | p95 JCT | p99 JCT | mean wait | p95 wait | p99 wait | bounded slowdown | "
        "makespan | cost (CNY) | Jain | Jain (FP16) | unfinished |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in results:
        lines.append(
            f"| `{m.policy}` | {_h(m.jct.mean)} ({_ratio(m.jct.mean, ref.jct.mean)}) | {_h(m.jct.median)} | "
            f"{_h(m.jct.p95)} | {_h(m.jct.p99)} | {_h(m.wait.mean)} | {_h(m.wait.p95)} "
            f"({_ratio(m.wait.p95, ref.wait.p95)}) | {_h(m.wait.p99)} | {m.bounded_slowdown.mean:.1f} | "
            f"{m.makespan_h:.1f} | {float(m.total_cost):,.0f} ({_ratio(float(m.total_cost), float(ref.total_cost))}) | "
            f"{m.jain:.3f} | {m.jain_compute:.3f} | {m.unfinished + m.refused} |"
        )
    if any(m.services for m in results):
        lines += [
            "",
            "Long-running services (placement delay in hours):",
            "",
            "| policy | services | mean delay | p95 delay | p99 delay | never placed |",
            "|---|---|---|---|---|---|",
        ]
        for m in results:
            d = m.service_placement_delay
            lines.append(
                f"| `{m.policy}` | {m.services} | {_h(d.mean)} | {_h(d.p95)} | {_h(d.p99)} | "
                f"{m.services_never_placed} |"
            )
    if any(m.scenario for m in results):
        lines += [
            "",
            f"Scenario `{ref.scenario}`: {ref.contracts} tenant(s) with a contracted quota; waits in hours; quota "
            "shortfall: the share of contracted compute not held while its tenant had work waiting; hours short: "
            "that compute in A100-equivalent hours over the whole replay.",
            "",
            "| policy | preemptions | lost card-hours | contracted: mean wait | p95 wait | others: mean wait | "
            "p95 wait | quota shortfall | hours short |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for m in results:
            lines.append(
                f"| `{m.policy}` | {m.preemptions} | {m.lost_hours:,.1f} | {_h(m.contract_wait.mean)} | "
                f"{_h(m.contract_wait.p95)} | {_h(m.other_wait.mean)} | {_h(m.other_wait.p95)} | "
                f"{_pct(m.quota_shortfall)} | {m.quota_short_hours:,.1f} |"
            )
    pools = sorted({p for m in results for p in m.utilisation})
    lines += [
        "",
        "Utilisation of each pool from the first arrival to the last completion:",
        "",
        "| policy | " + " | ".join(pools) + " |",
        "|---|" + "---|" * len(pools),
    ]
    for m in results:
        lines.append(f"| `{m.policy}` | " + " | ".join(f"{m.utilisation.get(p, 0):.0%}" for p in pools) + " |")
    lines += [
        "",
        f"Tenants under `{ref.policy}` (share vs fair: time-averaged share of what the backlogged held, "
        "over the fair share; 1.00 = exactly fair):",
        "",
        "| tenant | jobs | accelerator-hours | cost (CNY) | mean JCT (h) | share vs fair |",
        "|---|---|---|---|---|---|",
    ]
    for t in ref.tenants:
        lines.append(
            f"| {t.tenant} | {t.jobs} | {t.accelerator_hours:,.1f} | {float(t.cost):,.0f} | "
            f"{_num(t.mean_jct_h)} | {_num(t.share_vs_fair)} |"
        )
    lines += [
        "",
        "Simulator: " + "; ".join(f"`{m.policy}` {m.cycles} cycles in {m.wall_seconds:.1f} s" for m in results),
        "",
    ]
    return "\n".join(lines)


def write(results: Sequence[Metrics], runs: Sequence[SimRun], out: Path, title: str = "") -> list[Path]:
    """Write report.md, metrics.json and the plots into `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "report.md", out / "metrics.json"]
    data = [m.to_json() for m in results]
    (out / "metrics.json").write_text(json.dumps(data, indent=1, default=str, allow_nan=False))
    text = markdown(results, title=title)
    plots = _plots(runs, out)
    if plots:
        text += "\n" + "\n".join(f"![{p.stem}]({p.name})" for p in plots) + "\n"
    (out / "report.md").write_text(text)
    return files + plots


def _plots(runs: Sequence[SimRun], out: Path) -> list[Path]:
    written = []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in runs:
        waits = sorted(j.wait / _H for j in outcomes(run) if not j.service and j.wait is not None)
        if waits:
            ax.plot(waits, [(i + 1) / len(waits) for i in range(len(waits))], label=run.policy)
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlabel("queueing delay (hours)")
    ax.set_ylabel("fraction of jobs")
    ax.set_title(f"Queueing delay CDF: {runs[0].trace.name}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = out / "wait-cdf.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    for run in runs:
        hours, series = utilisation_series(run)
        fig, ax = plt.subplots(figsize=(9, 4.5))
        for label, values in series.items():
            ax.plot(hours, [min(v, 1.0) for v in values], label=label, linewidth=0.8)
        ax.set_xlabel("hours since start")
        ax.set_ylabel("busy fraction")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"Utilisation per pool: {run.trace.name}, {run.policy}")
        ax.legend(fontsize=7, ncol=3)
        fig.tight_layout()
        path = out / f"utilisation-{run.policy}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written

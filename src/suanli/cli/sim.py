"""`suanli sim`: replay a public trace through the platform on a virtual clock, under one or more policies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from suanli.scheduling.policies import policy_names
from suanli.sim.city import load_city
from suanli.sim.engine import Simulation
from suanli.sim.metrics import Metrics, measure
from suanli.sim.report import write
from suanli.sim.traces import READERS, load_trace, traces_root

DEFAULT_CITY = Path("bench/city-qingdao.yaml")


def run_policies(
    trace_name: str,
    policies: list[str],
    *,
    limit: int | None,
    seed: int,
    city: Path,
    traces: Path | None,
    interval: float,
    out: Path | None,
    console: Console,
) -> list[Metrics]:
    """Replay one trace under each policy; print a table; write the report if `out` is given."""
    root = traces_root(traces)
    trace = load_trace(trace_name, root, limit=limit)
    model = load_city(city)
    results, runs = [], []
    for policy in policies:
        console.print(f"[dim]simulating {trace_name} ({len(trace.jobs)} jobs) under {policy}...[/]")
        run = Simulation(trace, model, policy, seed=seed, interval_s=interval).run()
        runs.append(run)
        results.append(measure(run))
    console.print(summary_table(results))
    if out is not None:
        files = write(results, runs, out)
        console.print(f"report: {files[0]}  ({len(files)} files in {out})")
    return results


def summary_table(results: list[Metrics]) -> Table:
    table = Table(title=f"{results[0].trace}: hours", header_style="bold", show_edge=False)
    for column in (
        "policy",
        "mean JCT",
        "p95 JCT",
        "mean wait",
        "p95 wait",
        "slowdown",
        "cost (CNY)",
        "Jain",
        "Jain FP16",
        "unfinished",
        "sim wall s",
    ):
        table.add_column(column, justify="right" if column != "policy" else "left")
    for m in results:
        table.add_row(
            m.policy,
            f"{m.jct.mean / 3600:.2f}",
            f"{m.jct.p95 / 3600:.2f}",
            f"{m.wait.mean / 3600:.2f}",
            f"{m.wait.p95 / 3600:.2f}",
            f"{m.bounded_slowdown.mean:.1f}",
            f"{float(m.total_cost):,.0f}",
            f"{m.jain:.3f}",
            f"{m.jain_compute:.3f}",
            str(m.unfinished + m.refused),
            f"{m.wall_seconds:.1f}",
        )
    return table


def register(app: typer.Typer, console: Console) -> None:
    @app.command()
    def sim(
        trace: Annotated[str, typer.Option(help=f"one of: {', '.join(sorted(READERS))}")] = "philly",
        policy: Annotated[list[str] | None, typer.Option(help="policy to run (repeat for several)")] = None,
        all_policies: Annotated[bool, typer.Option("--all", help="every registered policy")] = False,
        limit: Annotated[int | None, typer.Option(help="only the first N jobs of the trace")] = None,
        seed: Annotated[int, typer.Option(help="the random seed (speeds, walltimes, portability)")] = 0,
        city: Annotated[Path, typer.Option(help="the city model")] = DEFAULT_CITY,
        traces: Annotated[Path | None, typer.Option(help="the shared traces folder")] = None,
        interval: Annotated[float, typer.Option(help="seconds between scheduling cycles")] = 60.0,
        out: Annotated[Path | None, typer.Option(help="write report.md, metrics.json and plots here")] = None,
    ) -> None:
        """Replay a public trace through the platform on a virtual clock and compare policies."""
        chosen = (
            policy_names()
            if all_policies
            else (policy or ["suanli" if "suanli" in policy_names() else policy_names()[0]])
        )
        unknown = [p for p in chosen if p not in policy_names()]
        if unknown:
            raise typer.BadParameter(f"unknown policy {unknown[0]!r}; policies: {', '.join(policy_names())}")
        run_policies(
            trace, chosen, limit=limit, seed=seed, city=city, traces=traces, interval=interval, out=out, console=console
        )

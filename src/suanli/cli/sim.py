"""`suanli sim`: replay a public trace through the platform on a virtual clock, under one or more policies."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as ProgressBar
from rich.table import Table

from suanli.domain.errors import InvalidInput
from suanli.scheduling.policies import policy_names
from suanli.sim.city import load_city
from suanli.sim.engine import Progress, Simulation
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
    scenario: str | None = None,
    grid: bool = False,
) -> list[Metrics]:
    """Replay one trace under each policy (with the city's named `scenario` laid over it, if given); print a
    table; write the report if `out` is given. `grid`: cycles only every `interval` seconds, not also when a
    job arrives or ends."""
    root = traces_root(traces)
    trace = load_trace(trace_name, root, limit=limit)
    model = load_city(city)
    laid = model.scenario(scenario)
    results, runs = [], []
    for policy in policies:
        console.print(f"[dim]simulating {trace_name} ({len(trace.jobs)} jobs) under {policy}...[/]")
        simulation = Simulation(trace, model, policy, seed=seed, interval_s=interval, scenario=laid, wake=not grid)
        with _progress_bar(console) as bar:
            task = bar.add_task(f"{trace_name} under {policy}", total=len(trace.jobs), day=0.0, cycles=0)

            def told(p: Progress, bar: ProgressBar = bar, task: TaskID = task) -> None:
                bar.update(task, completed=p.submitted, day=p.virtual_s / 86400, cycles=p.cycles)

            run = simulation.run(progress=told)
        runs.append(run)
        results.append(measure(run))
    console.print(summary_table(results))
    if laid is not None:
        console.print(scenario_table(results))
    if out is not None:
        files = write(results, runs, out)
        console.print(f"report: {files[0]}  ({len(files)} files in {out})")
    return results


def _progress_bar(console: Console) -> ProgressBar:
    """A replay's progress while it runs (gone when it ends): jobs submitted, virtual day, cycles, wall time."""
    return ProgressBar(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} jobs in"),
        TextColumn("day {task.fields[day]:.1f}"),
        TextColumn("{task.fields[cycles]:,} cycles"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _table(title: str, *columns: str) -> Table:
    """A table with a left-aligned policy column and the figures' columns right-aligned."""
    table = Table(title=title, header_style="bold", show_edge=False)
    table.add_column("policy", justify="left")
    for column in columns:
        table.add_column(column, justify="right")
    return table


def summary_table(results: list[Metrics]) -> Table:
    table = _table(
        f"{results[0].trace}: hours",
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
    )
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


def scenario_table(results: list[Metrics]) -> Table:
    """What a scenario's contracts cost (stops, work lost) and bought (the contracted tenants' wait)."""
    first = results[0]
    table = _table(
        f"{first.trace}, scenario {first.scenario}: {first.contracts} contracted tenant(s); hours",
        "preemptions",
        "lost card-h",
        "contracted mean wait",
        "contracted p95 wait",
        "others mean wait",
        "others p95 wait",
        "quota shortfall",
        "hours short",
    )
    for m in results:
        shortfall = m.quota_shortfall
        table.add_row(
            m.policy,
            str(m.preemptions),
            f"{m.lost_hours:,.1f}",
            f"{m.contract_wait.mean / 3600:.2f}",
            f"{m.contract_wait.p95 / 3600:.2f}",
            f"{m.other_wait.mean / 3600:.2f}",
            f"{m.other_wait.p95 / 3600:.2f}",
            "-" if math.isnan(shortfall) else f"{shortfall:.0%}",
            f"{m.quota_short_hours:,.1f}",
        )
    return table


def register(app: typer.Typer, console: Console) -> None:
    @app.command()
    def sim(
        trace: Annotated[str, typer.Option(help=f"one of: {', '.join(sorted(READERS))}")] = "philly",
        policy: Annotated[list[str] | None, typer.Option(help="policy to run (repeat for several)")] = None,
        all_policies: Annotated[bool, typer.Option("--all", help="every registered policy")] = False,
        limit: Annotated[int | None, typer.Option(min=1, help="only the first N jobs of the trace")] = None,
        seed: Annotated[int, typer.Option(help="the random seed (speeds, walltimes, portability)")] = 0,
        city: Annotated[Path, typer.Option(help="the city model")] = DEFAULT_CITY,
        traces: Annotated[Path | None, typer.Option(help="the shared traces folder")] = None,
        interval: Annotated[
            float, typer.Option(help="with --grid: seconds between scheduling cycles (above 0)")
        ] = 60.0,
        grid: Annotated[
            bool, typer.Option("--grid", help="cycles only every --interval seconds, not when a job arrives or ends")
        ] = False,
        out: Annotated[Path | None, typer.Option(help="write report.md, metrics.json and plots here")] = None,
        scenario: Annotated[
            str | None, typer.Option(help="lay a scenario of the city model over the trace (e.g. contracts)")
        ] = None,
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
        _check_inputs(trace, traces, city, scenario, interval, out)
        run_policies(
            trace,
            chosen,
            limit=limit,
            seed=seed,
            city=city,
            traces=traces,
            interval=interval,
            out=out,
            console=console,
            scenario=scenario,
            grid=grid,
        )


def _check_inputs(
    trace: str, traces: Path | None, city: Path, scenario: str | None, interval: float, out: Path | None
) -> None:
    """Refuse bad options before anything runs, each naming its option: an unknown trace, a traces folder
    without it, a bad city file (with the place in it) or a scenario it does not name, a cycle interval not
    above 0, and an output folder that cannot be written."""
    if trace not in READERS:
        raise typer.BadParameter(f"no trace {trace!r}; traces: {', '.join(sorted(READERS))}", param_hint="--trace")
    if not interval > 0:  # NaN too
        raise typer.BadParameter("seconds between cycles: a number above 0", param_hint="--interval")
    try:
        root = traces_root(traces)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--traces") from None
    try:
        load_trace(trace, root, limit=1)
    except OSError as exc:
        missing = f"{root} has no {trace} trace ({exc.filename} missing)"
        raise typer.BadParameter(missing, param_hint="--traces") from None
    try:
        model = load_city(city)
    except InvalidInput as exc:
        first = exc.errors[0]
        where = "" if first.field == "city" else f"{first.field}: "
        raise typer.BadParameter(f"{where}{first.message}", param_hint="--city") from None
    try:
        model.scenario(scenario)
    except InvalidInput as exc:
        raise typer.BadParameter(exc.errors[0].message, param_hint="--scenario") from None
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise typer.BadParameter(f"cannot make {out}: {exc.strerror or exc}", param_hint="--out") from None
        if not os.access(out, os.W_OK):
            raise typer.BadParameter(f"cannot write in {out}", param_hint="--out")

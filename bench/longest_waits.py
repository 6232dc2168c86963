"""The jobs that waited longest in one replay, and why: each one's shape, the models it accepts, how long it
waited and ran, and the last line of its own the scheduler gave it while it waited (its reservation, or the rule
that kept it from stopping others' work). Where to start when a trace's mean JCT or fairness is off.

    python bench/longest_waits.py [--trace openb] [--seed 1] [--limit 3000] [--policy suanli] [--top 10]
                                  [--scenario contracts] [--traces ../shared/traces] [--city FILE]

Not a test: it prints what it finds.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from suanli.domain.jobs.states import JobState
from suanli.sim.city import load_city
from suanli.sim.engine import SIM_START, Simulation
from suanli.sim.metrics import outcomes
from suanli.sim.traces import load_trace, traces_root

sys.path.insert(0, str(Path(__file__).parent))
from sim_speed import wrapped_decide  # noqa: E402 - a sibling script, not a package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", default="openb")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--policy", default="suanli")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--scenario", default=None)
    parser.add_argument("--traces", type=Path, default=None)
    parser.add_argument("--city", type=Path, default=Path("bench/city-qingdao.yaml"))
    args = parser.parse_args()
    city = load_city(args.city)
    trace = load_trace(args.trace, traces_root(args.traces), args.limit)
    sim = Simulation(trace, city, args.policy, seed=args.seed, scenario=city.scenario(args.scenario))
    said: dict[str, tuple[float, str]] = {}  # job id -> (hour, the last note it was given while waiting)

    def listening(decide: Callable[..., Any]) -> Callable[..., Any]:
        def heard(snapshot: Any, pending: Any, policy: str, now: Any) -> Any:
            result = decide(snapshot, pending, policy, now)
            hour = (now - SIM_START).total_seconds() / 3600
            for job_id, note in result.notes.items():
                said[job_id] = (hour, note)
            return result

        return heard

    with wrapped_decide(listening):
        run = sim.run()
    with run.ctx.store.uow() as uow:
        ids = {j.spec.envs.get("TRACE_JOB", j.id): j.id for j in uow.jobs.in_states(list(JobState))}
    waited = sorted((o for o in outcomes(run) if o.wait is not None), key=lambda o: -(o.wait or 0.0))
    print(f"{args.trace} seed {args.seed} under {args.policy}: the {args.top} longest waits (hours from the start)")
    for o in waited[: args.top]:
        job = run.workload.jobs[o.key]
        kind = "service" if o.service else "batch"
        print(
            f"- {o.key} ({kind}, {job.nodes} x {job.per_node} cards, accepts {', '.join(job.models) or 'CPU'}): "
            f"submitted at {o.submitted / 3600:,.1f} h, waited {(o.wait or 0.0) / 3600:,.1f} h, ran "
            f"{o.run_seconds / 3600:,.1f} h"
        )
        last = said.get(ids.get(o.key, ""))
        if last is not None:
            print(f"    at {last[0]:,.1f} h: {last[1]}")


if __name__ == "__main__":
    main()

"""Preemption in the simulator: a higher-priority job stops a preemptible one and starts as soon as the stop is
done, not when the simulated centre next has something else to report."""

from __future__ import annotations

from suanli.domain.jobs.states import JobState
from suanli.sim.city import CentreSpec, CityModel, PoolSpec, TraceFit
from suanli.sim.engine import Simulation
from suanli.sim.metrics import outcomes
from suanli.sim.traces import Trace, TraceJob

HOUR = 3600.0
CITY = CityModel(
    "one-node",
    (CentreSpec("gpu", "GPU centre", "", (PoolSpec("a100", "A100", 1, 8, 64, 512, "10", "0.5"),)),),
    {"mini": TraceFit(types={"A100": ("A100",)})},
)


def test_a_preempted_job_makes_room_within_minutes_and_runs_again_after():
    trace = Trace(
        "mini",
        [
            TraceJob("spot", "lab", 0.0, 8, duration=10 * HOUR, gpu_types=("A100",), preemptible=True, priority=10),
            TraceJob("urgent", "agency", HOUR, 8, duration=HOUR, gpu_types=("A100",), priority=90),
        ],
        30 * HOUR,
        ("A100",),
        "made by hand",
    )
    run = Simulation(trace, CITY, "suanli").run()
    jobs = {o.key: o for o in outcomes(run)}
    urgent, spot = jobs["urgent"], jobs["spot"]
    assert urgent.first_start is not None and urgent.first_start - urgent.submitted <= 5 * 60
    assert spot.state is JobState.SUCCEEDED and spot.attempts == 2  # requeued whole and run again after
    assert spot.end is not None and urgent.end is not None and spot.end > urgent.end

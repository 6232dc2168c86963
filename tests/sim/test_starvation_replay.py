"""No tenant starves in the simulator either: a job waiting behind another tenant's year-long preemptible
services gets in once it has waited a day, although nothing else happens in the city meanwhile (the policy says
when to look again, and the simulator wakes then, as the live loop would run a cycle anyway)."""

from __future__ import annotations

from suanli.domain.jobs.states import JobState
from suanli.scheduling.preemption import STARVE_AFTER_S
from suanli.sim.city import CentreSpec, CityModel, PoolSpec, TraceFit
from suanli.sim.engine import Simulation
from suanli.sim.metrics import outcomes
from suanli.sim.traces import Trace, TraceJob

HOUR = 3600.0
YEAR = 365 * 24 * HOUR
CITY = CityModel(
    "two-nodes",
    (CentreSpec("gpu", "GPU centre", "", (PoolSpec("a100", "A100", 2, 8, 64, 512, "10", "0.5"),)),),
    {"mini": TraceFit(types={"A100": ("A100",)})},
)


def test_a_job_behind_a_richer_tenants_services_starts_a_day_after_it_arrived():
    services = [
        TraceJob(f"svc{i}", "platform", 0.0, 8, kind="service", duration=None, gpu_types=("A100",), preemptible=True)
        for i in range(2)
    ]
    hungry = TraceJob("hungry", "lab", HOUR, 4, duration=2 * HOUR, gpu_types=("A100",))
    trace = Trace("mini", [*services, hungry], 30 * 24 * HOUR, ("A100",), "made by hand")
    run = Simulation(trace, CITY, "suanli").run()
    jobs = {o.key: o for o in outcomes(run)}
    got = jobs["hungry"]
    assert got.state is JobState.SUCCEEDED and got.first_start is not None
    waited = got.first_start - got.submitted
    assert STARVE_AFTER_S <= waited <= STARVE_AFTER_S + 10 * 60  # a day, then the next cycles
    assert run.cycles < 20  # woken for that, not every interval of the month

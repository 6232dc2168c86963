"""Scenarios over a trace: contracted tenants get their quota, others submit preemptible work, and the
replay measures what the guarantees cost (preemptions, work lost) and bought (the contracted tenants' wait)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from suanli.domain.errors import InvalidInput
from suanli.sim.city import CentreSpec, CityModel, PoolSpec, TraceFit, load_city
from suanli.sim.engine import Sample, Simulation
from suanli.sim.metrics import measure, outcomes, quota_short_hours, quota_shortfall
from suanli.sim.scenarios import Scenario, parse
from suanli.sim.traces import Trace, TraceJob

HOUR = 3600.0
CITY = CityModel(
    "two-nodes",
    (CentreSpec("gpu", "GPU centre", "", (PoolSpec("a100", "A100", 2, 8, 64, 512, "10", "0.5"),)),),
    {"mini": TraceFit(types={"A100": ("A100",)})},
)
# two tenants: the heavier (the lab) holds a contract for half the city, 8 A100s; the walk-in's work is preemptible
CONTRACTS = Scenario("contracts", contract_tenants=0.5, contracted=0.5, preemptible=1.0)


def _trace() -> Trace:
    walk_in = [TraceJob(f"w{i}", "walk-in", 60.0 * i, 8, duration=10 * HOUR, gpu_types=("A100",)) for i in range(4)]
    lab = [TraceJob(f"lab{i}", "lab", HOUR + 60.0 * i, 8, duration=30 * HOUR, gpu_types=("A100",)) for i in range(2)]
    return Trace("mini", walk_in + lab, 100 * HOUR, ("A100",), "made by hand")


def test_a_contracted_tenant_takes_its_quota_back_from_preemptible_work_and_no_more():
    run = Simulation(_trace(), CITY, "suanli", scenario=CONTRACTS).run()
    assert list(run.contracts.values()) == [8.0]  # half of 16 A100-equivalents, for the heavier tenant
    jobs = {o.key: o for o in outcomes(run)}
    first, second = jobs["lab0"], jobs["lab1"]
    assert first.first_start is not None and first.first_start - first.submitted <= 5 * 60  # reclaimed at once
    # the second would leave the lab borrowing beyond its quota: it waits for a walk-in job to end, stopping none
    assert second.first_start is not None and second.first_start >= 10 * HOUR
    stopped = [o for o in jobs.values() if o.preempted]
    assert len(stopped) == 1 and stopped[0].key.startswith("w") and stopped[0].attempts == 2
    metrics = measure(run)
    assert metrics.scenario == "contracts" and metrics.contracts == 1 and metrics.preemptions == 1
    assert metrics.lost_hours == pytest.approx(8.0, abs=0.5)  # the stopped job had run about an hour on 8 cards
    assert metrics.contract_wait.count == 2 and metrics.other_wait.count == 4


def test_without_preemption_the_guarantee_waits_for_the_walk_in_jobs_to_end():
    ours = measure(Simulation(_trace(), CITY, "suanli", scenario=CONTRACTS).run())
    fifo = measure(Simulation(_trace(), CITY, "fifo", scenario=CONTRACTS).run())
    assert fifo.preemptions == 0 and fifo.lost_hours == 0
    assert ours.contract_wait.mean < fifo.contract_wait.mean
    assert ours.quota_shortfall < fifo.quota_shortfall


def test_a_plain_replay_has_no_contracts_and_keeps_the_traces_preemptible_flags():
    run = Simulation(_trace(), CITY, "suanli").run()
    metrics = measure(run)
    assert run.contracts == {} and metrics.contracts == 0 and math.isnan(metrics.quota_shortfall)
    assert metrics.preemptions == 0
    assert not any(j.preemptible for j in run.workload.jobs.values())


def test_contracted_tenants_submit_nothing_preemptible_and_the_others_their_share():
    jobs = [TraceJob(f"j{i}", f"t{i % 4}", float(i), 8, duration=HOUR * (1 + i % 4)) for i in range(400)]
    trace = Trace("mini", jobs, 1000 * HOUR, ("A100",), "made by hand")
    run = Simulation(trace, CITY, "fifo", scenario=Scenario("s", 0.25, 0.5, 0.3))
    assert set(run.workload.contracts) == {"t3"}  # the heaviest: its jobs run longest
    drawn = {j.trace.key: j.preemptible for j in run.workload.jobs.values()}
    assert not any(drawn[f"j{i}"] for i in range(3, 400, 4))
    others = [drawn[f"j{i}"] for i in range(400) if i % 4 != 3]
    assert 0.2 < sum(others) / len(others) < 0.4


def test_the_city_model_names_its_scenarios_and_refuses_unknown_ones_and_bad_shares():
    city = load_city(Path("bench/city-qingdao.yaml"))
    scenario = city.scenario("contracts")
    assert scenario is not None and scenario.contracted > 0 and scenario.preemptible > 0
    assert city.scenario(None) is None
    with pytest.raises(InvalidInput) as unknown:
        city.scenario("nope")
    assert unknown.value.errors[0].field == "scenario" and "contracts" in unknown.value.errors[0].message
    with pytest.raises(InvalidInput) as bad:
        parse({"x": {"preemptible": 1.5}})
    assert bad.value.errors[0].field == "scenarios.x.preemptible"
    with pytest.raises(InvalidInput) as word:
        parse({"x": {"contracted": "a third"}})
    assert word.value.errors[0].field == "scenarios.x.contracted"
    with pytest.raises(InvalidInput) as typo:
        parse({"x": {"preemptable": 0.5}})
    assert typo.value.errors[0].field == "scenarios.x.preemptable"


def test_the_quota_shortfall_counts_only_the_guarantee_a_waiting_tenant_could_use():
    samples = [
        Sample(0.0, {}, {"t": 8}, {}),  # holds nothing, waits for 8 cards: all 8 of its quota short
        Sample(1.0, {"t": 8}, {"t": 8}, {"t": 8.0}),  # holds its quota: nothing short
        Sample(2.0, {}, {"t": 2}, {}),  # waits for 2 cards: only 2 of the quota could be used
        Sample(3.0, {}, {}, {}),  # nothing waiting: the guarantee is not wanted
    ]
    assert quota_shortfall(samples, {"t": 8.0}) == pytest.approx((8 + 0 + 2) / (8 + 8 + 2))
    assert math.isnan(quota_shortfall(samples[3:], {"t": 8.0}))


def test_the_hours_short_weigh_each_sample_by_the_time_to_the_next():
    hour = 3600.0
    samples = [
        Sample(0.0, {}, {"t": 8}, {}),  # 8 short for 2 hours
        Sample(2 * hour, {"t": 8}, {"t": 8}, {"t": 8.0}),  # none short for an hour
        Sample(3 * hour, {}, {"t": 2}, {}),  # 2 short for half an hour
        Sample(3.5 * hour, {}, {}, {}),  # nothing waiting from here on
    ]
    assert quota_short_hours(samples, {"t": 8.0}) == pytest.approx(8 * 2 + 0 + 2 * 0.5)
    # a tenant that seldom waits, but then for its whole quota, has a high share and few hours short
    rare = [Sample(0.0, {}, {"t": 8}, {}), Sample(0.1 * hour, {}, {}, {}), Sample(100 * hour, {}, {}, {})]
    assert quota_shortfall(rare, {"t": 8.0}) == 1.0
    assert quota_short_hours(rare, {"t": 8.0}) == pytest.approx(0.8)


def test_the_sim_command_lays_a_scenario_over_a_trace_and_refuses_an_unknown_one():
    data = Path(__file__).resolve().parent / "data"  # a slice of the Philly trace kept with the tests
    command = [sys.executable, "-m", "suanli", "sim", "--trace", "philly", "--traces", str(data), "--limit", "60"]
    unknown = subprocess.run([*command, "--scenario", "nope"], capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "no scenario 'nope'" in unknown.stderr and "contracts" in unknown.stderr
    ran = subprocess.run([*command, "--scenario", "contracts"], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert "scenario contracts" in ran.stdout and "quota shortfall" in ran.stdout

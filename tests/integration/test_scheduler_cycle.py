"""`run_cycle` against the real store: capacity held across cycles, gangs, rejections, reasons kept."""

from __future__ import annotations

from dataclasses import replace

from suanli.domain.jobs.states import JobState
from suanli.service import agents, centres, jobs, scheduler
from suanli.service.scheduler import run_cycle
from tests.conftest import City


def submit(city: City, **spec) -> str:
    body = {"name": "t", "resources": {"accelerators": "A100:8"}, "run": "echo hi", **spec}
    return jobs.submit_job(city.ctx, city.principal("acme-dev"), body)[0].id


def job_state(city: City, job_id: str) -> JobState:
    return jobs.get_job(city.ctx, city.principal("admin"), job_id).job.state


def test_capacity_held_by_placed_and_running_jobs_survives_cycles(city: City):
    a, b, c = submit(city), submit(city), submit(city)
    report = run_cycle(city.ctx)
    assert report.placed == 2 and report.waiting == 1
    assert [job_state(city, j) for j in (a, b, c)] == [JobState.PLACED, JobState.PLACED, JobState.QUEUED]
    assert run_cycle(city.ctx).placed == 0  # nothing freed: nothing more placed
    (first, second) = agents.lease(city.ctx, city.agent("gpu"), 10)
    agents.report(
        city.ctx, city.agent("gpu"), [agents.StateReport(first.attempt_id, "succeeded", city.ctx.clock.now(), 0)]
    )
    assert run_cycle(city.ctx).placed == 1
    assert job_state(city, c) is JobState.PLACED


def test_a_gang_waits_until_all_its_nodes_are_free(city: City):
    single = submit(city, resources={"accelerators": "A100:4"})
    run_cycle(city.ctx)
    gang = submit(city, num_nodes=2)
    run_cycle(city.ctx)
    assert job_state(city, gang) is JobState.QUEUED
    jobs.cancel_job(city.ctx, city.principal("acme-dev"), single)
    run_cycle(city.ctx)
    assert job_state(city, gang) is JobState.PLACED
    view = jobs.get_job(city.ctx, city.principal("acme-dev"), gang)
    assert sorted(view.attempts[-1].node_indices) == [0, 1]


def test_the_price_is_fixed_at_placement(city: City, clock):
    job_id = submit(city)
    run_cycle(city.ctx)
    centres.add_price(city.ctx, city.principal("admin"), city.ids["gpu/a100"], "99")
    view = jobs.get_job(city.ctx, city.principal("acme-dev"), job_id)
    assert str(view.attempts[0].price) == "18.0000"


def test_waiting_reasons_are_stored_and_refreshed(city: City):
    job_id = submit(city, max_price="10")
    run_cycle(city.ctx)
    first = jobs.why(city.ctx, city.principal("acme-dev"), job_id)
    assert {r["code"] for r in first.reasons} >= {"price_above_max"}
    assert first.summary.startswith("waiting:")
    # the operator cuts the price: the next cycle places it
    centres.add_price(city.ctx, city.principal("admin"), city.ids["gpu/a100"], "9.5")
    run_cycle(city.ctx)
    assert job_state(city, job_id) is JobState.PLACED


def test_a_queued_job_whose_pool_disappeared_is_rejected(city: City):
    job_id = submit(city, resources={"accelerators": "H800:8"})
    with city.ctx.store.uow() as uow:
        pool = uow.pools.get(city.ids["gpu/h800"])
        uow.pools.update(replace(pool, accelerators_per_node=4))
    run_cycle(city.ctx)
    view = jobs.get_job(city.ctx, city.principal("acme-dev"), job_id)
    assert view.job.state is JobState.REJECTED
    assert "no pool in the city can run this job" in view.job.state_reason


def test_cancel_between_snapshot_and_apply_wins(city: City, monkeypatch):
    job_id = submit(city)
    original = jobs.get_job(city.ctx, city.principal("acme-dev"), job_id).job
    real_decide = scheduler.scheduling.decide

    def decide_then_cancel(*args, **kwargs):
        result = real_decide(*args, **kwargs)
        jobs.cancel_job(city.ctx, city.principal("acme-dev"), job_id)
        return result

    monkeypatch.setattr(scheduler.scheduling, "decide", decide_then_cancel)
    report = run_cycle(city.ctx)
    assert report.placed == 0 and report.conflicts == 1
    view = jobs.get_job(city.ctx, city.principal("acme-dev"), job_id)
    assert view.job.state is JobState.CANCELLED and view.attempts == ()
    assert original.state is JobState.QUEUED

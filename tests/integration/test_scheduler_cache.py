"""The scheduler's cache, kept in step through the event feed, always agrees with a full reload."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from suanli.domain.jobs.states import JobState
from suanli.service import agents, jobs
from suanli.service.cache import SchedulerCache
from suanli.service.catalogue import effective_catalogue
from suanli.service.scheduler import Scheduler, pool_templates
from tests.conftest import City, heartbeat_all

SHAPES = [
    {"accelerators": "A100:8"},
    {"accelerators": "A100:2"},
    {"accelerators": ["A100:4", "H800:4"]},
    {"accelerators": "910B:8"},
    {},
]


def state_of(cache: SchedulerCache):
    used = {pool: {n: tuple(round(x, 6) for x in v) for n, v in nodes.items()} for pool, nodes in cache.used.items()}
    return sorted(cache.pending), sorted(cache.allocs), {p: n for p, n in used.items() if n}, sorted(cache.placed)


def fresh(city: City) -> SchedulerCache:
    cache = SchedulerCache()
    with city.ctx.store.uow() as uow:
        cache.rebuild(uow, effective_catalogue(uow), city.ctx.clock.now())
    return cache


def free_nodes(cache: SchedulerCache, city: City):
    """Each pool's free nodes as the cache's snapshot gives them now."""
    now = city.ctx.clock.now()
    with city.ctx.store.uow() as uow:
        templates = pool_templates(uow, now, city.ctx.heartbeat_timeout, effective_catalogue(uow))
    return {p.pool_id: p.free for p in cache.snapshot(templates, now).pools}


def test_incremental_cache_matches_a_full_reload_through_a_random_history(city: City, clock):
    rng = random.Random(7)
    scheduler = Scheduler(city.ctx)
    scheduler.cache.resync = scheduler.cache.resync * 1000  # never rebuild: only the feed keeps it in step
    submitted: list[str] = []
    for step in range(60):
        action = rng.random()
        if action < 0.45:
            body = {"name": f"j{step}", "run": "x", "resources": rng.choice(SHAPES), "num_nodes": rng.choice([1, 1, 2])}
            submitted.append(jobs.submit_job(city.ctx, city.principal("acme-dev"), body)[0].id)
        elif action < 0.6 and submitted:
            job_id = rng.choice(submitted)
            if jobs.get_job(city.ctx, city.principal("acme-dev"), job_id).job.state not in (
                JobState.SUCCEEDED,
                JobState.FAILED,
                JobState.CANCELLED,
                JobState.REJECTED,
            ):
                jobs.cancel_job(city.ctx, city.principal("acme-dev"), job_id)
        else:
            for centre in ("ai", "gpu", "hpc"):
                for a in agents.lease(city.ctx, city.agent(centre), 5):
                    outcome = rng.choice(["running", "succeeded", "failed", "preempted"])
                    agents.report(
                        city.ctx,
                        city.agent(centre),
                        [agents.StateReport(a.attempt_id, outcome, clock.now(), exit_code=1)],
                    )
        clock.advance(1)
        heartbeat_all(city)
        scheduler.cycle()
        assert state_of(scheduler.cache) == state_of(fresh(city)), f"diverged at step {step}"
        # the snapshot reuses a pool's nodes only while nothing there changed
        assert free_nodes(scheduler.cache, city) == free_nodes(fresh(city), city), f"snapshot stale at step {step}"
    assert scheduler.cache.full_rebuilds == 1


def test_a_change_made_without_an_event_is_healed_by_the_periodic_rebuild(city: City, clock):
    scheduler = Scheduler(city.ctx)
    job_id = jobs.submit_job(city.ctx, city.principal("acme-dev"), {"name": "t", "run": "x"})[0].id
    scheduler.cycle()
    assert job_id in scheduler.cache.allocs
    scheduler.cache.allocs.clear()  # simulate drift
    scheduler.cache.used.clear()
    clock.advance(61)
    heartbeat_all(city)
    scheduler.cycle()
    assert job_id in scheduler.cache.allocs and scheduler.cache.full_rebuilds == 2


def test_recent_demand_counts_each_restricted_job_once_and_spreads_it_over_its_models(city: City, clock):
    scheduler = Scheduler(city.ctx)
    principal = city.principal("acme-dev")
    for i in range(3):
        jobs.submit_job(city.ctx, principal, {"name": f"npu{i}", "run": "x", "resources": {"accelerators": "910B:8"}})
    jobs.submit_job(
        city.ctx, principal, {"name": "two", "run": "x", "resources": {"accelerators": ["A100:4", "H800:4"]}}
    )
    jobs.submit_job(
        city.ctx,
        principal,
        {"name": "any", "run": "x", "resources": {"accelerators": ["A100:1", "H800:1", "910B:1"]}},
    )
    for _ in range(3):  # cycles and a full rebuild do not count a job again
        scheduler.cycle()
        clock.advance(61)
        heartbeat_all(city)
    demand = scheduler.cache.snapshot([], clock.now()).demand
    assert scheduler.cache.full_rebuilds >= 2
    npu = next(m for m in demand if "910B" in m)
    assert demand[npu] == pytest.approx(24, rel=1e-3)  # 3 jobs x 8 cards; the 3-model job adds nothing
    assert demand["A100"] == pytest.approx(2, rel=1e-3) and demand["H800"] == pytest.approx(2, rel=1e-3)
    # every job also counts once, whole, under the set of models it accepts (what contention reads)
    asked = scheduler.cache.snapshot([], clock.now()).asked
    assert asked == pytest.approx(
        {
            frozenset({npu}): 24,
            frozenset({"A100", "H800"}): 4,
            frozenset({"A100", "H800", npu}): 1,
        },
        rel=1e-3,
    )


def _second_h800_job_reserved(city: City, clock) -> tuple[Scheduler, str]:
    """Two 8 x H800 jobs: the first fills the only H800 node, the second waits with a reservation there."""
    scheduler = Scheduler(city.ctx)
    dev = city.principal("acme-dev")
    body = {"name": "big", "run": "x", "resources": {"accelerators": "H800:8"}}
    jobs.submit_job(city.ctx, dev, body)
    scheduler.cycle()
    waiting = jobs.submit_job(city.ctx, dev, body)[0].id
    clock.advance(1)
    heartbeat_all(city)
    scheduler.cycle()
    return scheduler, waiting


def test_the_scheduler_remembers_where_waiting_jobs_were_reserved_for_the_next_cycle(city: City, clock):
    scheduler, waiting = _second_h800_job_reserved(city, clock)
    dev = city.principal("acme-dev")
    assert scheduler.cache.reserved == {waiting: city.ids["gpu/h800"]}
    assert scheduler.cache.snapshot([], clock.now()).reserved == {waiting: city.ids["gpu/h800"]}
    promised = scheduler.cache.promised[waiting]  # when the first job is expected to end
    assert promised > clock.now() and scheduler.cache.snapshot([], clock.now()).promised == {waiting: promised}
    jobs.cancel_job(city.ctx, dev, waiting)
    clock.advance(1)
    heartbeat_all(city)
    scheduler.cycle()
    assert scheduler.cache.reserved == {}


def test_a_job_alone_in_its_shape_with_a_reservation_shows_its_promise_and_the_other_pools_reasons(city: City, clock):
    _, waiting = _second_h800_job_reserved(city, clock)
    dev = city.principal("acme-dev")
    why = jobs.why(city.ctx, dev, waiting)
    assert "reserved" in why.summary and city.ids["gpu/h800"] not in {r["pool_id"] for r in why.reasons}
    assert why.reasons and "reserved" not in {r["code"] for r in why.reasons}  # the promise is its own note


def test_an_estimator_given_to_the_cache_replaces_the_learned_estimate(city: City, clock):
    """By nameplate FP16 an H800 runs a job about three times as fast as an A100; told otherwise (as
    bench/estimates.py tells it the true runtimes), the scheduler places by what it was told."""
    body = {"name": "fit", "run": "x", "resources": {"accelerators": ["A100:8", "H800:8"]}, "max_runtime": "10h"}
    dev = city.principal("acme-dev")
    told = Scheduler(city.ctx)
    told.cache.estimator = lambda job, models: {m: (3600.0 if m == "A100" else 7200.0) for m in models}
    first = jobs.submit_job(city.ctx, dev, body)[0].id
    # both pools free: the A100 is taken as the faster one, as told
    assert [(p.job_id, p.pool_id) for p in told.cycle().placements] == [(first, city.ids["gpu/a100"])]

    learned = Scheduler(city.ctx)  # its own estimate: the H800, still free, is the faster
    second = jobs.submit_job(city.ctx, dev, body)[0].id
    clock.advance(1)
    heartbeat_all(city)
    assert [(p.job_id, p.pool_id) for p in learned.cycle().placements] == [(second, city.ids["gpu/h800"])]


def test_the_cache_keeps_the_first_start_promised_in_a_pool_until_the_job_leaves_it():
    cache, t = SchedulerCache(), datetime(2026, 11, 1, tzinfo=UTC)
    cache.remember_reservations({"j": "p"}, {"j": t})
    cache.remember_reservations({"j": "p"}, {"j": t + timedelta(hours=2)})  # it slipped: the first promise stays
    assert cache.promised == {"j": t} and cache.reserved == {"j": "p"}
    cache.remember_reservations({"j": "q"}, {"j": t + timedelta(hours=3)})  # another pool: promised anew
    assert cache.promised == {"j": t + timedelta(hours=3)}
    cache.remember_reservations({}, {})  # placed, or no longer reserved
    assert cache.promised == {} and cache.reserved == {}

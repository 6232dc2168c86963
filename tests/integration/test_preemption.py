"""Preemption end to end through the services: the scheduler asks, the agent stops the whole gang, the
preempted job is requeued automatically and the waiting job takes its place."""

from __future__ import annotations

from suanli.domain.jobs.states import JobState
from suanli.service import agents, jobs
from suanli.service.scheduler import Scheduler
from tests.conftest import City, heartbeat_all


def test_a_preemptible_gang_is_stopped_whole_requeued_and_its_place_taken(city: City, clock):
    scheduler = Scheduler(city.ctx, "suanli")
    cheap = jobs.submit_job(
        city.ctx,
        city.principal("acme-dev"),
        {
            "name": "cheap",
            "num_nodes": 2,
            "run": "x",
            "preemptible": True,
            "priority": 10,
            "resources": {"accelerators": "A100:8"},
        },
    )[0].id
    scheduler.cycle()
    (lease,) = agents.lease(city.ctx, city.agent("gpu"), 10)
    agents.report(city.ctx, city.agent("gpu"), [agents.StateReport(lease.attempt_id, "running", clock.now())])
    clock.advance(600)
    heartbeat_all(city)
    urgent = jobs.submit_job(
        city.ctx,
        city.principal("globex-dev"),
        {"name": "urgent", "num_nodes": 2, "run": "x", "priority": 90, "resources": {"accelerators": "A100:8"}},
    )[0].id
    report = scheduler.cycle()
    assert report.preempted == 1 and report.placed == 0
    view = jobs.get_job(city.ctx, city.principal("acme-dev"), cheap)
    assert view.job.state is JobState.RUNNING and view.job.preempt_requested_at is not None
    assert "preempting" in view.job.state_reason
    assert "room is being made" in jobs.why(city.ctx, city.principal("globex-dev"), urgent).summary

    reply = agents.heartbeat(city.ctx, city.agent("gpu"), {}, None, {})
    assert reply.preempt == [lease.attempt_id] and reply.cancel == []
    # the engine killed it; an agent that did not translate the outcome says "cancelled": still a preemption
    agents.report(city.ctx, city.agent("gpu"), [agents.StateReport(lease.attempt_id, "cancelled", clock.now())])
    view = jobs.get_job(city.ctx, city.principal("acme-dev"), cheap)
    assert view.job.state is JobState.QUEUED and view.job.requeues == 1 and view.job.preempt_requested_at is None
    events = [e.to_state for e in jobs.job_events(city.ctx, city.principal("acme-dev"), cheap)]
    assert events[-2:] == [JobState.PREEMPTED, JobState.QUEUED]

    clock.advance(60)
    heartbeat_all(city)
    scheduler.cycle()
    assert jobs.get_job(city.ctx, city.principal("globex-dev"), urgent).job.state is JobState.PLACED
    assert jobs.get_job(city.ctx, city.principal("acme-dev"), cheap).job.state is JobState.QUEUED

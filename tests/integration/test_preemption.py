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


def _submit(city: City, who: str, name: str, accelerators: str, priority: int, preemptible: bool = False) -> str:
    body = {"name": name, "run": "x", "priority": priority, "preemptible": preemptible}
    body["resources"] = {"accelerators": accelerators}
    return jobs.submit_job(city.ctx, city.principal(who), body)[0].id


def test_a_stop_that_takes_several_cycles_stops_nothing_more_for_the_same_job(city: City, clock):
    # a stop takes a few cycles (the agent hears of it at its next heartbeat, the engine takes its time): while
    # it is under way the waiting job counts on that room, even if stopping another job would now also do
    scheduler = Scheduler(city.ctx, "suanli")
    whole = _submit(city, "acme-dev", "whole", "A100:8", 10, preemptible=True)
    half = _submit(city, "acme-dev", "half", "A100:4", 10, preemptible=True)
    steady = _submit(city, "globex-dev", "steady", "A100:4", 50)
    assert scheduler.cycle().placed == 3
    leases = {a.job_id: a for a in agents.lease(city.ctx, city.agent("gpu"), 10)}
    assert leases[half].node_indices == leases[steady].node_indices != leases[whole].node_indices
    agents.report(
        city.ctx, city.agent("gpu"), [agents.StateReport(a.attempt_id, "running", clock.now()) for a in leases.values()]
    )
    clock.advance(600)
    heartbeat_all(city)
    urgent = _submit(city, "globex-dev", "urgent", "A100:8", 90)
    report = scheduler.cycle()
    assert report.preempted == 1
    assert jobs.get_job(city.ctx, city.principal("acme-dev"), whole).job.preempt_requested_at is not None

    # the steady job ends while "whole" is still being stopped: stopping "half" would now free node 1 as well
    ended = agents.StateReport(leases[steady].attempt_id, "succeeded", clock.now())
    agents.report(city.ctx, city.agent("gpu"), [ended])
    clock.advance(5)
    heartbeat_all(city)
    assert scheduler.cycle().preempted == 0
    assert jobs.get_job(city.ctx, city.principal("acme-dev"), half).job.preempt_requested_at is None
    assert "already stopping" in jobs.why(city.ctx, city.principal("globex-dev"), urgent).summary

    # once "whole" has gone, the urgent job takes its node and "half" runs on
    stopped = agents.StateReport(leases[whole].attempt_id, "preempted", clock.now())
    agents.report(city.ctx, city.agent("gpu"), [stopped])
    clock.advance(5)
    heartbeat_all(city)
    scheduler.cycle()
    assert jobs.get_job(city.ctx, city.principal("globex-dev"), urgent).job.state is JobState.PLACED
    assert jobs.get_job(city.ctx, city.principal("acme-dev"), half).job.state is JobState.RUNNING


def _run(city: City, clock, scheduler: Scheduler) -> None:
    heartbeat_all(city)
    scheduler.cycle()
    leases = agents.lease(city.ctx, city.agent("gpu"), 10)
    started = [agents.StateReport(a.attempt_id, "running", clock.now()) for a in leases]
    agents.report(city.ctx, city.agent("gpu"), started)


def test_a_job_whose_requeues_are_spent_is_never_stopped_for_other_work(city: City, clock):
    # stopping "spent" would lose the least work, but its retry policy allows no requeue: a stop would fail it
    scheduler = Scheduler(city.ctx, "suanli")
    body = {"run": "x", "priority": 10, "preemptible": True, "resources": {"accelerators": "A100:8"}}
    spare = jobs.submit_job(city.ctx, city.principal("acme-dev"), {**body, "name": "spare"})[0].id
    _run(city, clock, scheduler)
    clock.advance(1200)
    spent = {**body, "name": "spent", "retry": {"max_requeues": 0}}
    spent_id = jobs.submit_job(city.ctx, city.principal("acme-dev"), spent)[0].id
    _run(city, clock, scheduler)
    clock.advance(600)
    heartbeat_all(city)
    _submit(city, "globex-dev", "urgent", "A100:8", 90)
    assert scheduler.cycle().preempted == 1
    assert jobs.get_job(city.ctx, city.principal("acme-dev"), spare).job.preempt_requested_at is not None
    assert jobs.get_job(city.ctx, city.principal("acme-dev"), spent_id).job.preempt_requested_at is None


def test_a_job_starving_for_a_day_stops_a_richer_tenants_preemptible_service_of_its_priority(city: City, clock):
    # acme's two preemptible services of the default priority hold both A100 nodes; globex's A100 job waits.
    # A day on it may stop one of them (acme still holds 8 cards, as many as globex will): the other runs on
    scheduler = Scheduler(city.ctx, "suanli")
    service = {"kind": "service", "run": "x", "preemptible": True, "max_runtime": "300d"}
    service["resources"] = {"accelerators": "A100:8"}
    svcs = [jobs.submit_job(city.ctx, city.principal("acme-dev"), {**service, "name": f"svc{i}"})[0].id for i in (1, 2)]
    _run(city, clock, scheduler)
    clock.advance(600)
    body = {"name": "starved", "run": "x", "max_runtime": "2h", "resources": {"accelerators": "A100:8"}}
    starved = jobs.submit_job(city.ctx, city.principal("globex-dev"), body)[0].id
    heartbeat_all(city)
    assert scheduler.cycle().preempted == 0
    clock.advance(23 * 3600)
    heartbeat_all(city)
    assert scheduler.cycle().preempted == 0  # under a day: it waits for the services to end
    clock.advance(2 * 3600)
    heartbeat_all(city)
    assert scheduler.cycle().preempted == 1
    stopping = [s for s in svcs if jobs.get_job(city.ctx, city.principal("acme-dev"), s).job.preempt_requested_at]
    assert len(stopping) == 1
    victim = jobs.get_job(city.ctx, city.principal("acme-dev"), stopping[0]).job
    assert "has waited over 24 h" in victim.state_reason
    assert "room is being made" in jobs.why(city.ctx, city.principal("globex-dev"), starved).summary


def test_a_starving_job_that_may_not_stop_a_poorer_tenants_work_says_so(city: City, clock):
    # acme's one preemptible service holds an A100 node, globex's own long job the other; globex's second job
    # waits over a day for an A100 node, and is told why it may not stop acme's service, naming no one
    scheduler = Scheduler(city.ctx, "suanli")
    service = {"name": "svc", "kind": "service", "run": "x", "preemptible": True, "max_runtime": "300d"}
    jobs.submit_job(city.ctx, city.principal("acme-dev"), {**service, "resources": {"accelerators": "A100:8"}})
    long = {"name": "long", "run": "x", "max_runtime": "30d", "resources": {"accelerators": "A100:8"}}
    jobs.submit_job(city.ctx, city.principal("globex-dev"), long)
    _run(city, clock, scheduler)
    clock.advance(600)
    body = {"name": "starved", "run": "x", "max_runtime": "2h", "resources": {"accelerators": "A100:8"}}
    starved = jobs.submit_job(city.ctx, city.principal("globex-dev"), body)[0].id
    clock.advance(25 * 3600)
    heartbeat_all(city)
    assert scheduler.cycle().preempted == 0

    def reason() -> str:
        return jobs.get_job(city.ctx, city.principal("globex-dev"), starved).job.state_reason

    # acme holds no more than globex: nothing of acme's may be stopped
    assert reason().startswith("waiting: gpu/a100 reserved")  # its reservation first, then why it cannot stop
    assert "; it has waited long enough to stop other tenants' preemptible work of its priority, but not" in reason()
    assert reason().endswith(
        "no tenant holding more than yours runs preemptible work, past its protection, that would make its room"
    )

    # acme also runs 8 Ascend cards: it holds more than globex, but would hold less once stopped
    npu = {"name": "npu", "run": "x", "max_runtime": "30d", "resources": {"accelerators": "Ascend910B:8"}}
    jobs.submit_job(city.ctx, city.principal("acme-dev"), npu)
    heartbeat_all(city)
    scheduler.cycle()
    (lease,) = agents.lease(city.ctx, city.agent("ai"), 10)
    agents.report(city.ctx, city.agent("ai"), [agents.StateReport(lease.attempt_id, "running", clock.now())])
    clock.advance(60)
    heartbeat_all(city)
    assert scheduler.cycle().preempted == 0
    assert reason().endswith(
        "stopping the jobs that would make its room would leave their tenant holding less than yours"
    )
    assert "acme" not in reason()

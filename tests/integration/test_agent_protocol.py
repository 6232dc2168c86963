"""The server side of the agent protocol: leases once, idempotent reports, logs, usage, timeouts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from suanli.domain.errors import NotFound, PayloadTooLarge
from suanli.domain.jobs.states import JobState
from suanli.service import agents, jobs
from suanli.service.agents import StateReport, UsageInput
from suanli.service.scheduler import run_cycle
from tests.conftest import City, heartbeat_all


def submit(city: City, who: str = "acme-dev", **spec) -> str:
    body = {"name": "t", "resources": {"accelerators": "A100:8"}, "run": "echo hi", **spec}
    job, _ = jobs.submit_job(city.ctx, city.principal(who), body)
    return job.id


def state(city: City, job_id: str) -> JobState:
    return jobs.get_job(city.ctx, city.principal("admin"), job_id).job.state


def placed_and_leased(city: City, centre: str = "gpu", **spec) -> tuple[str, str]:
    job_id = submit(city, **spec)
    run_cycle(city.ctx)
    (assignment,) = agents.lease(city.ctx, city.agent(centre), 10)
    return job_id, assignment.attempt_id


def report(city: City, attempt_id: str, what: str, centre: str = "gpu", **kw) -> agents.ReportResult:
    (result,) = agents.report(city.ctx, city.agent(centre), [StateReport(attempt_id, what, city.ctx.clock.now(), **kw)])
    return result


def test_a_placed_job_is_leased_exactly_once_and_only_by_its_centre(city: City):
    job_id = submit(city)
    run_cycle(city.ctx)
    assert agents.lease(city.ctx, city.agent("ai"), 10) == []
    (a,) = agents.lease(city.ctx, city.agent("gpu"), 10)
    assert a.job_id == job_id and a.pool == "a100" and a.per_node == 8 and a.stack.value == "cuda"
    assert agents.lease(city.ctx, city.agent("gpu"), 10) == []
    assert state(city, job_id) is JobState.STARTING
    assert [x.attempt_id for x in agents.assignments(city.ctx, city.agent("gpu"))] == [a.attempt_id]


def test_reports_are_idempotent_and_ordered(city: City):
    job_id, attempt = placed_and_leased(city)
    assert report(city, attempt, "running").job_state is JobState.RUNNING
    assert report(city, attempt, "running").note == "no change"
    assert report(city, attempt, "succeeded", exit_code=0).job_state is JobState.SUCCEEDED
    duplicate = report(city, attempt, "failed", exit_code=1)
    assert duplicate.job_state is JobState.SUCCEEDED and "nothing changed" in duplicate.note
    events = jobs.job_events(city.ctx, city.principal("acme-dev"), job_id)
    assert [e.to_state for e in events][-3:] == [JobState.STARTING, JobState.RUNNING, JobState.SUCCEEDED]


def test_a_report_for_another_centres_attempt_is_not_found(city: City):
    _, attempt = placed_and_leased(city)
    with pytest.raises(NotFound):
        report(city, attempt, "running", centre="ai")


def test_failure_retry_creates_a_new_attempt(city: City):
    job_id, attempt = placed_and_leased(city, retry={"max_restarts_on_failure": 1})
    report(city, attempt, "running")
    assert report(city, attempt, "failed", exit_code=2, reason="exited with code 2").job_state is JobState.QUEUED
    run_cycle(city.ctx)
    (second,) = agents.lease(city.ctx, city.agent("gpu"), 10)
    assert second.attempt_id.endswith("-2")
    report(city, second.attempt_id, "failed", exit_code=2)
    view = jobs.get_job(city.ctx, city.principal("acme-dev"), job_id)
    assert view.job.state is JobState.FAILED and view.job.exit_code == 2 and view.job.restarts == 1
    assert [a.state for a in view.attempts] == [JobState.FAILED, JobState.FAILED]
    # a late report about the first attempt changes nothing
    assert "nothing changed" in report(city, attempt, "succeeded", exit_code=0).note


def test_preempted_gang_is_requeued_whole(city: City):
    job_id, attempt = placed_and_leased(city, num_nodes=2)
    report(city, attempt, "running")
    assert report(city, attempt, "preempted", reason="higher priority work").job_state is JobState.QUEUED
    events = [e.to_state for e in jobs.job_events(city.ctx, city.principal("acme-dev"), job_id)]
    assert events[-2:] == [JobState.PREEMPTED, JobState.QUEUED]
    run_cycle(city.ctx)
    (again,) = agents.lease(city.ctx, city.agent("gpu"), 10)
    assert len(again.node_indices) == 2


def test_cancel_of_a_running_job_goes_through_the_agent(city: City):
    job_id, attempt = placed_and_leased(city)
    report(city, attempt, "running")
    job = jobs.cancel_job(city.ctx, city.principal("acme-dev"), job_id)
    assert job.state is JobState.RUNNING and job.cancel_requested_at is not None
    reply = agents.heartbeat(city.ctx, city.agent("gpu"), {"a100": 2}, [attempt], {})
    assert reply.cancel == [attempt]
    assert report(city, attempt, "cancelled").job_state is JobState.CANCELLED


def test_heartbeat_tells_the_agent_to_forget_what_the_server_no_longer_runs(city: City):
    reply = agents.heartbeat(city.ctx, city.agent("gpu"), {"a100": 2, "nope": 1}, ["job_x-1"], {})
    assert reply.forget == ["job_x-1"] and reply.unknown_pools == ["nope"]


def test_nodes_down_shrink_capacity(city: City):
    agents.heartbeat(city.ctx, city.agent("gpu"), {"a100": 1, "h800": 0}, [], {})
    first = submit(city)
    second = submit(city)
    run_cycle(city.ctx, "cheapest")  # no reservations: the second job is explained by capacity alone
    assert state(city, first) is JobState.PLACED
    why = jobs.why(city.ctx, city.principal("acme-dev"), second)
    messages = {r["pool"]: r["message"] for r in why.reasons}
    assert "(1 node(s) down)" in messages["a100"]


def test_logs_append_skip_resends_refuse_gaps_and_cap(city: City):
    job_id, attempt = placed_and_leased(city)
    agent = city.agent("gpu")
    assert agents.append_log(city.ctx, agent, attempt, 0, b"hello ").next_offset == 6
    assert agents.append_log(city.ctx, agent, attempt, 0, b"hello world\n").next_offset == 12  # resend + more
    gap = agents.append_log(city.ctx, agent, attempt, 50, b"lost?")
    assert not gap.accepted and gap.next_offset == 12
    piece = jobs.read_logs(city.ctx, city.principal("acme-dev"), job_id, None, 0, 1000)
    assert piece.data == b"hello world\n" and not piece.complete
    city.ctx.settings.limits.max_log_bytes = 20
    assert agents.append_log(city.ctx, agent, attempt, 12, b"0123456789ABCDEF").next_offset == 28
    report(city, attempt, "succeeded", exit_code=0)
    piece = jobs.read_logs(city.ctx, city.principal("acme-dev"), job_id, None, 0, 1000)
    assert piece.data == b"hello world\n01234567" and piece.truncated
    city.ctx.settings.limits.max_log_chunk_bytes = 4
    with pytest.raises(PayloadTooLarge):
        agents.append_log(city.ctx, agent, attempt, 28, b"12345")


def test_usage_is_recorded_once(city: City):
    _, attempt = placed_and_leased(city)
    now = city.ctx.clock.now()
    usage = UsageInput(attempt, 8, 80.0, 5.0, 10.0, now - timedelta(seconds=10), now)
    assert agents.record_usage(city.ctx, city.agent("gpu"), usage) is True
    assert agents.record_usage(city.ctx, city.agent("gpu"), usage) is False
    with city.ctx.store.uow() as uow:
        record = uow.usage.get(attempt)
    assert record is not None and record.accelerator_seconds == 80.0 and record.model == "A100"


def test_placement_is_revoked_when_the_centre_never_takes_it(city: City, clock):
    job_id = submit(city)
    run_cycle(city.ctx)
    assert state(city, job_id) is JobState.PLACED
    clock.advance(121)
    heartbeat_all(city)
    run_cycle(city.ctx)  # revoked, requeued, and placed again (attempt 2)
    view = jobs.get_job(city.ctx, city.principal("acme-dev"), job_id)
    assert view.job.state is JobState.PLACED and view.job.attempts == 2
    assert view.attempts[0].state is JobState.LOST and "placement revoked" in view.attempts[0].reason


def test_runs_on_a_silent_centre_are_declared_lost_and_requeued(city: City, clock):
    job_id, attempt = placed_and_leased(city)
    report(city, attempt, "running")
    clock.advance(601)
    run_cycle(city.ctx)
    view = jobs.get_job(city.ctx, city.principal("acme-dev"), job_id)
    assert view.job.state is JobState.QUEUED and view.job.requeues == 1
    events = [e.to_state for e in jobs.job_events(city.ctx, city.principal("acme-dev"), job_id)]
    assert events[-2:] == [JobState.LOST, JobState.QUEUED]
    # the agent comes back: its old attempt is stale, and it is told to forget it
    assert agents.heartbeat(city.ctx, city.agent("gpu"), {}, [attempt], {}).forget == [attempt]
    assert "nothing changed" in report(city, attempt, "succeeded", exit_code=0).note

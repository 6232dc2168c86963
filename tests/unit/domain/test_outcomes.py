from dataclasses import replace
from datetime import UTC, datetime

from suanli.domain.jobs.model import Job, Outcome, judge_outcome
from suanli.domain.jobs.spec import parse_spec
from suanli.domain.jobs.states import JobState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def job(**spec_fields) -> Job:
    spec = parse_spec({"name": "t", "run": "x", **spec_fields})
    return Job("job_1", "tnt", "usr", "t", spec.kind, JobState.RUNNING, spec, 50, T0, T0)


def test_success_and_plain_failure():
    assert judge_outcome(job(), Outcome.SUCCEEDED, 0, "").state is JobState.SUCCEEDED
    verdict = judge_outcome(job(), Outcome.FAILED, 3, "")
    assert verdict.state is JobState.FAILED and "exit code 3" in verdict.reason


def test_failure_is_retried_up_to_the_policy():
    j = job(retry={"max_restarts_on_failure": 1})
    first = judge_outcome(j, Outcome.FAILED, 1, "")
    assert first.state is JobState.QUEUED and first.restarts == 1 and "restarting (1/1)" in first.reason
    second = judge_outcome(replace(j, restarts=1), Outcome.FAILED, 1, "")
    assert second.state is JobState.FAILED


def test_preemption_and_loss_requeue_until_max_requeues():

    j = job(retry={"max_requeues": 1})
    assert judge_outcome(j, Outcome.PREEMPTED, None, "").state is JobState.QUEUED
    assert judge_outcome(replace(j, requeues=1), Outcome.LOST, None, "").state is JobState.FAILED


def test_timeout_is_not_retried():
    verdict = judge_outcome(job(retry={"max_restarts_on_failure": 3}, max_runtime=5), Outcome.TIMEOUT, None, "")
    assert verdict.state is JobState.FAILED and "max_runtime of 5s" in verdict.reason


def test_cancel_requested_wins_over_requeue():

    j = replace(job(), cancel_requested_at=T0)
    assert judge_outcome(j, Outcome.CANCELLED, None, "").state is JobState.CANCELLED
    assert judge_outcome(j, Outcome.LOST, None, "").state is JobState.CANCELLED


def test_kill_inside_the_engine_is_a_failure_not_a_cancel():
    verdict = judge_outcome(job(), Outcome.CANCELLED, None, "scancel by operator")
    assert verdict.state is JobState.FAILED
    assert "killed inside the centre's engine" in verdict.reason

"""The live scheduler loop: a cycle in which the configured policy fails is placed by the fallback policy,
so one bad decision does not stop every placement in the city; /readyz counts such cycles."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from suanli import scheduling
from suanli.api.app import create_app
from suanli.domain.jobs.states import JobState
from suanli.service import jobs
from tests.conftest import City


@pytest.fixture
def failing_suanli(monkeypatch):
    """The `suanli` policy fails on every cycle (as a bug in it would); other policies decide as usual."""
    decide = scheduling.decide

    def broken(snapshot, pending, policy, now):
        if policy == "suanli":
            raise RuntimeError("a bug in the policy")
        return decide(snapshot, pending, policy, now)

    monkeypatch.setattr(scheduling, "decide", broken)


def _state_after(client: TestClient, city: City, job_id: str, seconds: float = 10.0) -> JobState:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = jobs.get_job(city.ctx, city.principal("acme-dev"), job_id).job.state
        if state is not JobState.QUEUED and state is not JobState.SUBMITTED:
            return state
        time.sleep(0.05)
    return state


def test_a_cycle_whose_policy_fails_is_placed_by_the_fallback_and_counted(city: City, failing_suanli):
    with TestClient(create_app(city.ctx, run_scheduler=True)) as client:
        job_id = jobs.submit_job(city.ctx, city.principal("acme-dev"), {"name": "t", "run": "x"})[0].id
        assert _state_after(client, city, job_id) is JobState.PLACED
        scheduler = client.get("/readyz").json()["scheduler"]
    assert scheduler["policy"] == "suanli" and scheduler["fallback_policy"] == "fifo"
    assert scheduler["failed_cycles"] >= 1 and scheduler["fallback_cycles"] == scheduler["failed_cycles"]


def test_without_a_fallback_a_failing_policy_places_nothing(city: City, failing_suanli):
    city.ctx.settings.scheduler.fallback_policy = ""
    with TestClient(create_app(city.ctx, run_scheduler=True)) as client:
        job_id = jobs.submit_job(city.ctx, city.principal("acme-dev"), {"name": "t", "run": "x"})[0].id
        assert _state_after(client, city, job_id, seconds=1.5) is JobState.QUEUED
        scheduler = client.get("/readyz").json()["scheduler"]
    assert scheduler["failed_cycles"] >= 1 and scheduler["fallback_cycles"] == 0

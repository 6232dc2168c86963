"""A centre whose agent is alive but cannot reach its engine: the agent says so, the centre shows `degraded`
with the engine's error, the scheduler places nothing there (and says why), and jobs running there are declared
lost and requeued once the outage outlasts the lost timeout."""

from __future__ import annotations

from typing import Any

from suanli.agent.loop import Agent, EngineDown
from suanli.domain.centres import CentreStatus
from suanli.domain.errors import BackendError
from suanli.domain.jobs.states import JobState
from suanli.ports import PoolCapacity
from suanli.service import agents, centres, jobs
from suanli.service.scheduler import run_cycle
from tests.conftest import City, heartbeat_all
from tests.integration.test_agent_protocol import placed_and_leased, report, state, submit

DOWN = "squeue: error: Unable to contact slurm controller (connect failure)"


def engine_down(city: City, centre: str, since) -> None:
    info = {"engine": "slurm", "engine_error": DOWN, "engine_error_since": since.isoformat()}
    agents.heartbeat(city.ctx, city.agent(centre), {}, [], info)


def test_a_degraded_centre_takes_no_new_jobs_and_says_why(city: City):
    engine_down(city, "gpu", city.ctx.clock.now())
    (gpu,) = [v for v in centres.list_centres(city.ctx, city.principal("admin")) if v.centre.name == "gpu"]
    assert gpu.status is CentreStatus.DEGRADED and gpu.centre.engine_error == DOWN
    job_id = submit(city, centres={"allow": ["gpu"]})
    run_cycle(city.ctx)
    assert state(city, job_id) is JobState.QUEUED
    reasons = {r["pool"]: r for r in jobs.why(city.ctx, city.principal("acme-dev"), job_id).reasons}
    assert reasons["a100"]["code"] == "centre_degraded" and "cannot reach the engine" in reasons["a100"]["message"]
    heartbeat_all(city)  # the engine answers again
    run_cycle(city.ctx)
    assert state(city, job_id) is JobState.PLACED


def test_runs_on_a_centre_whose_engine_stays_down_are_lost_and_requeued(city: City, clock):
    job_id, attempt = placed_and_leased(city)
    report(city, attempt, "running")
    down_since = city.ctx.clock.now()
    engine_down(city, "gpu", down_since)
    clock.advance(300)
    engine_down(city, "gpu", down_since)  # still alive, still down: not yet lost
    run_cycle(city.ctx)
    assert state(city, job_id) is JobState.RUNNING
    clock.advance(301)
    engine_down(city, "gpu", down_since)
    run_cycle(city.ctx)
    view = jobs.get_job(city.ctx, city.principal("acme-dev"), job_id)
    assert view.job.requeues == 1 and view.job.state in (JobState.QUEUED, JobState.PLACED)
    assert "engine unreachable for over 600s" in view.attempts[0].reason


class FlakyEngine:
    """An engine adapter whose controller can be switched off."""

    name = "flaky"
    features = frozenset()

    def __init__(self) -> None:
        self.down = True
        self.submitted: list[str] = []

    def capacity(self) -> list[PoolCapacity]:
        if self.down:
            raise BackendError(DOWN)
        return [PoolCapacity("a100", 2, 16)]

    def known_attempts(self) -> list[str]:
        return []


class RecordingClient:
    def __init__(self) -> None:
        self.beats: list[tuple[dict[str, int], dict[str, Any]]] = []
        self.inventories: list[list[str] | None] = []
        self.leases = 0

    def heartbeat(self, pools, inventory, info) -> dict[str, list[str]]:
        self.beats.append((pools, info))
        self.inventories.append(inventory)
        return {"cancel": [], "forget": [], "preempt": []}

    def assignments(self) -> list[dict[str, Any]]:
        return []

    def lease(self, limit: int) -> list[dict[str, Any]]:
        self.leases += 1
        return []


def test_the_agent_reports_its_engine_down_and_leases_nothing_until_it_answers(clock):
    client, engine = RecordingClient(), FlakyEngine()
    agent = Agent(client, engine, clock=clock)  # type: ignore[arg-type]
    for _ in range(2):
        try:
            agent.tick()
        except EngineDown as exc:
            assert DOWN in str(exc)
        else:
            raise AssertionError("the tick went on with the engine down")
        clock.advance(10)
    (pools1, info1), (_, info2) = client.beats
    assert pools1 == {} and info1["engine_error"] == DOWN
    assert info1["engine_error_since"] == info2["engine_error_since"]  # the outage's start, kept
    assert client.leases == 0 and not agent.reconciled
    engine.down = False
    agent.tick()
    pools3, info3 = client.beats[-1]
    assert pools3 == {"a100": 2} and "engine_error" not in info3 and client.leases == 1
    agent.tick()
    # no inventory while the agent cannot know what runs here; the full list right after it has reconciled
    assert client.inventories[:3] == [None, None, None] and client.inventories[3] == []

"""Alibaba pods replay their lifetime in production. A pod last seen "Running" was deleted while running (its
lifetime is known); one deleted at the trace's very end was still running then: it is censored, replayed for
what the trace saw (not for ever, which held cards for a year of invented work), and its end is no completion."""

from __future__ import annotations

from pathlib import Path

from suanli.domain.jobs.states import JobState
from suanli.sim.city import load_city
from suanli.sim.engine import Simulation
from suanli.sim.metrics import measure, outcomes
from suanli.sim.report import markdown
from suanli.sim.traces import read_openb

ROOT = Path(__file__).resolve().parents[2]
HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time"
ROWS = [
    "openb-pod-0000,4000,8192,1,1000,,BE,Succeeded,0,7200,0",  # ran 2 h and finished
    "openb-pod-0001,4000,8192,1,1000,,BE,Running,600,36600,600",  # still running at the end: seen for 10 h
    "openb-pod-0002,4000,8192,1,1000,,LS,Running,1200,36600,1200",  # a service still running at the end
    "openb-pod-0003,4000,8192,1,1000,,BE,Pending,1800,36600,",  # never scheduled: not replayed
    "openb-pod-0004,4000,8192,1,1000,,BE,Running,2400,6000,2400",  # deleted while running, after 1 h
]


def _trace(tmp_path: Path):
    folder = tmp_path / "alibaba-openb-2023"
    folder.mkdir()
    (folder / "pods_gpuspec33.csv").write_text("\n".join([HEADER, *ROWS]) + "\n")
    return read_openb(tmp_path)


def test_a_pod_still_running_at_the_trace_end_is_censored_with_the_lifetime_the_trace_saw(tmp_path):
    trace = _trace(tmp_path)
    jobs = {j.key: j for j in trace.jobs}
    assert set(jobs) == {"openb-pod-0000", "openb-pod-0001", "openb-pod-0002", "openb-pod-0004"}
    assert not jobs["openb-pod-0000"].censored and jobs["openb-pod-0000"].duration == 7200
    assert not jobs["openb-pod-0004"].censored and jobs["openb-pod-0004"].duration == 3600
    assert jobs["openb-pod-0001"].censored and jobs["openb-pod-0001"].duration == 36000
    assert jobs["openb-pod-0002"].censored and jobs["openb-pod-0002"].is_service


def test_a_censored_pod_frees_its_cards_after_that_lifetime_and_counts_in_no_jct(tmp_path):
    trace = _trace(tmp_path)
    run = Simulation(trace, load_city(ROOT / "bench" / "city-qingdao.yaml"), "suanli", seed=0).run()
    seen = {o.key: o for o in outcomes(run)}
    censored = seen["openb-pod-0001"]
    assert censored.censored and censored.state is JobState.SUCCEEDED
    # it ran for what the trace saw of it (on a faster card a little less), not for its year-long max_runtime
    assert censored.end is not None and censored.end < 86400
    metrics = measure(run)
    assert metrics.censored == 1
    assert metrics.jct.count == 2  # the pods that truly ended: the one that succeeded, the one deleted running
    assert metrics.unfinished == 0
    assert "1 of the batch jobs were still running when the trace ended (censored)" in markdown([metrics])

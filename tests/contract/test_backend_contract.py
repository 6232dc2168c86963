"""The contract every centre engine adapter honours. One suite; each backend joins by adding a harness.

Runs against the local engine (real processes); a real Slurm cluster through its tools and through slurmrestd
with a JWT (`scripts/slurm-up.sh`: gpu pool = partition gpu, 2 nodes x 4 gres gpu:a100; npu = partition npu,
1 node x 8 gres npu:910b; cpu = 2 nodes); a real local Ray head (Jobs API); and federation: a second real suanli
platform (server + local agent, pools of the same shapes) as the engine; and the simulator's trace-driven
engine on a clock that follows the wall clock (tests/contract/sim_harness.py).

Engines that run the job's commands declare `Feature.COMMANDS`; what only a command can show (files, environment,
setup, output, processes) is checked on those. The simulator models a command instead: every spec says how long
it runs and how it exits (SIM_SECONDS, SIM_EXIT), and everything else is checked on it as on the others.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from suanli.backends.federation import FederationBackend
from suanli.backends.local import LocalBackend, LocalPool
from suanli.backends.ray import RayBackend, RayPool
from suanli.backends.slurm import SlurmBackend
from suanli.backends.slurm_cli import SlurmCli
from suanli.backends.slurm_rest import SlurmRest
from suanli.backends.slurm_script import SlurmPool
from suanli.client import SuanliClient
from suanli.domain.accelerators import Stack
from suanli.domain.errors import BackendError
from suanli.ports import AttemptSpec, Backend, EngineState, Feature
from suanli.sim.backend import SimPool
from tests.contract.child_platform import FEDERATED_POOLS
from tests.contract.sim_harness import WallClockSim, make_engine

GPU = LocalPool("gpu", nodes=2, accelerators_per_node=4, stack=Stack.CUDA)
NPU = LocalPool("npu", nodes=1, accelerators_per_node=8, stack=Stack.CANN)
CPU = LocalPool("cpu", nodes=2, accelerators_per_node=0, stack=Stack.CPU)
RAY_POOLS = [RayPool("gpu", "GPU", "A100"), RayPool("npu", "NPU"), RayPool("cpu")]
SLURM_POOLS = [SlurmPool("gpu", "gpu", "gpu:a100"), SlurmPool("npu", "npu", "npu:910b"), SlurmPool("cpu", "cpu")]
SIM_POOLS = [SimPool("gpu", 2, 4, 16), SimPool("npu", 1, 8, 16), SimPool("cpu", 2, 0, 16)]


@dataclass
class Harness:
    """Makes a backend over some state, and makes it again over the same state (an agent restart)."""

    make: Callable[[], Backend]
    backend: Backend

    def restart(self) -> Backend:
        self.backend.close()
        self.backend = self.make()
        return self.backend


@pytest.fixture(params=["local", "sim", "slurm", "slurm-rest", "ray", "federation"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "slurm-rest":
        url, token = request.getfixturevalue("slurm_rest")

        def make() -> Backend:
            return SlurmBackend(tmp_path / "engine", SLURM_POOLS, SlurmRest(url, "root", token))
    elif request.param == "ray":
        address = request.getfixturevalue("ray_head")

        def make() -> Backend:  # one Ray node here: a gang's bundles may share it (SPREAD, not STRICT_SPREAD)
            return RayBackend(tmp_path / "engine", RAY_POOLS, address, python=sys.executable, strategy="SPREAD")
    elif request.param == "federation":
        child = request.getfixturevalue("child_platform")
        token = child.tenant_token()

        def make() -> Backend:
            return FederationBackend(tmp_path / "engine", FEDERATED_POOLS, SuanliClient(child.url, token))
    elif request.param == "sim":
        engine = make_engine(SIM_POOLS)

        def make() -> Backend:
            return WallClockSim(engine)
    elif request.param == "slurm":
        conf = request.getfixturevalue("slurm_conf")

        def make() -> Backend:
            return SlurmBackend(tmp_path / "engine", SLURM_POOLS, SlurmCli(conf))
    else:

        def make() -> Backend:
            return LocalBackend(tmp_path / "engine", [GPU, NPU, CPU])

    h = Harness(make, make())
    yield h
    for attempt_id in h.backend.known_attempts():
        h.backend.cancel(attempt_id)


def spec(
    attempt_id: str,
    run: str,
    *,
    pool: str = "gpu",
    per_node: int = 1,
    nodes: int = 1,
    max_runtime: int = 60,
    setup: str | None = None,
    envs: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    seconds: float = 0.2,
    exit_code: int = 0,
) -> AttemptSpec:
    """An attempt running `run`; `seconds` and `exit_code` say what `run` does, for the simulator."""
    stack = {"gpu": Stack.CUDA, "npu": Stack.CANN, "cpu": Stack.CPU}[pool]
    model = {"gpu": "A100", "npu": "Ascend910B", "cpu": "CPU-X86"}[pool]
    return AttemptSpec(
        attempt_id,
        attempt_id.rsplit("-", 1)[0],
        "contract",
        "tenant",
        pool,
        model,
        stack,
        per_node if pool != "cpu" else 0,
        nodes,
        tuple(range(nodes)),
        1,
        1,
        run,
        setup,
        {"SIM_SECONDS": str(seconds), "SIM_EXIT": str(exit_code), **(envs or {})},
        files or {},
        max_runtime,
    )


# generous: on a loaded 2-core machine a real engine (Ray starting workers) can take tens of seconds, and a
# passing test returns as soon as the state is reached
WAIT_S = 60.0


def wait_until(backend: Backend, attempt_id: str, done: Callable[[EngineState], bool], timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = backend.status(attempt_id)
        if done(status.state):
            return status
        time.sleep(0.05)
    raise AssertionError(f"{attempt_id} still {backend.status(attempt_id).state} after {timeout}s")


def finished(backend: Backend, attempt_id: str, timeout: float = WAIT_S):
    return wait_until(backend, attempt_id, lambda s: s.finished, timeout)


def log_text(backend: Backend, attempt_id: str) -> str:
    return backend.read_log(attempt_id, 0, 1 << 20).decode()


def runs_commands(backend: Backend) -> bool:
    return Feature.COMMANDS in backend.features


def needs_commands(backend: Backend) -> None:
    if not runs_commands(backend):
        pytest.skip(f"{backend.name} models commands instead of running them")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


# ------------------------------------------------------------------------------------------ the contract


def test_runs_a_job_to_success_with_its_files_env_and_output(harness: Harness):
    b = harness.backend
    b.submit(
        spec(
            "j1-1",
            'cat data/in.txt; echo "$GREETING"',
            envs={"GREETING": "ni hao"},
            files={"data/in.txt": "from the workdir\n"},
        )
    )
    status = finished(b, "j1-1")
    assert status.state is EngineState.SUCCEEDED and status.exit_code == 0
    assert status.started_at is not None and status.ended_at is not None
    if runs_commands(b):
        assert log_text(b, "j1-1") == "from the workdir\nni hao\n"


def test_unknown_attempt_is_unknown(harness: Harness):
    assert harness.backend.status("never-1").state is EngineState.UNKNOWN


def test_submit_is_idempotent(harness: Harness, tmp_path: Path):
    marker = tmp_path / "runs.txt"
    b = harness.backend
    for _ in range(3):
        b.submit(spec("j2-1", f"echo ran >> {marker}"))
    first = finished(b, "j2-1")
    b.submit(spec("j2-1", f"echo ran >> {marker}"))
    time.sleep(0.3)
    again = b.status("j2-1")
    assert again.state is EngineState.SUCCEEDED and again.started_at == first.started_at
    assert b.known_attempts().count("j2-1") == 1
    if runs_commands(b):
        assert marker.read_text() == "ran\n"


def test_exit_codes_are_reported(harness: Harness):
    b = harness.backend
    b.submit(spec("j3-1", "echo failing >&2; exit 3", exit_code=3))
    status = finished(b, "j3-1")
    assert status.state is EngineState.FAILED and status.exit_code == 3
    if runs_commands(b):
        assert "failing" in log_text(b, "j3-1")


def test_setup_runs_first_and_its_failure_fails_the_job(harness: Harness):
    b = harness.backend
    needs_commands(b)
    b.submit(spec("j4-1", "cat made-by-setup", setup="echo ok > made-by-setup"))
    assert finished(b, "j4-1").state is EngineState.SUCCEEDED
    assert log_text(b, "j4-1") == "ok\n"
    b.submit(spec("j4b-1", "echo never", setup="exit 7"))
    status = finished(b, "j4b-1")
    assert status.state is EngineState.FAILED and status.exit_code == 7 and "setup failed" in status.reason
    assert "never" not in log_text(b, "j4b-1")


def test_max_runtime_is_enforced(harness: Harness):
    b = harness.backend
    if Feature.RUNTIME_LIMIT not in b.features:
        pytest.skip(f"{b.name} declares no runtime limit")
    started = time.monotonic()
    b.submit(spec("j5-1", "echo begin; sleep 30; echo end", max_runtime=1, seconds=30))
    status = finished(b, "j5-1")
    assert status.state is EngineState.TIMEOUT
    assert time.monotonic() - started < 15
    if runs_commands(b):
        assert "end" not in log_text(b, "j5-1")


def test_cancel_kills_the_whole_process_group_and_is_idempotent(harness: Harness, tmp_path: Path):
    b = harness.backend
    pidfile = tmp_path / "child.pid"
    b.submit(spec("j6-1", f"sleep 300 & echo $! > {pidfile}; echo started; wait", seconds=300))
    wait_until(b, "j6-1", lambda s: s is EngineState.RUNNING)
    if not runs_commands(b):
        b.cancel("j6-1")
        b.cancel("j6-1")
        assert finished(b, "j6-1").state is EngineState.CANCELLED
        assert {c.pool: c.accelerators_free for c in b.capacity()}["gpu"] == 8
        b.cancel("never-1")
        return
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pidfile.read_text())
    assert alive(child)
    b.cancel("j6-1")
    b.cancel("j6-1")
    status = finished(b, "j6-1")
    assert status.state is EngineState.CANCELLED
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the background child of the job survived the cancel"
    b.cancel("j6-1")  # after the end: still fine
    b.cancel("never-1")  # unknown: fine


def test_a_pending_attempt_cancelled_never_runs(harness: Harness, tmp_path: Path):
    b = harness.backend
    b.submit(spec("j7-1", "sleep 2", pool="npu", per_node=8, seconds=2))
    wait_until(b, "j7-1", lambda s: s is EngineState.RUNNING)
    marker = tmp_path / "ran"
    b.submit(spec("j8-1", f"touch {marker}", pool="npu", per_node=8))
    assert b.status("j8-1").state is EngineState.PENDING  # waits for the NPUs
    b.cancel("j8-1")
    assert finished(b, "j8-1").state is EngineState.CANCELLED
    assert finished(b, "j7-1").state is EngineState.SUCCEEDED
    time.sleep(0.3)
    assert not marker.exists()
    assert b.usage("j8-1") is None
    assert b.status("j8-1").state is EngineState.CANCELLED


def test_accelerators_are_never_shared_and_are_named_per_stack(harness: Harness):
    b = harness.backend
    probe = (
        "echo ids=$SUANLI_ACCELERATOR_IDS cuda=${CUDA_VISIBLE_DEVICES-} ascend=${ASCEND_RT_VISIBLE_DEVICES-}; sleep 1"
    )
    b.submit(spec("j9-1", probe, pool="npu", per_node=3, seconds=1))  # one node: both share it without overlap
    b.submit(spec("j10-1", probe, pool="npu", per_node=3, seconds=1))
    b.submit(spec("j11-1", probe, pool="gpu", per_node=2, seconds=1))
    for attempt_id in ("j9-1", "j10-1", "j11-1"):
        assert finished(b, attempt_id).state is EngineState.SUCCEEDED
    first, second = (set(b.status(a).devices["0"]) for a in ("j9-1", "j10-1"))
    assert len(first) == len(second) == 3 and not first & second
    if not runs_commands(b):
        return
    for attempt_id, ids in (("j9-1", first), ("j10-1", second)):
        joined = ",".join(str(i) for i in sorted(ids))
        assert log_text(b, attempt_id) == f"ids={joined} cuda= ascend={joined}\n"
    gpu_line = log_text(b, "j11-1")
    ids = gpu_line.split("ids=")[1].split()[0]
    assert len(ids.split(",")) == 2 and gpu_line == f"ids={ids} cuda={ids} ascend=\n"


def test_gang_ranks_start_together_and_know_each_other(harness: Harness):
    b = harness.backend
    if Feature.GANG not in b.features:
        pytest.skip(f"{b.name} declares no gang support")
    run = "echo rank=$SUANLI_NODE_RANK of=$SUANLI_NUM_NODES port=$MASTER_PORT devices=$CUDA_VISIBLE_DEVICES"
    b.submit(spec("j12-1", run, per_node=4, nodes=2))
    assert finished(b, "j12-1").state is EngineState.SUCCEEDED
    if runs_commands(b):
        lines = sorted(log_text(b, "j12-1").splitlines())
        assert len(lines) == 2
        assert lines[0].startswith("[node 0] rank=0 of=2") and lines[1].startswith("[node 1] rank=1 of=2")
        assert len({line.split("port=")[1].split()[0] for line in lines}) == 1
    devices = b.status("j12-1").devices
    assert sorted(devices) == ["0", "1"] and all(len(set(ids)) == 4 for ids in devices.values())
    if not isinstance(b, RayBackend):  # two real (or virtual) nodes: each has its own ids 0-3
        assert devices == {"0": [0, 1, 2, 3], "1": [0, 1, 2, 3]}


def test_a_failing_rank_fails_the_gang_and_stops_the_others(harness: Harness):
    b = harness.backend
    needs_commands(b)  # the simulator models a gang's exit as one
    started = time.monotonic()
    b.submit(spec("j13-1", "if [ $SUANLI_NODE_RANK = 1 ]; then exit 5; fi; sleep 30", per_node=1, nodes=2))
    status = finished(b, "j13-1")
    assert status.state is EngineState.FAILED and status.exit_code == 5 and "node 1" in status.reason
    assert time.monotonic() - started < 15


def test_usage_is_measured(harness: Harness):
    b = harness.backend
    b.submit(spec("j14-1", "sleep 1.2", per_node=2, seconds=1.2))
    finished(b, "j14-1")
    usage = b.usage("j14-1")
    assert usage is not None and usage.accelerators == 2
    assert 1 <= usage.wall_seconds < 10  # Slurm accounts whole seconds
    assert usage.accelerator_seconds == pytest.approx(usage.wall_seconds * 2, rel=0.01)


def test_capacity_reflects_running_attempts(harness: Harness):
    b = harness.backend

    def gpu_free_becomes(expected: int) -> None:  # engines may report their resources a few seconds late
        deadline = time.monotonic() + 15
        while (free := {c.pool: c.accelerators_free for c in b.capacity()}["gpu"]) != expected:
            assert time.monotonic() < deadline, f"gpu free is {free}, not {expected}"
            time.sleep(0.2)

    b.submit(spec("j15-1", "sleep 4", per_node=3, seconds=4))
    wait_until(b, "j15-1", lambda s: s is EngineState.RUNNING)
    gpu_free_becomes(8 - 3)
    finished(b, "j15-1")
    gpu_free_becomes(8)


def test_jobs_do_not_inherit_the_agents_secrets(harness: Harness, monkeypatch):
    monkeypatch.setenv("SUANLI_AGENT_TOKEN", "sla_secret")
    b = harness.backend
    needs_commands(b)
    b.submit(spec("j16-1", "env"))
    finished(b, "j16-1")
    env = log_text(b, "j16-1")
    assert "sla_secret" not in env and "SUANLI_JOB_ID=" in env
    if not isinstance(b, FederationBackend):  # under federation the job sees the child platform's own job id
        assert "SUANLI_JOB_ID=j16" in env


def test_reconcile_after_restart_finds_running_and_finished_attempts(harness: Harness, tmp_path: Path):
    marker = tmp_path / "runs.txt"
    b = harness.backend
    b.submit(spec("j17-1", f"echo ran >> {marker}; sleep 4; echo done", seconds=4))
    b.submit(spec("j18-1", "echo quick"))
    wait_until(b, "j17-1", lambda s: s is EngineState.RUNNING)
    finished(b, "j18-1")
    b = harness.restart()
    assert set(b.known_attempts()) >= {"j17-1", "j18-1"}
    assert b.status("j18-1").state is EngineState.SUCCEEDED
    assert b.status("j17-1").state is EngineState.RUNNING
    b.submit(spec("j17-1", f"echo ran >> {marker}; sleep 4; echo done", seconds=4))  # a confused resubmit: no-op
    assert finished(b, "j17-1").state is EngineState.SUCCEEDED
    if runs_commands(b):
        assert marker.read_text() == "ran\n"
        assert log_text(b, "j17-1") == "done\n"


def test_a_runner_that_dies_is_reported_lost_and_its_processes_killed(harness: Harness, tmp_path: Path):
    b = harness.backend
    if not isinstance(b, LocalBackend):
        pytest.skip("runner processes are specific to the local engine")
    pidfile = tmp_path / "pid"
    b.submit(spec("j19-1", f"echo $$ > {pidfile}; sleep 300"))
    wait_until(b, "j19-1", lambda s: s is EngineState.RUNNING)
    while not (pidfile.exists() and pidfile.read_text().strip()):
        time.sleep(0.05)
    started = (b.attempts_dir / "j19-1" / "started.json").read_text()
    runner_pid = int(started.split('"pid": ')[1].split(",")[0])
    os.kill(runner_pid, signal.SIGKILL)
    status = finished(b, "j19-1")
    assert status.state is EngineState.LOST
    job_pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while alive(job_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(job_pid)


def test_forget_cleans_up_finished_attempts_only(harness: Harness):
    b = harness.backend
    b.submit(spec("j20-1", "sleep 1", seconds=1))
    wait_until(b, "j20-1", lambda s: s is EngineState.RUNNING)
    with pytest.raises(BackendError):
        b.forget("j20-1")
    finished(b, "j20-1")
    b.forget("j20-1")
    assert b.status("j20-1").state is EngineState.UNKNOWN
    assert "j20-1" not in b.known_attempts()


def test_an_unknown_pool_is_refused_clearly(harness: Harness):
    with pytest.raises(BackendError) as exc:
        harness.backend.submit(replace(spec("j21-1", "true"), pool="tpu"))
    assert not exc.value.retryable

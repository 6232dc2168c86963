"""What only the Slurm engine has to get right, on the real test cluster: accounting as the source of usage,
the operator's own scancel, Slurm refusing a job, an unreachable controller, and a crash between sbatch and
recording the job id (found again by name, never submitted twice)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from suanli.backends.slurm import SlurmBackend
from suanli.backends.slurm_cli import SlurmCli
from suanli.domain.errors import BackendError
from suanli.ports import EngineState
from tests.contract.test_backend_contract import SLURM_POOLS, finished, spec, wait_until


@pytest.fixture
def cli(slurm_conf: str) -> SlurmCli:
    return SlurmCli(slurm_conf)


@pytest.fixture
def backend(tmp_path: Path, cli: SlurmCli) -> SlurmBackend:
    return SlurmBackend(tmp_path / "engine", SLURM_POOLS, cli)


def unique(prefix: str) -> str:
    """Attempt ids are globally unique in suanli; these tests look jobs up by name across runs."""
    return f"{prefix}{uuid.uuid4().hex[:8]}-1"


def slurm(cli: SlurmCli, *args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, env=cli.env, check=True, timeout=30).stdout


def job_id_of(backend: SlurmBackend, attempt_id: str) -> str:
    return str((backend.attempts_dir / attempt_id / "job.json").read_text().split('"job_id": "')[1].split('"')[0])


def test_usage_is_what_slurm_accounted(backend: SlurmBackend, cli: SlurmCli):
    attempt = unique("use")
    backend.submit(spec(attempt, "timeout 2 sh -c 'while :; do :; done'; exit 0", per_node=2))
    assert finished(backend, attempt).state is EngineState.SUCCEEDED
    usage = backend.usage(attempt)
    job_id = job_id_of(backend, attempt)
    line = slurm(cli, "sacct", "-n", "-P", "-X", "-j", job_id, "--format=ElapsedRaw,AllocTRES").strip()
    elapsed, tres = line.split("|")
    assert usage is not None
    assert usage.wall_seconds == float(elapsed) and "gres/gpu=2" in tres
    assert usage.accelerators == 2 and usage.accelerator_seconds == 2 * float(elapsed)
    assert usage.cpu_seconds >= 1.0  # the busy loop's CPU time, from sacct's TotalCPU


def test_a_job_scancelled_by_the_operator_is_reported_as_such(backend: SlurmBackend, cli: SlurmCli):
    attempt = unique("op")
    backend.submit(spec(attempt, "sleep 60"))
    wait_until(backend, attempt, lambda s: s is EngineState.RUNNING)
    slurm(cli, "scancel", job_id_of(backend, attempt))
    status = finished(backend, attempt)
    assert status.state is EngineState.CANCELLED
    assert "scancel by the centre" in status.reason


def test_a_job_slurm_refuses_fails_clearly_and_leaves_nothing(backend: SlurmBackend):
    attempt = unique("big")
    with pytest.raises(BackendError) as exc:
        backend.submit(spec(attempt, "true", per_node=16))  # nodes have 4 GPUs each
    assert not exc.value.retryable and "sbatch" in exc.value.detail
    assert backend.status(attempt).state is EngineState.UNKNOWN
    assert attempt not in backend.known_attempts()


def test_a_job_waiting_in_slurm_says_why(backend: SlurmBackend):
    first, second = unique("hold"), unique("wait")
    backend.submit(spec(first, "sleep 120", pool="npu", per_node=8))  # holds the pool until cancelled below
    wait_until(backend, first, lambda s: s is EngineState.RUNNING)
    backend.submit(spec(second, "true", pool="npu", per_node=8))
    status = wait_until(backend, second, lambda s: s is EngineState.PENDING)
    deadline = time.monotonic() + 30  # Slurm names the reason at its next scheduling pass
    while not status.reason and time.monotonic() < deadline:
        time.sleep(0.2)
        status = backend.status(second)
    assert status.state is EngineState.PENDING
    assert status.reason in ("waiting in Slurm: Resources", "waiting in Slurm: Priority")
    backend.cancel(second)
    backend.cancel(first)


def test_an_unreachable_controller_is_retryable_and_the_attempt_is_not_lost(
    tmp_path: Path, slurm_conf: str, backend: SlurmBackend
):
    broken_dir = tmp_path / "broken"
    broken_dir.mkdir()
    conf = Path(slurm_conf).read_text().replace("SlurmctldPort=", "SlurmctldPort=1")  # 16817 → 116817: nobody
    (broken_dir / "slurm.conf").write_text(conf)
    shutil.copy(Path(slurm_conf).parent / "gres.conf", broken_dir / "gres.conf")
    down = SlurmBackend(backend.root, SLURM_POOLS, SlurmCli(str(broken_dir / "slurm.conf"), timeout_s=10))
    attempt = unique("down")
    with pytest.raises(BackendError) as exc:
        down.submit(spec(attempt, "echo once"))
    assert exc.value.retryable
    assert attempt in down.known_attempts()  # accepted here; it reaches Slurm when Slurm answers again
    status = finished(backend, attempt)  # the agent restarted against the working controller
    assert status.state is EngineState.SUCCEEDED
    assert backend.read_log(attempt, 0, 100) == b"once\n"


def test_a_crash_between_sbatch_and_recording_the_job_never_submits_twice(
    tmp_path: Path, backend: SlurmBackend, cli: SlurmCli
):
    attempt = unique("crash")
    backend.submit(spec(attempt, "sleep 1; echo ran"))
    first_id = job_id_of(backend, attempt)
    os.remove(backend.attempts_dir / attempt / "job.json")  # as if the agent died right after sbatch
    again = SlurmBackend(backend.root, SLURM_POOLS, cli)
    again.submit(spec(attempt, "sleep 1; echo ran"))
    assert job_id_of(again, attempt) == first_id
    assert finished(again, attempt).state is EngineState.SUCCEEDED
    names = slurm(cli, "squeue", "-h", "-t", "all", "-o", "%j").split()
    assert names.count(f"suanli-{attempt}") == 1
    assert again.read_log(attempt, 0, 100) == b"ran\n"


def test_capacity_counts_up_nodes_and_free_gres(backend: SlurmBackend, cli: SlurmCli):
    by_pool = {c.pool: c for c in backend.capacity()}
    assert {p: c.nodes_up for p, c in by_pool.items()} == {"gpu": 2, "npu": 1, "cpu": 2}
    slurm(cli, "scontrol", "update", "nodename=n2", "state=drain", "reason=suanli-test")
    try:
        gpu = next(c for c in backend.capacity() if c.pool == "gpu")
        assert gpu.nodes_up == 1 and gpu.accelerators_free <= 4
    finally:
        slurm(cli, "scontrol", "update", "nodename=n2", "state=resume")

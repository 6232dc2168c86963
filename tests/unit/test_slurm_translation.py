"""How suanli reads Slurm's output and writes its jobs, without a cluster: parsers on captured output, sbatch's
options per pool, and the agent's engine configuration file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from suanli.backends import create_backend
from suanli.backends import slurm as _slurm  # noqa: F401 - registers the engine
from suanli.backends.engine_config import load_engine_config, merge_pools
from suanli.backends.slurm_cli import (
    expand_indices,
    parse_accounting,
    parse_duration,
    parse_nodes,
    parse_queue,
    parse_tres,
)
from suanli.backends.slurm_rest import SlurmRest
from suanli.backends.slurm_script import SlurmPool, batch_script, rank_script, sbatch_options
from suanli.domain.accelerators import Stack
from suanli.domain.errors import InvalidInput
from suanli.ports import AttemptSpec

SACCT = """\
55|suanli-j1-1|COMPLETED|0:0|2026-11-23T02:36:57|2026-11-23T02:37:00|3|billing=2,cpu=2,gres/gpu=2,mem=2G,node=1|00:02.049
56|suanli-j2-1|CANCELLED by 0|0:15|2026-11-23T02:40:00|2026-11-23T02:40:09|9|billing=1,cpu=1,mem=1G,node=1|01:02:03
57|suanli-j3-1|CANCELLED by 0|0:0|2026-11-23T02:41:00|2026-11-23T02:41:00|0||00:00:00
57.batch|batch|CANCELLED|0:15|2026-11-23T02:41:00|2026-11-23T02:41:00|0||00:00:00
"""

NODES = (
    "NodeName=n1 Arch=x86_64 CoresPerSocket=1 CPUAlloc=1 CPUTot=8 Gres=gpu:a100:4 NodeAddr=vm NodeHostName=vm "
    "Partitions=gpu,all State=MIXED CfgTRES=cpu=8,mem=16000M,billing=8,gres/gpu=4 AllocTRES=cpu=1,gres/gpu=3\n"
    "NodeName=n2 Partitions=gpu State=IDLE+DRAIN CfgTRES=cpu=8,mem=16000M,gres/gpu=4 AllocTRES=\n"
)


def attempt(**overrides) -> AttemptSpec:
    values = dict(
        attempt_id="j9-2",
        job_id="j9",
        job_name="train",
        tenant="acme",
        pool="a100",
        model="A100",
        stack=Stack.CUDA,
        per_node=4,
        nodes=2,
        node_indices=(0, 1),
        cpus=3.5,
        memory_gib=1.5,
        run="python train.py",
        setup=None,
        envs={"LR": "0.1 0.2"},
        files={},
        max_runtime_s=90,
    )
    values.update(overrides)
    return AttemptSpec(**values)  # type: ignore[arg-type]


def test_sacct_lines_become_jobs_with_exit_codes_signals_and_cpu_time():
    rows = {r.job_id: r for r in parse_accounting(SACCT)}
    done, cancelled, pending = rows["55"], rows["56"], rows["57"]
    assert done.state == "COMPLETED" and done.exit_code == 0 and done.elapsed_s == 3
    assert done.alloc_tres["gres/gpu"] == 2 and done.alloc_tres["mem"] == 2048
    assert done.total_cpu_s == pytest.approx(2.049)
    assert cancelled.state == "CANCELLED" and cancelled.signal == 15 and cancelled.total_cpu_s == 3723
    assert pending.alloc_tres == {} and pending.start is not None  # Slurm prints a start even for never-ran jobs


def test_queue_and_node_lines():
    rows = parse_queue("12|suanli-a-1|PENDING|Resources\n13|other|RUNNING|None\n")
    assert [(r.job_id, r.name, r.state, r.reason) for r in rows] == [
        ("12", "suanli-a-1", "PENDING", "Resources"),
        ("13", "other", "RUNNING", "None"),
    ]
    n1, n2 = parse_nodes(NODES)
    assert n1.partitions == ("gpu", "all") and n1.up and n1.cfg_tres["gres/gpu"] - n1.alloc_tres["gres/gpu"] == 1
    assert not n2.up  # drained nodes take no work


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:02.049", 2.049), ("01:02:03", 3723), ("2-00:00:01", 172801), ("", 0.0), ("59", 59)],
)
def test_durations(text: str, seconds: float):
    assert parse_duration(text) == pytest.approx(seconds)


def test_tres_units_and_gres_indices():
    assert parse_tres("cpu=2,mem=1.5G,gres/npu=8,bb=") == {"cpu": 2, "mem": 1536, "gres/npu": 8}
    assert expand_indices("0-2,5,7-7") == [0, 1, 2, 5, 7]


def test_sbatch_options_ask_for_the_gang_the_gres_and_whole_minutes():
    options = sbatch_options(attempt(), SlurmPool("a100", "gpu", "gpu:a100", account="city"), "/srv/a/j9-2")
    assert "--nodes=2" in options and "--ntasks-per-node=1" in options and "--gres=gpu:a100:4" in options
    assert "--cpus-per-task=4" in options and "--mem=1536M" in options
    assert "--time=2" in options  # 90 s → 2 minutes; the script's timeout keeps the exact 90 s
    assert "--export=NONE" in options and "--no-requeue" in options and "--account=city" in options
    assert "--job-name=suanli-j9-2" in options and "--partition=gpu" in options
    cpu = sbatch_options(attempt(per_node=0, nodes=1), SlurmPool("cpu", "cpu"), "/srv/a/x")
    assert not any(o.startswith("--gres") for o in cpu)
    with pytest.raises(ValueError):
        sbatch_options(attempt(), SlurmPool("a100", "gpu"), "/srv/a/j9-2")


def test_scripts_carry_the_environment_quoted_and_name_devices_per_stack():
    script = batch_script(attempt(), "/srv/a/j9-2", {"PATH": "/usr/bin"})
    assert "export LR='0.1 0.2'" in script and "export SUANLI_JOB_ID=j9" in script
    assert "timeout --kill-after=5 90 srun" in script and "--nodes=2" in script
    assert "SUANLI_AGENT_TOKEN" not in script
    ascend = rank_script(attempt(stack=Stack.CANN), "/srv/a/j9-2")
    assert 'export ASCEND_RT_VISIBLE_DEVICES="$ids"' in ascend and "CUDA_VISIBLE_DEVICES" not in ascend
    assert "[node $R]" in ascend  # gangs prefix their lines
    assert "if false; then" in rank_script(attempt(nodes=1), "/x")  # a single node's lines are left as they are


def test_engine_config_adds_pool_settings_and_names_mistakes(tmp_path: Path):
    path = tmp_path / "slurm.yaml"
    path.write_text("slurm_conf: /etc/slurm/slurm.conf\npools:\n  a100: {partition: gpu, gres: 'gpu:a100'}\n")
    config = load_engine_config(path)
    server = [{"name": "a100", "nodes": 2, "accelerators_per_node": 4, "stack": "cuda"}]
    assert merge_pools(server, config) == [{**server[0], "partition": "gpu", "gres": "gpu:a100"}]
    with pytest.raises(InvalidInput) as exc:
        merge_pools(server, {"pools": {"h100": {"partition": "x"}}})
    assert exc.value.errors[0].field == "pools.h100"
    path.write_text("pools: [1, 2]\n")
    with pytest.raises(InvalidInput):
        load_engine_config(path)
    with pytest.raises(InvalidInput) as exc:
        load_engine_config(tmp_path / "missing.yaml")
    assert exc.value.errors[0].field == "engine_config"


def test_a_slurm_agent_refuses_to_start_with_an_accelerator_pool_lacking_its_gres(tmp_path: Path):
    pools = [{"name": "a100", "nodes": 2, "accelerators_per_node": 4, "stack": "cuda", "partition": "gpu"}]
    with pytest.raises(InvalidInput) as exc:
        create_backend("slurm", root=tmp_path, pools=pools)
    assert exc.value.errors[0].field == "pools.a100.gres"
    with pytest.raises(InvalidInput) as exc:
        create_backend("slurm", root=tmp_path, pools=[], slurm_cnf="/typo")
    assert exc.value.errors[0].field == "slurm_cnf"


def test_sbatch_options_become_rest_job_properties():
    from suanli.backends.slurm_rest import job_properties

    options = sbatch_options(attempt(), SlurmPool("a100", "gpu", "gpu:a100", account="city"), "/srv/a/j9-2")
    job = job_properties(options)
    assert job["nodes"] == 2 and job["tasks_per_node"] == 1 and job["gres"] == "gpu:a100:4"
    assert job["memory_per_node"] == 1536 and job["time_limit"] == 2 and job["requeue"] is False
    assert job["standard_output"] == "/srv/a/j9-2/output.log" and job["account"] == "city"
    assert job["environment"] == {"PATH": "/usr/local/bin:/usr/bin:/bin"}  # nothing of the agent's
    with pytest.raises(ValueError):
        job_properties(["--exclusive"])


def test_rest_accounting_and_gres_in_use():
    from suanli.backends.slurm_rest import _acct_row, _gres_counts

    row = _acct_row(
        {
            "job_id": 465,
            "name": "suanli-j-1",
            "state": {"current": "FAILED", "reason": "None"},
            "exit_code": {"status": "FAILED", "return_code": 3},
            "time": {"elapsed": 3, "start": 1795404898, "end": 1795404901},
            "tres": {"allocated": [{"type": "gres", "name": "gpu", "count": 4}, {"type": "node", "count": None}]},
            "steps": [{"time": {"total": {"seconds": 2, "microseconds": 500000}}}, {"time": {}}],
        }
    )
    assert row.state == "FAILED" and row.exit_code == 3 and row.elapsed_s == 3
    assert row.alloc_tres["gres/gpu"] == 4 and row.total_cpu_s == 2.5
    assert row.end is not None and row.start is not None and (row.end - row.start).total_seconds() == 3
    assert _gres_counts("gpu:a100:2(IDX:0-1,3),npu:0") == {"gpu": 2, "npu": 0}


def test_slurmrestd_answering_nothing_found_is_an_empty_result_not_an_error():
    """slurmdbd has no record yet of a job cancelled while pending (seen in CI): that is "not there yet"."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"errors": [{"error_code": 9003, "error": "Nothing found with query"}]})

    rest = SlurmRest("http://slurmrestd", "root", "jwt", transport=httpx.MockTransport(answer))
    assert rest.accounting(["18"]) == {}
    assert rest.find_by_name("suanli-j8-1") is None

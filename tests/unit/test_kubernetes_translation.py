"""The Kubernetes translation, checked against the official client's models (no cluster runs here): each object
serialises and deserialises back into the client's types; the pod's script runs under bash as a pod would run it;
Job statuses read back as engine states."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from kubernetes import client as k8s

from suanli.backends import create_backend
from suanli.backends import kubernetes as _kubernetes  # noqa: F401 - registers the engine
from suanli.backends.kubernetes_objects import (
    KUEUE_QUEUE,
    KubePool,
    batch_job,
    config_map,
    headless_service,
    job_state,
    object_name,
    rank_script,
    volcano_job,
    volcano_state,
)
from suanli.domain.accelerators import Stack
from suanli.domain.errors import InvalidInput
from suanli.ports import AttemptSpec, EngineState

ASCEND = KubePool(
    "910b",
    "swr.example/ascend-pytorch:8.0",
    "huawei.com/Ascend910",
    {"accelerator": "ascend-910b"},
    ({"key": "huawei.com/Ascend910", "operator": "Exists", "effect": "NoSchedule"},),
    "city-queue",
)


def roundtrip(obj: object, kind: str) -> tuple[dict, object]:
    api = k8s.ApiClient()
    data = api.sanitize_for_serialization(obj)
    return data, api.deserialize(json.dumps(data), kind, "application/json")


def spec(**overrides) -> AttemptSpec:
    values = dict(
        attempt_id="job_01M834KQ_x-1",
        job_id="job_01M834KQ_x",
        job_name="finetune",
        tenant="acme",
        pool="910b",
        model="Ascend910B",
        stack=Stack.CANN,
        per_node=8,
        nodes=2,
        node_indices=(0, 1),
        cpus=7.5,
        memory_gib=64,
        run="python train.py",
        setup="pip install -r req.txt",
        envs={"LR": "0.1"},
        files={"train.py": "print(1)", "conf/a.yaml": "x: 1"},
        max_runtime_s=3600,
    )
    values.update(overrides)
    return AttemptSpec(**values)  # type: ignore[arg-type]


def test_names_are_dns_labels():
    for attempt in ("job_01M834KQ_x-1", "A" * 80 + "-12", "weird..ID__-3"):
        name = object_name(attempt)
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 52


def test_a_gang_is_an_indexed_job_admitted_whole_by_kueue():
    s = spec()
    _, items = config_map(s, "suanli")
    data, job = roundtrip(batch_job(s, ASCEND, "suanli", items), "V1Job")
    assert isinstance(job, k8s.V1Job)
    name = object_name(s.attempt_id)
    assert data["metadata"]["labels"][KUEUE_QUEUE] == "city-queue" and data["spec"]["suspend"] is True
    assert (
        data["spec"]["completionMode"] == "Indexed" and data["spec"]["completions"] == data["spec"]["parallelism"] == 2
    )
    assert data["spec"]["backoffLimit"] == 0 and data["spec"]["activeDeadlineSeconds"] == 3600
    pod = data["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["subdomain"] == name
    assert pod["nodeSelector"] == {"accelerator": "ascend-910b"} and pod["tolerations"][0]["operator"] == "Exists"
    (container,) = pod["containers"]
    assert container["resources"]["limits"] == {"cpu": "7500m", "memory": "65536Mi", "huawei.com/Ascend910": "8"}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MASTER_ADDR"] == f"{name}-0.{name}.suanli.svc" and env["LR"] == "0.1"
    assert env["SUANLI_NUM_NODES"] == "2" and env["SUANLI_ACCELERATORS_PER_NODE"] == "8"
    paths = {i["path"] for v in pod["volumes"] if v.get("configMap") for i in v["configMap"]["items"]}
    assert {"rank.sh", "run.sh", "setup.sh", "files/train.py", "files/conf/a.yaml"} <= paths
    svc_data, _ = roundtrip(headless_service(s, "suanli"), "V1Service")
    assert svc_data["spec"]["clusterIP"] == "None" and svc_data["metadata"]["name"] == name


def test_a_cpu_job_without_a_queue_runs_unsuspended_and_asks_for_no_device():
    cpu = KubePool("cpu", "python:3.11-slim")
    s = spec(pool="cpu", model="CPU-X86", stack=Stack.CPU, per_node=0, nodes=1, cpus=2, setup=None, files={})
    _, items = config_map(s, "ns")
    data, _ = roundtrip(batch_job(s, cpu, "ns", items), "V1Job")
    assert data["spec"]["suspend"] is False and KUEUE_QUEUE not in data["metadata"]["labels"]
    assert data["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "65536Mi"}


def test_a_volcano_job_schedules_the_gang_together():
    pool = KubePool("910b", "img", "huawei.com/Ascend910", queue="research", scheduler="volcano")
    s = spec()
    _, items = config_map(s, "ns")
    body = volcano_job(s, pool, "ns", items)
    assert body["apiVersion"] == "batch.volcano.sh/v1alpha1" and body["spec"]["minAvailable"] == 2
    assert body["spec"]["queue"] == "research" and body["spec"]["tasks"][0]["replicas"] == 2
    assert {"event": "PodFailed", "action": "AbortJob"} in body["spec"]["policies"]
    template = k8s.ApiClient().deserialize(
        json.dumps(body["spec"]["tasks"][0]["template"]), "V1PodTemplateSpec", "application/json"
    )
    assert template.spec.scheduler_name == "volcano"


def test_the_pod_script_runs_setup_then_run_with_rank_and_devices(tmp_path: Path):
    s = spec(
        setup="echo set > made",
        run='echo "rank=$SUANLI_NODE_RANK ids=$ASCEND_RT_VISIBLE_DEVICES"; cat made conf/a.yaml',
    )
    root = tmp_path / "suanli"
    (root / "files" / "conf").mkdir(parents=True)
    (root / "files" / "conf" / "a.yaml").write_text("x: 1\n")
    (root / "run.sh").write_text(s.run + "\n")
    (root / "setup.sh").write_text(str(s.setup) + "\n")
    script = rank_script(s).replace("/suanli", str(root)).replace("/work", str(tmp_path / "work"))
    (tmp_path / "work").mkdir()
    env = {"PATH": "/usr/bin:/bin", "JOB_COMPLETION_INDEX": "1", "SUANLI_ACCELERATORS_PER_NODE": "3"}
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert out == "rank=1 ids=0,1,2\nset\nx: 1\n"
    (root / "setup.sh").write_text("exit 7\n")
    failed = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert failed.returncode == 7 and "setup failed" in failed.stderr


@pytest.mark.parametrize(
    ("status", "suspended", "expected"),
    [
        (None, True, EngineState.PENDING),
        ({"active": 2, "startTime": "2026-11-23T01:00:00Z", "ready": 2}, False, EngineState.RUNNING),
        ({"conditions": [{"type": "Complete", "status": "True"}]}, False, EngineState.SUCCEEDED),
        (
            {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]},
            False,
            EngineState.TIMEOUT,
        ),
        (
            {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]},
            False,
            EngineState.FAILED,
        ),
        ({"active": 2}, False, EngineState.PENDING),
    ],
)
def test_job_statuses_read_back(status, suspended, expected):
    state, reason = job_state(status, suspended)
    assert state is expected
    if suspended:
        assert "admission" in reason


@pytest.mark.parametrize(
    ("phase", "expected"),
    [("Pending", EngineState.PENDING), ("Running", EngineState.RUNNING), ("Completed", EngineState.SUCCEEDED),
     ("Aborted", EngineState.FAILED), ("Failed", EngineState.FAILED)],
)  # fmt: skip
def test_volcano_phases_read_back(phase: str, expected: EngineState):
    assert volcano_state({"state": {"phase": phase}})[0] is expected


def test_configuration_names_what_is_missing(tmp_path: Path):
    pools = [{"name": "a100", "accelerators_per_node": 8, "scheduler": "slurm"}]
    with pytest.raises(InvalidInput) as exc:
        create_backend("kubernetes", root=tmp_path, pools=pools, namepsace="x")
    fields = {e.field for e in exc.value.errors}
    assert fields == {"namepsace", "pools.a100.image", "pools.a100.resource", "pools.a100.scheduler"}

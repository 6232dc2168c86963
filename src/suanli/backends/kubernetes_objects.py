"""What one suanli attempt becomes on Kubernetes, built from the official client's models (so a missing or
mistyped field fails here, not in the cluster), and how a Job's status reads back.

Per attempt `a`: a ConfigMap with its files and scripts, a headless Service for multi-node rendezvous, and
either a batch/v1 Indexed Job (one pod per node; with Kueue's `queue-name` label, Kueue admits all pods at once)
or a Volcano Job (`batch.volcano.sh/v1alpha1`, `minAvailable` = nodes: a gang). Accelerators are device-plugin
resources per pool (`nvidia.com/gpu`, `huawei.com/Ascend910`, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as k8s

from suanli.domain.accelerators import VISIBLE_DEVICES_ENV
from suanli.ports import AttemptSpec, EngineState

LABEL = "suanli.io/attempt"
KUEUE_QUEUE = "kueue.x-k8s.io/queue-name"


@dataclass(frozen=True)
class KubePool:
    """A suanli pool on Kubernetes: the device-plugin `resource`, the image, where pods go, and the queue."""

    name: str
    image: str
    resource: str | None = None  # e.g. nvidia.com/gpu, huawei.com/Ascend910; none for CPU pools
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()
    queue: str | None = None  # Kueue LocalQueue, or the Volcano queue
    scheduler: str = "kueue"  # kueue | volcano | default


def object_name(attempt_id: str) -> str:
    """A DNS-1123 name for the attempt's objects (lower case, at most 52 characters so pods' names fit)."""
    name = re.sub(r"[^a-z0-9-]", "-", attempt_id.lower()).strip("-")
    return f"sl-{name}"[:52].rstrip("-")


def rank_script(spec: AttemptSpec) -> str:
    """Each pod: copy the files into /work, set the rank and devices, run setup then run."""
    visible = "\n".join(
        f'[ -n "${{{name}+x}}" ] || export {name}="$SUANLI_ACCELERATOR_IDS"' for name in VISIBLE_DEVICES_ENV[spec.stack]
    )
    return f"""#!/bin/bash
set -o pipefail
cp -r /suanli/files/. /work/ 2>/dev/null || true
cd /work
export SUANLI_NODE_RANK="${{JOB_COMPLETION_INDEX:-${{VC_TASK_INDEX:-0}}}}"
ids=""; for i in $(seq 0 $((SUANLI_ACCELERATORS_PER_NODE - 1))); do ids="$ids${{ids:+,}}$i"; done
export SUANLI_ACCELERATOR_IDS="$ids"
{visible}
if [ -f /suanli/setup.sh ]; then
  bash /suanli/setup.sh || {{ rc=$?; echo "suanli: setup failed with code $rc" >&2; exit "$rc"; }}
fi
exec bash /suanli/run.sh
"""


def config_map(spec: AttemptSpec, namespace: str) -> tuple[k8s.V1ConfigMap, list[k8s.V1KeyToPath]]:
    """The job's files and scripts, and the `items` that mount each at its relative path (keys are flat)."""
    name = object_name(spec.attempt_id)
    data = {"rank.sh": rank_script(spec), "run.sh": spec.run + "\n"}
    if spec.setup:
        data["setup.sh"] = spec.setup + "\n"
    items = [k8s.V1KeyToPath(key=k, path=k) for k in data]
    for i, (rel, content) in enumerate(sorted(spec.files.items())):
        data[f"file-{i}"] = content
        items.append(k8s.V1KeyToPath(key=f"file-{i}", path=f"files/{rel}"))
    meta = k8s.V1ObjectMeta(name=name, namespace=namespace, labels={LABEL: spec.attempt_id})
    return k8s.V1ConfigMap(metadata=meta, data=data), items


def headless_service(spec: AttemptSpec, namespace: str) -> k8s.V1Service:
    """Stable names for the pods of a gang: `<name>-<rank>.<name>` (rank 0 is MASTER_ADDR)."""
    name = object_name(spec.attempt_id)
    return k8s.V1Service(
        metadata=k8s.V1ObjectMeta(name=name, namespace=namespace, labels={LABEL: spec.attempt_id}),
        spec=k8s.V1ServiceSpec(cluster_ip="None", selector={LABEL: spec.attempt_id}, publish_not_ready_addresses=True),
    )


def pod_template(
    spec: AttemptSpec, pool: KubePool, namespace: str, items: list[k8s.V1KeyToPath]
) -> k8s.V1PodTemplateSpec:
    name = object_name(spec.attempt_id)
    limits = {"cpu": _quantity(spec.cpus), "memory": f"{max(1, round(spec.memory_gib * 1024))}Mi"}
    if spec.per_node > 0 and pool.resource:
        limits[pool.resource] = str(spec.per_node)
    env = {
        **spec.envs,
        "SUANLI_JOB_ID": spec.job_id,
        "SUANLI_JOB_NAME": spec.job_name,
        "SUANLI_ATTEMPT_ID": spec.attempt_id,
        "SUANLI_NUM_NODES": str(spec.nodes),
        "SUANLI_ACCELERATOR_MODEL": spec.model,
        "SUANLI_ACCELERATORS_PER_NODE": str(spec.per_node),
        "SUANLI_NODE_IPS": "\n".join(f"{name}-{r}.{name}.{namespace}.svc" for r in range(spec.nodes)),
        "MASTER_ADDR": f"{name}-0.{name}.{namespace}.svc",
        "MASTER_PORT": "29500",
        "PYTHONUNBUFFERED": "1",
    }
    container = k8s.V1Container(
        name="job",
        image=pool.image,
        command=["bash", "/suanli/rank.sh"],
        working_dir="/work",
        env=[k8s.V1EnvVar(name=k, value=v) for k, v in sorted(env.items())]
        + [
            k8s.V1EnvVar(
                name="SUANLI_NODE_NAME",
                value_from=k8s.V1EnvVarSource(field_ref=k8s.V1ObjectFieldSelector(field_path="spec.nodeName")),
            )
        ],
        resources=k8s.V1ResourceRequirements(limits=limits, requests=dict(limits)),
        volume_mounts=[
            k8s.V1VolumeMount(name="suanli", mount_path="/suanli", read_only=True),
            k8s.V1VolumeMount(name="work", mount_path="/work"),
        ],
    )
    return k8s.V1PodTemplateSpec(
        metadata=k8s.V1ObjectMeta(labels={LABEL: spec.attempt_id}),
        spec=k8s.V1PodSpec(
            restart_policy="Never",
            subdomain=name,
            containers=[container],
            node_selector=pool.node_selector or None,
            tolerations=[k8s.V1Toleration(**t) for t in pool.tolerations] or None,
            scheduler_name="volcano" if pool.scheduler == "volcano" else None,
            volumes=[
                k8s.V1Volume(name="suanli", config_map=k8s.V1ConfigMapVolumeSource(name=name, items=items)),
                k8s.V1Volume(name="work", empty_dir=k8s.V1EmptyDirVolumeSource()),
            ],
        ),
    )


def batch_job(spec: AttemptSpec, pool: KubePool, namespace: str, items: list[k8s.V1KeyToPath]) -> k8s.V1Job:
    """An Indexed Job with one pod per node; suspended with Kueue's label so Kueue admits the whole gang."""
    name = object_name(spec.attempt_id)
    labels = {LABEL: spec.attempt_id, "suanli.io/job": spec.job_id}
    if pool.queue and pool.scheduler == "kueue":
        labels[KUEUE_QUEUE] = pool.queue
    return k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=k8s.V1ObjectMeta(name=name, namespace=namespace, labels=labels),
        spec=k8s.V1JobSpec(
            completion_mode="Indexed",
            completions=spec.nodes,
            parallelism=spec.nodes,
            backoff_limit=0,
            active_deadline_seconds=spec.max_runtime_s,
            suspend=bool(pool.queue and pool.scheduler == "kueue"),
            template=pod_template(spec, pool, namespace, items),
        ),
    )


def volcano_job(spec: AttemptSpec, pool: KubePool, namespace: str, items: list[k8s.V1KeyToPath]) -> dict[str, Any]:
    """A Volcano Job: all `nodes` pods scheduled together or none (minAvailable), aborted if one fails."""
    name = object_name(spec.attempt_id)
    template = k8s.ApiClient().sanitize_for_serialization(pod_template(spec, pool, namespace, items))
    body: dict[str, Any] = {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": {LABEL: spec.attempt_id}},
        "spec": {
            "schedulerName": "volcano",
            "minAvailable": spec.nodes,
            "maxRetry": 0,
            "policies": [{"event": "PodFailed", "action": "AbortJob"}, {"event": "PodEvicted", "action": "AbortJob"}],
            "plugins": {"svc": [], "env": []},
            "tasks": [{"name": "rank", "replicas": spec.nodes, "template": template}],
        },
    }
    if pool.queue:
        body["spec"]["queue"] = pool.queue
    return body


def job_state(status: dict[str, Any] | None, suspended: bool) -> tuple[EngineState, str]:
    """A batch/v1 Job's status (as a dict) as an engine state and its reason."""
    if not status:
        return EngineState.PENDING, "waiting for admission" if suspended else "created"
    conditions = {c["type"]: c for c in status.get("conditions") or [] if c.get("status") == "True"}
    if "Complete" in conditions:
        return EngineState.SUCCEEDED, ""
    if "Failed" in conditions:
        reason = conditions["Failed"].get("reason", "")
        if reason == "DeadlineExceeded":
            return EngineState.TIMEOUT, "max_runtime reached; killed"
        return EngineState.FAILED, conditions["Failed"].get("message") or reason
    if suspended:
        return EngineState.PENDING, "waiting for admission in its Kueue queue"
    if (status.get("ready") or 0) > 0 or ((status.get("active") or 0) > 0 and status.get("startTime")):
        return EngineState.RUNNING, ""
    return EngineState.PENDING, "pods pending"


def volcano_state(status: dict[str, Any] | None) -> tuple[EngineState, str]:
    """A Volcano Job's `status.state` as an engine state and its reason."""
    state = (status or {}).get("state") or {}
    phase, reason = state.get("phase", "Pending"), state.get("message") or state.get("reason") or ""
    if phase == "Completed":
        return EngineState.SUCCEEDED, ""
    if phase in ("Failed", "Aborted", "Terminated"):
        return EngineState.FAILED, reason or f"Volcano job {phase.lower()}"
    if phase == "Running":
        return EngineState.RUNNING, ""
    return EngineState.PENDING, reason or "waiting for Volcano to schedule the whole gang"


def _quantity(cpus: float) -> str:
    return str(int(cpus)) if float(cpus).is_integer() else f"{round(cpus * 1000)}m"

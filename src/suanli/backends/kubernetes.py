"""The Kubernetes engine: each attempt is a ConfigMap, a headless Service and a batch/v1 Indexed Job (Kueue) or a
Volcano Job, created with the official `kubernetes` client (extra `suanli[kubernetes]`).

Objects are named from the attempt id, so creating them again after an agent restart finds them (409) instead
of making a second job. Status is the Job's conditions (DeadlineExceeded → timeout); the exit code and reason
come from the pods' terminated containers; logs are each pod's log (rank 0's while running; every rank's,
prefixed, once it ends); usage is accelerators × the Job's start-to-completion time.

Not verified against a live cluster (none can run on the machines this is developed on): the translation is
tested against the client's models; see docs/operators/kubernetes.md.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from suanli.backends import register
from suanli.backends.attempt_files import attempt_path, read_json
from suanli.backends.kubernetes_objects import (
    LABEL,
    KubePool,
    batch_job,
    config_map,
    headless_service,
    job_state,
    object_name,
    volcano_job,
    volcano_state,
)
from suanli.backends.local_runner import write_json
from suanli.domain.errors import BackendError, FieldError, InvalidInput
from suanli.ports import AttemptSpec, AttemptStatus, EngineState, EngineUsage, Feature, PoolCapacity


class KubernetesBackend:
    name = "kubernetes"
    features = frozenset(
        {Feature.COMMANDS, Feature.GANG, Feature.LOGS, Feature.USAGE, Feature.RUNTIME_LIMIT, Feature.RECONCILE}
    )

    def __init__(self, root: Path, pools: list[KubePool], namespace: str, api: Any = None) -> None:
        self.root = Path(root)
        self.attempts_dir = self.root / "attempts"
        self.attempts_dir.mkdir(parents=True, exist_ok=True)
        self.pools = {p.name: p for p in pools}
        self.namespace = namespace
        self._api = api
        self._lock = threading.RLock()

    # ---------------------------------------------------------------------------- client

    @property
    def api(self) -> Any:
        """The client, configured from in-cluster credentials or the agent's kubeconfig."""
        if self._api is None:
            from kubernetes import client, config

            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            self._api = client.ApiClient()
        return self._api

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                raise KeyError(what) from None
            if exc.status == 409:
                return None  # already there: an earlier try made it
            raise BackendError(f"Kubernetes {what}: {exc.status} {exc.reason}", retryable=exc.status >= 500) from None
        except OSError as exc:
            raise BackendError(f"the Kubernetes API does not answer ({what}): {exc}") from None

    def _record(self, attempt_id: str) -> dict[str, Any] | None:
        return read_json(attempt_path(self.attempts_dir, attempt_id, ".json"))

    # ---------------------------------------------------------------------------- the port

    def submit(self, spec: AttemptSpec) -> None:
        from kubernetes import client

        pool = self.pools.get(spec.pool)
        if pool is None:
            raise BackendError(f"this engine has no pool {spec.pool!r}", retryable=False)
        if spec.per_node > 0 and not pool.resource:
            raise BackendError(f"pool {spec.pool} has no device-plugin resource configured", retryable=False)
        with self._lock:
            if self._record(spec.attempt_id) is None:
                record = {"pool": spec.pool, "nodes": spec.nodes, "per_node": spec.per_node, "volcano": False}
                record["volcano"] = pool.scheduler == "volcano"
                write_json(self.attempts_dir / f"{spec.attempt_id}.json", record)
            core, batch = client.CoreV1Api(self.api), client.BatchV1Api(self.api)
            cm, items = config_map(spec, self.namespace)
            self._call("ConfigMap", core.create_namespaced_config_map, self.namespace, cm)
            if spec.nodes > 1:
                self._call(
                    "Service", core.create_namespaced_service, self.namespace, headless_service(spec, self.namespace)
                )
            if pool.scheduler == "volcano":
                custom = client.CustomObjectsApi(self.api)
                body = volcano_job(spec, pool, self.namespace, items)
                self._call("Volcano Job", custom.create_namespaced_custom_object, "batch.volcano.sh", "v1alpha1",
                           self.namespace, "jobs", body)  # fmt: skip
            else:
                self._call(
                    "Job", batch.create_namespaced_job, self.namespace, batch_job(spec, pool, self.namespace, items)
                )

    def status(self, attempt_id: str) -> AttemptStatus:
        from kubernetes import client

        record = self._record(attempt_id)
        if record is None:
            return AttemptStatus(attempt_id, EngineState.UNKNOWN)
        if record.get("result"):
            r = record["result"]
            return AttemptStatus(
                attempt_id, EngineState(r["state"]), r.get("exit_code"), r.get("reason", ""),
                _t(r.get("started_at")), _t(r.get("ended_at")),
            )  # fmt: skip
        name = object_name(attempt_id)
        try:
            if record.get("volcano"):
                data = client.CustomObjectsApi(self.api).get_namespaced_custom_object(
                    "batch.volcano.sh", "v1alpha1", self.namespace, "jobs", name
                )
                state, reason = volcano_state(data.get("status"))
            else:
                job = client.BatchV1Api(self.api).read_namespaced_job(name, self.namespace)
                data = client.ApiClient().sanitize_for_serialization(job)  # camelCase, as the API wrote it
                state, reason = job_state(data.get("status"), bool(data.get("spec", {}).get("suspend")))
        except Exception as exc:  # noqa: BLE001 - mapped below
            return self._missing(attempt_id, record, exc)
        started = _t((data.get("status") or {}).get("startTime"))
        if started is None and state is EngineState.RUNNING:  # Volcano: the first time this agent saw it run
            started = _t(record.get("seen_running_at")) or datetime.now(UTC)
            if not record.get("seen_running_at"):
                record = {**record, "seen_running_at": started.isoformat()}
                write_json(self.attempts_dir / f"{attempt_id}.json", record)
        started = started or _t(record.get("seen_running_at"))
        if not state.finished:
            return AttemptStatus(attempt_id, state, reason=reason, started_at=started)
        exit_code, pod_reason = self._exit(attempt_id)
        ended = _t((data.get("status") or {}).get("completionTime")) or datetime.now(UTC)
        if state is EngineState.FAILED and pod_reason:
            reason = pod_reason
        result = {
            "state": state.value,
            "exit_code": exit_code if state is EngineState.FAILED else (0 if state is EngineState.SUCCEEDED else None),
            "reason": reason,
            "started_at": started.isoformat() if started else None,
            "ended_at": ended.isoformat(),
        }
        write_json(self.attempts_dir / f"{attempt_id}.json", {**record, "result": result})
        return self.status(attempt_id)

    def _missing(self, attempt_id: str, record: dict[str, Any], exc: Exception) -> AttemptStatus:
        if getattr(exc, "status", None) != 404:
            raise BackendError(f"the Kubernetes API does not answer (Job): {exc}") from None
        cancelled = bool(record.get("cancelled"))
        result = {
            "state": "cancelled" if cancelled else "lost",
            "reason": "cancelled" if cancelled else "the Job was deleted in the cluster",
            "exit_code": None,
            "ended_at": datetime.now(UTC).isoformat(),
        }
        write_json(self.attempts_dir / f"{attempt_id}.json", {**record, "result": result})
        return AttemptStatus(attempt_id, EngineState(result["state"]), None, result["reason"])

    def _pods(self, attempt_id: str) -> list[Any]:
        from kubernetes import client

        pods = self._call("pods", client.CoreV1Api(self.api).list_namespaced_pod, self.namespace,
                          label_selector=f"{LABEL}={attempt_id}")  # fmt: skip
        return sorted(pods.items if pods else [], key=_rank_of)

    def _exit(self, attempt_id: str) -> tuple[int | None, str]:
        """The first failing rank's exit code and a reason naming it."""
        pods = self._pods(attempt_id)
        for pod in pods:
            for cs in (pod.status.container_statuses or []) if pod.status else []:
                term = cs.state.terminated if cs.state else None
                if term is not None and term.exit_code:
                    where = f"node {_rank_of(pod)} " if len(pods) > 1 else ""
                    return term.exit_code, f"{where}exited with code {term.exit_code} ({term.reason or 'Error'})"
        return None, ""

    def cancel(self, attempt_id: str) -> None:
        from kubernetes import client

        record = self._record(attempt_id)
        if record is None or record.get("result"):
            return
        write_json(self.attempts_dir / f"{attempt_id}.json", {**record, "cancelled": True})
        name = object_name(attempt_id)
        body = client.V1DeleteOptions(propagation_policy="Foreground")
        try:
            if record.get("volcano"):
                self._call("delete", client.CustomObjectsApi(self.api).delete_namespaced_custom_object,
                           "batch.volcano.sh", "v1alpha1", self.namespace, "jobs", name)  # fmt: skip
            else:
                self._call("delete", client.BatchV1Api(self.api).delete_namespaced_job, name, self.namespace, body=body)
        except KeyError:
            pass

    def read_log(self, attempt_id: str, offset: int, limit: int) -> bytes:
        from kubernetes import client

        record = self._record(attempt_id)
        if record is None:
            return b""
        pods = self._pods(attempt_id)
        core = client.CoreV1Api(self.api)
        finished = bool(record.get("result"))
        parts = []
        for pod in pods if finished else pods[:1]:
            try:
                text = self._call("log", core.read_namespaced_pod_log, pod.metadata.name, self.namespace) or ""
            except (KeyError, BackendError):
                continue
            if len(pods) > 1 and finished:
                text = "".join(f"[node {_rank_of(pod)}] {line}" for line in text.splitlines(keepends=True))
            parts.append(text)
        return "".join(parts).encode()[offset : offset + limit]

    def usage(self, attempt_id: str) -> EngineUsage | None:
        record = self._record(attempt_id)
        result = (record or {}).get("result") or {}
        if not result.get("started_at") or record is None:
            return None
        started, ended = _t(result["started_at"]), _t(result["ended_at"])
        assert started is not None and ended is not None
        wall = max(0.0, (ended - started).total_seconds())
        count = int(record["per_node"]) * int(record["nodes"])
        return EngineUsage(attempt_id, count, round(wall * count, 3), 0.0, round(wall, 3), started, ended)

    def capacity(self) -> list[PoolCapacity]:
        """Ready nodes matching each pool's selector, and their allocatable accelerators less those requested
        by running pods."""
        from kubernetes import client

        core = client.CoreV1Api(self.api)
        out = []
        for pool in self.pools.values():
            selector = ",".join(f"{k}={v}" for k, v in pool.node_selector.items()) or None
            nodes = self._call("nodes", core.list_node, label_selector=selector).items
            ready = [
                n for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
            ]
            free = 0
            if pool.resource:
                names = {n.metadata.name for n in ready}
                free = sum(int((n.status.allocatable or {}).get(pool.resource, 0)) for n in ready)
                pods = self._call("pods", core.list_pod_for_all_namespaces, field_selector="status.phase=Running").items
                for pod in pods:
                    if pod.spec.node_name in names:
                        for c in pod.spec.containers:
                            free -= int(((c.resources and c.resources.requests) or {}).get(pool.resource, 0))
            out.append(PoolCapacity(pool.name, len(ready), max(0, free)))
        return out

    def known_attempts(self) -> list[str]:
        return sorted(p.stem for p in self.attempts_dir.glob("*.json") if not p.name.startswith("."))

    def forget(self, attempt_id: str) -> None:
        from kubernetes import client

        if not self.status(attempt_id).state.finished:
            raise BackendError(f"attempt {attempt_id} still runs in Kubernetes; cancel it first")
        name = object_name(attempt_id)
        core = client.CoreV1Api(self.api)
        for what, fn in (("ConfigMap", core.delete_namespaced_config_map), ("Service", core.delete_namespaced_service)):
            try:
                self._call(what, fn, name, self.namespace)
            except KeyError:
                pass
        (self.attempts_dir / f"{attempt_id}.json").unlink(missing_ok=True)

    def close(self) -> None:
        pass


def _rank_of(pod: Any) -> int:
    annotations = (pod.metadata.annotations or {}) if pod.metadata else {}
    index = annotations.get("batch.kubernetes.io/job-completion-index") or annotations.get("volcano.sh/task-index")
    return int(index) if index and str(index).isdigit() else 0


def _t(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _make_kubernetes(
    root: str | Path, pools: list[dict[str, Any]], namespace: str = "suanli", **unknown: Any
) -> KubernetesBackend:
    """The engine from an agent's configuration: the `namespace`, and per pool its image, resource, selector
    and queue (see docs/operators/kubernetes.md)."""
    problems = [FieldError(k, "unknown Kubernetes option (known: namespace, pools)") for k in unknown]
    parsed = []
    for p in pools:
        if not p.get("image"):
            problems.append(
                FieldError(f"pools.{p['name']}.image", "each pool needs the container image its jobs run in")
            )
        if int(p.get("accelerators_per_node", 0) or 0) > 0 and not p.get("resource"):
            problems.append(
                FieldError(f"pools.{p['name']}.resource", "an accelerator pool needs its device-plugin resource")
            )
        if p.get("scheduler", "kueue") not in ("kueue", "volcano", "default"):
            problems.append(FieldError(f"pools.{p['name']}.scheduler", "one of kueue, volcano, default"))
        parsed.append(
            KubePool(
                name=str(p["name"]),
                image=str(p.get("image") or ""),
                resource=p.get("resource") or None,
                node_selector=dict(p.get("node_selector") or {}),
                tolerations=tuple(p.get("tolerations") or ()),
                queue=p.get("queue") or None,
                scheduler=str(p.get("scheduler", "kueue")),
            )
        )
    if problems:
        raise InvalidInput(problems)
    return KubernetesBackend(Path(root), parsed, namespace)


register("kubernetes")(_make_kubernetes)

"""Federation: another suanli platform as a centre's engine (a city platform under a provincial one).

The agent of the parent platform's centre submits each attempt to the child platform's REST API as a tenant of
the child (its API token is the agent's credential there), with the attempt id as the `Idempotency-Key`, so a
resubmission after a crash returns the same child job. Each parent pool maps to an accelerator model (and
optionally an allow-list of the child's centres); the child's own scheduler chooses where it runs. The child is
asked not to rerun the job itself (`retry` all zero): reruns are the parent's decision, by the parent job's
retry policy, so nothing runs twice behind the parent's back.

State under `root/attempts/<attempt id>.json`: the child's job id, written once it is known.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from suanli.backends import register
from suanli.backends.attempt_files import attempt_path, read_json
from suanli.backends.local_runner import write_json
from suanli.client import ApiError, SuanliClient
from suanli.domain.errors import BackendError, FieldError, InvalidInput
from suanli.ports import AttemptSpec, AttemptStatus, EngineState, EngineUsage, Feature, PoolCapacity

_PENDING = frozenset({"submitted", "queued", "placed", "starting"})


class FederationBackend:
    name = "federation"
    features = frozenset(
        {Feature.COMMANDS, Feature.GANG, Feature.LOGS, Feature.USAGE, Feature.RUNTIME_LIMIT, Feature.RECONCILE}
    )

    def __init__(self, root: Path, pools: dict[str, dict[str, Any]], client: SuanliClient) -> None:
        """`pools`: parent pool name -> {"model": accelerator model or "" for CPU, "centres": [child centres]}."""
        self.root = Path(root)
        self.attempts_dir = self.root / "attempts"
        self.attempts_dir.mkdir(parents=True, exist_ok=True)
        self.pools = pools
        self.client = client
        self._lock = threading.RLock()

    # ---------------------------------------------------------------------------- calls

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """One call to the child; unreachable or 5xx → retryable, a refusal (4xx) → not retryable."""
        try:
            return fn(*args, **kwargs)
        except httpx.HTTPError as exc:
            raise BackendError(f"the child platform did not answer ({what}): {exc}") from None
        except ApiError as exc:
            retryable = exc.status in (0, 429) or exc.status >= 500  # 0: unreachable
            verb = "did not answer" if exc.status == 0 else "refused"
            raise BackendError(f"the child platform {verb} ({what}): {exc}", retryable=retryable) from None

    def _path(self, attempt_id: str) -> Path:
        return attempt_path(self.attempts_dir, attempt_id, ".json")

    def _record(self, attempt_id: str) -> dict[str, Any] | None:
        return read_json(self._path(attempt_id))

    def _write(self, attempt_id: str, record: dict[str, Any]) -> None:
        write_json(self._path(attempt_id), record)

    # ---------------------------------------------------------------------------- the port

    def submit(self, spec: AttemptSpec) -> None:
        """Submit the attempt to the child as a job (idempotent by attempt id, there and here)."""
        pool = self.pools.get(spec.pool)
        if pool is None:
            raise BackendError(f"this engine has no pool {spec.pool!r}", retryable=False)
        with self._lock:
            if self._record(spec.attempt_id) is not None:
                return
            job = self._call("the job", self.client.submit, child_job(spec, pool), idempotency_key=spec.attempt_id)
            self._write(spec.attempt_id, {"job_id": job["id"], "pool": spec.pool})

    def status(self, attempt_id: str) -> AttemptStatus:
        record = self._record(attempt_id)
        if record is None:
            return AttemptStatus(attempt_id, EngineState.UNKNOWN)
        job = self._call("the job's status", self.client.job, record["job_id"])
        return _status(attempt_id, job)

    def cancel(self, attempt_id: str) -> None:
        record = self._record(attempt_id)
        if record is None:
            return
        job = self._call("the job's status", self.client.job, record["job_id"])
        if job["state"] in _PENDING or job["state"] == "running":
            self._call("the cancel", self.client.cancel, record["job_id"])

    def read_log(self, attempt_id: str, offset: int, limit: int) -> bytes:
        record = self._record(attempt_id)
        if record is None:
            return b""
        page = self._call("the logs", self.client.logs, record["job_id"], offset=offset, limit=limit)
        return str(page["data"]).encode()

    def usage(self, attempt_id: str) -> EngineUsage | None:
        """What the child metered: accelerators × wall time of every child attempt that ran."""
        record = self._record(attempt_id)
        if record is None:
            return None
        job = self._call("the job", self.client.job, record["job_id"])
        ran = [a for a in job.get("attempt_history") or [] if a.get("started_at") and a.get("ended_at")]
        if not ran:
            return None
        wall = accel_s = 0.0
        accelerators = 0
        for a in ran:
            seconds = max(0.0, (_t(a["ended_at"]) - _t(a["started_at"])).total_seconds())
            count = int(a["per_node"]) * len(a["nodes"])
            wall += seconds
            accel_s += seconds * count
            accelerators = max(accelerators, count)
        return EngineUsage(
            attempt_id,
            accelerators,
            round(accel_s, 3),
            0.0,
            round(wall, 3),
            min(_t(a["started_at"]) for a in ran),
            max(_t(a["ended_at"]) for a in ran),
        )

    def capacity(self) -> list[PoolCapacity]:
        """Per parent pool: the child's online pools of its model (and allowed centres), nodes up and free."""
        centres = self._call("its centres", self.client.centres)
        out = []
        for name, pool in self.pools.items():
            allowed = set(pool.get("centres") or ())
            nodes = free = 0
            for c in centres:
                if c["status"] != "online" or (allowed and c["name"] not in allowed):
                    continue
                for p in c["pools"]:
                    if p["enabled"] and p["model"].lower() == str(pool.get("model") or "CPU-X86").lower():
                        nodes += p["nodes_up"] if p["nodes_up"] is not None else p["nodes"]
                        free += max(0, p["accelerators_total"] - p["accelerators_in_use"])
            out.append(PoolCapacity(name, nodes, free))
        return out

    def known_attempts(self) -> list[str]:
        return sorted(p.stem for p in self.attempts_dir.glob("*.json") if not p.name.startswith("."))

    def forget(self, attempt_id: str) -> None:
        if self._record(attempt_id) is not None and not self.status(attempt_id).state.finished:
            raise BackendError(f"attempt {attempt_id} still runs on the child platform; cancel it first")
        self._path(attempt_id).unlink(missing_ok=True)

    def close(self) -> None:
        self.client.close()


def child_job(spec: AttemptSpec, pool: dict[str, Any]) -> dict[str, Any]:
    """The job the child platform is asked to run for one parent attempt."""
    resources: dict[str, Any] = {"cpus": spec.cpus, "memory": spec.memory_gib, "stack": spec.stack.value}
    if spec.per_node > 0:
        resources["accelerators"] = f"{pool.get('model') or spec.model}:{spec.per_node}"
    body: dict[str, Any] = {
        "name": spec.job_name,
        "num_nodes": spec.nodes,
        "resources": resources,
        "files": spec.files,
        "envs": spec.envs,
        "run": spec.run,
        "max_runtime": spec.max_runtime_s,
        "retry": {"max_restarts_on_failure": 0, "max_requeues": 0},
    }
    if spec.setup:
        body["setup"] = spec.setup
    if pool.get("centres"):
        body["centres"] = {"allow": list(pool["centres"])}
    return body


def _status(attempt_id: str, job: dict[str, Any]) -> AttemptStatus:
    state, reason = job["state"], job.get("state_reason", "")
    history = job.get("attempt_history") or []
    last = history[-1] if history else {}
    started = _t(last["started_at"]) if last.get("started_at") else None
    ended = _t(last["ended_at"]) if last.get("ended_at") else None
    devices = {k: list(v) for k, v in (last.get("devices") or {}).items()}
    if state in _PENDING:
        return AttemptStatus(attempt_id, EngineState.PENDING, reason=f"on the child platform: {reason}")
    if state == "running":
        return AttemptStatus(attempt_id, EngineState.RUNNING, started_at=started, devices=devices)
    if state == "succeeded":
        return AttemptStatus(attempt_id, EngineState.SUCCEEDED, 0, "", started, ended, devices)
    if state == "cancelled":
        return AttemptStatus(attempt_id, EngineState.CANCELLED, None, reason, started, ended, devices)
    if state == "rejected":
        return AttemptStatus(attempt_id, EngineState.FAILED, None, f"the child platform rejected it: {reason}")
    engine = EngineState.FAILED
    if reason.startswith("exceeded max_runtime"):
        engine = EngineState.TIMEOUT
    elif last.get("state") in ("lost", "preempted"):
        engine = EngineState(last["state"])
    exit_code = job.get("exit_code") if engine is EngineState.FAILED else None
    return AttemptStatus(attempt_id, engine, exit_code, last.get("reason") or reason, started, ended, devices)


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _make_federation(
    root: str | Path,
    pools: list[dict[str, Any]],
    url: str | None = None,
    token: str | None = None,
    timeout_s: float = 30.0,
    **unknown: Any,
) -> FederationBackend:
    """The engine from an agent's configuration: the child's `url`, a tenant `token` there (or
    $SUANLI_FEDERATION_TOKEN), and per pool the child's `model` and optional `centres`."""
    problems = [FieldError(k, "unknown federation option (known: url, token, timeout_s, pools)") for k in unknown]
    token = token or os.environ.get("SUANLI_FEDERATION_TOKEN")
    if not url:
        problems.append(FieldError("url", "the child platform's URL is required"))
    if not token:
        problems.append(FieldError("token", "a token of the child platform is required (or SUANLI_FEDERATION_TOKEN)"))
    if problems:
        raise InvalidInput(problems)
    mapped = {
        str(p["name"]): {"model": p.get("child_model") or p.get("model") or "", "centres": p.get("centres") or []}
        for p in pools
    }
    return FederationBackend(Path(root), mapped, SuanliClient(str(url), str(token), timeout=timeout_s))


register("federation")(_make_federation)

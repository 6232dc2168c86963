"""The Ray engine: each attempt is one Ray job (Jobs API), submitted with the attempt id as its submission id.

The job's entrypoint is `ray_gang.py`, shipped in its working directory with the job's files: it reserves one
placement-group bundle per node (a gang: all at once), runs the ranks, and writes the output and a few marker
lines to the Ray job's log, which this engine reads back (state, start, devices, exit code). Accelerators are
Ray resources: the pool's `resource` (`GPU`, `NPU`: Ray hands out ids and sets the stack's variable) and,
to pin a model, a custom `model_resource` (e.g. `A100`) declared on the Ray nodes that have it.

Needs the optional extra `suanli[ray]` on the agent's host; the Ray cluster needs only Ray.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from suanli.backends import register
from suanli.backends.attempt_files import attempt_path, read_json, write_files
from suanli.backends.local_runner import write_json
from suanli.domain.accelerators import VISIBLE_DEVICES_ENV
from suanli.domain.errors import BackendError, FieldError, InvalidInput
from suanli.ports import AttemptSpec, AttemptStatus, EngineState, EngineUsage, Feature, PoolCapacity

MARK = "\x1e"
DRIVER = Path(__file__).with_name("ray_gang.py")


@dataclass(frozen=True)
class RayPool:
    """A suanli pool on Ray: `resource` is Ray's accelerator resource (GPU, NPU; none for CPU pools)."""

    name: str
    resource: str | None = None
    model_resource: str | None = None


def parse_log(text: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """The tenant's output (after the driver's `begin` line, markers removed) and the markers by kind."""
    out: list[str] = []
    marks: dict[str, dict[str, Any]] = {}
    begun = False
    pieces = text.split("\n")  # not splitlines(): it also splits at 0x1E, the markers' own first character
    lines = [p + "\n" for p in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    for line in lines:
        if line.startswith(MARK):
            kind, _, data = line[1:].rstrip("\n").partition(" ")
            try:
                marks[kind] = json.loads(data) if data else {}
            except ValueError:
                continue
            begun = begun or kind == "begin"
            continue
        if begun:
            out.append(line)
    return "".join(out), marks


class RayBackend:
    name = "ray"
    features = frozenset(
        {Feature.COMMANDS, Feature.GANG, Feature.LOGS, Feature.USAGE, Feature.RUNTIME_LIMIT, Feature.RECONCILE}
    )

    def __init__(
        self,
        root: Path,
        pools: list[RayPool],
        address: str,
        *,
        python: str = "python",
        strategy: str = "STRICT_SPREAD",
        client: Any = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.attempts_dir = self.root / "attempts"
        self.attempts_dir.mkdir(parents=True, exist_ok=True)
        self.pools = {p.name: p for p in pools}
        self.address = address
        self.python = python
        self.strategy = strategy
        self._client = client
        self._lock = threading.RLock()

    # ---------------------------------------------------------------------------- Ray calls

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from ray.job_submission import JobSubmissionClient
            except ImportError:
                hint = "Ray is not installed on the agent's host: pip install 'suanli[ray]'"
                raise BackendError(hint, retryable=False) from None
            try:
                self._client = JobSubmissionClient(self.address)
            except Exception as exc:  # noqa: BLE001 - Ray raises plain errors for an unreachable head
                raise BackendError(f"the Ray head at {self.address} does not answer: {exc}") from None
        return self._client

    def _call(self, what: str, fn: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, fn)(*args, **kwargs)
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - Ray's SDK raises RuntimeError/ConnectionError alike
            text = str(exc)
            if "does not exist" in text or "not found" in text.lower():
                raise KeyError(args[0] if args else what) from None
            raise BackendError(f"Ray {what}: {text.splitlines()[-1] if text else type(exc).__name__}") from None

    # ---------------------------------------------------------------------------- files

    def _dir(self, attempt_id: str) -> Path:
        return attempt_path(self.attempts_dir, attempt_id)

    def _read(self, attempt_id: str, name: str) -> dict[str, Any] | None:
        return read_json(self._dir(attempt_id) / name)

    # ---------------------------------------------------------------------------- the port

    def submit(self, spec: AttemptSpec) -> None:
        pool = self.pools.get(spec.pool)
        if pool is None:
            raise BackendError(f"this engine has no pool {spec.pool!r}", retryable=False)
        if spec.per_node > 0 and not pool.resource:
            raise BackendError(f"pool {spec.pool} has no Ray resource configured for its accelerators", False)
        final = self._dir(spec.attempt_id)
        with self._lock:
            if not (final / "spec.json").exists():
                self._stage(spec, pool, final)
            self._ensure_submitted(spec.attempt_id)

    def _stage(self, spec: AttemptSpec, pool: RayPool, final: Path) -> None:
        staging = self.attempts_dir / f".{spec.attempt_id}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        work = staging / "work"
        work.mkdir(parents=True)
        write_files(work, spec.files)
        shutil.copy(DRIVER, work / "_suanli_gang.py")
        envs = dict(spec.envs)
        envs.update(
            {
                "SUANLI_JOB_ID": spec.job_id,
                "SUANLI_JOB_NAME": spec.job_name,
                "SUANLI_ATTEMPT_ID": spec.attempt_id,
                "SUANLI_ACCELERATOR_MODEL": spec.model,
                "PYTHONUNBUFFERED": "1",
            }
        )
        job = {
            "nodes": spec.nodes,
            "per_node": spec.per_node,
            "cpus": max(0.01, spec.cpus),
            "resource": pool.resource,
            "model_resource": pool.model_resource,
            "strategy": self.strategy if spec.nodes > 1 else "PACK",
            "visible_env": list(VISIBLE_DEVICES_ENV[spec.stack]),
            "envs": envs,
            "setup": spec.setup,
            "run": spec.run,
            "max_runtime_s": spec.max_runtime_s,
            # the agent's cancel marker: a driver on the agent's host checks it before any rank starts (Ray may
            # lose a stop sent while the job was still pending: ray-project/ray#58353)
            "cancel_file": str(self._dir(spec.attempt_id) / "cancel"),
        }
        (work / "_suanli_job.json").write_text(json.dumps(job))
        data = asdict(spec)
        data["stack"] = spec.stack.value
        (staging / "spec.json").write_text(json.dumps(data))
        shutil.move(str(staging), str(final))

    def _ensure_submitted(self, attempt_id: str) -> None:
        d = self._dir(attempt_id)
        if (d / "submitted").exists() or (d / "result.json").exists():
            return
        if (d / "cancel").exists():
            self._write_result(attempt_id, {"state": "cancelled", "reason": "cancelled before start"})
            return
        try:
            self._call("job status", "get_job_info", attempt_id)
        except KeyError:
            try:
                self._call(
                    "submission",
                    "submit_job",
                    entrypoint=f"{self.python} _suanli_gang.py",
                    submission_id=attempt_id,
                    runtime_env={"working_dir": str(d / "work")},
                    entrypoint_num_cpus=0,
                    metadata={"suanli": "1"},
                )
            except BackendError as exc:
                if "already exists" not in exc.detail:
                    raise
        (d / "submitted").touch()

    def status(self, attempt_id: str) -> AttemptStatus:
        with self._lock:
            d = self._dir(attempt_id)
            if not (d / "spec.json").exists():
                return AttemptStatus(attempt_id, EngineState.UNKNOWN)
            result = self._read(attempt_id, "result.json")
            if result is None:
                self._ensure_submitted(attempt_id)
                result = self._read(attempt_id, "result.json")
            if result is None:
                live = self._live(attempt_id)
                if live is not None:
                    return live
                result = self._read(attempt_id, "result.json") or {}
            return AttemptStatus(
                attempt_id,
                EngineState(result["state"]),
                result.get("exit_code"),
                result.get("reason", ""),
                _time(result.get("started_at")),
                _time(result.get("ended_at")),
                result.get("devices") or {},
            )

    def _live(self, attempt_id: str) -> AttemptStatus | None:
        try:
            info = self._call("job status", "get_job_info", attempt_id)
        except KeyError:
            self._write_result(attempt_id, {"state": "lost", "reason": "the Ray cluster has no record of this job"})
            return None
        text, marks = parse_log(self._call("logs", "get_job_logs", attempt_id))
        status = str(getattr(info.status, "value", info.status))
        for _ in range(10):  # Ray may report the job over before its log holds the driver's last lines
            if "result" in marks or status not in ("SUCCEEDED", "FAILED", "STOPPED"):
                break
            time.sleep(0.3)
            text, marks = parse_log(self._call("logs", "get_job_logs", attempt_id))
        started = marks.get("started")
        if "result" in marks or status in ("SUCCEEDED", "FAILED", "STOPPED"):
            outcome = marks.get("result") or {
                "state": "cancelled" if status == "STOPPED" else "failed",
                "exit_code": None,
                "reason": "stopped in Ray" if status == "STOPPED" else f"the Ray job failed: {info.message}",
            }
            self._write_result(
                attempt_id,
                {
                    "state": outcome["state"],
                    "exit_code": outcome.get("exit_code"),
                    "reason": outcome.get("reason", ""),
                    "started_at": started["at"] if started else None,
                    "ended_at": outcome.get("at") or datetime.now(UTC).isoformat(),
                    "devices": (started or {}).get("devices", {}),
                },
            )
            (self._dir(attempt_id) / "output.log").write_text(text, encoding="utf-8")
            return None
        if (self._dir(attempt_id) / "cancel").exists():
            self._call("stop", "stop_job", attempt_id)  # again: a stop sent while Ray still had it pending is lost
        if started:
            return AttemptStatus(
                attempt_id, EngineState.RUNNING, started_at=_time(started["at"]), devices=started.get("devices", {})
            )
        reason = "waiting for resources in Ray" if status == "RUNNING" else "waiting in Ray"
        return AttemptStatus(attempt_id, EngineState.PENDING, reason=reason)

    def _write_result(self, attempt_id: str, result: dict[str, Any]) -> None:
        result.setdefault("exit_code", None)
        result.setdefault("ended_at", datetime.now(UTC).isoformat())
        write_json(self._dir(attempt_id) / "result.json", result)

    def cancel(self, attempt_id: str) -> None:
        with self._lock:
            d = self._dir(attempt_id)
            if not (d / "spec.json").exists() or (d / "result.json").exists():
                return
            (d / "cancel").touch()
            if not (d / "submitted").exists():
                self._write_result(attempt_id, {"state": "cancelled", "reason": "cancelled before start"})
                return
            try:
                self._call("stop", "stop_job", attempt_id)
            except KeyError:
                pass

    def read_log(self, attempt_id: str, offset: int, limit: int) -> bytes:
        saved = self._dir(attempt_id) / "output.log"
        if saved.exists():
            data = saved.read_bytes()
        elif (self._dir(attempt_id) / "submitted").exists():
            try:
                data = parse_log(self._call("logs", "get_job_logs", attempt_id))[0].encode()
            except KeyError:
                return b""
        else:
            return b""
        return data[offset : offset + limit]

    def usage(self, attempt_id: str) -> EngineUsage | None:
        result, spec = self._read(attempt_id, "result.json"), self._read(attempt_id, "spec.json")
        if result is None or spec is None or not result.get("started_at"):
            return None
        started, ended = _time(result["started_at"]), _time(result["ended_at"])
        assert started is not None and ended is not None
        wall = max(0.0, (ended - started).total_seconds())
        accelerators = int(spec["per_node"]) * int(spec["nodes"])
        return EngineUsage(attempt_id, accelerators, round(wall * accelerators, 3), 0.0, round(wall, 3), started, ended)

    def capacity(self) -> list[PoolCapacity]:
        """Per pool: alive Ray nodes that have its resource, and how much of it is free in the cluster (the
        dashboard's node summary and cluster status, as `ray status` shows them)."""
        import httpx

        try:
            nodes = httpx.get(f"{self.address}/nodes?view=summary", timeout=10).json()["data"]["summary"]
            status = httpx.get(f"{self.address}/api/cluster_status", timeout=10).json()["data"]["clusterStatus"]
            usage = status["loadMetricsReport"]["usage"]
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"the Ray head at {self.address} does not answer: {exc}") from None
        out = []
        for pool in self.pools.values():
            key = pool.model_resource or pool.resource or "CPU"
            up = sum(
                1
                for n in nodes
                if n.get("raylet", {}).get("state") == "ALIVE" and key in n["raylet"].get("resourcesTotal", {})
            )
            used, total = usage.get(key, [0.0, 0.0])
            free = int(total - used) if pool.resource else 0
            out.append(PoolCapacity(pool.name, up, free))
        return out

    def known_attempts(self) -> list[str]:
        return sorted(p.name for p in self.attempts_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def forget(self, attempt_id: str) -> None:
        with self._lock:
            d = self._dir(attempt_id)
            if (d / "spec.json").exists() and not self.status(attempt_id).state.finished:
                raise BackendError(f"attempt {attempt_id} still runs in Ray; cancel it first")
            shutil.rmtree(d, ignore_errors=True)

    def close(self) -> None:
        pass


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _make_ray(
    root: str | Path,
    pools: list[dict[str, Any]] | list[RayPool],
    address: str | None = None,
    python: str = "python",
    strategy: str = "STRICT_SPREAD",
    **unknown: Any,
) -> RayBackend:
    """The engine from an agent's configuration: the Ray dashboard `address` and per pool its resources."""
    problems = [FieldError(k, "unknown Ray option (known: address, python, strategy, pools)") for k in unknown]
    if not address:
        problems.append(FieldError("address", "the Ray dashboard address is required, e.g. http://ray-head:8265"))
    parsed = []
    for p in pools:
        if isinstance(p, RayPool):
            parsed.append(p)
            continue
        if int(p.get("accelerators_per_node", 0) or 0) > 0 and not p.get("resource"):
            problems.append(FieldError(f"pools.{p['name']}.resource", "an accelerator pool needs its Ray resource"))
        parsed.append(RayPool(str(p["name"]), p.get("resource") or None, p.get("model_resource") or None))
    if problems:
        raise InvalidInput(problems)
    return RayBackend(Path(root), parsed, str(address), python=python, strategy=strategy)


register("ray")(_make_ray)

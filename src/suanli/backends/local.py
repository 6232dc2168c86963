"""The local engine: runs each attempt as real OS processes on this machine, one runner per attempt.

State lives on disk under `root/attempts/<attempt id>/`, so a restarted agent finds every attempt again:

    spec.json     what to run (written once, atomically: submitting twice is a no-op)
    work/         the job's files; the working directory of its processes
    alloc.json    the accelerator ids and environment of each node rank (written at launch)
    lock          flock held by the runner for its whole life (lock free + no result = it died)
    started.json  written by the runner before any job command runs
    output.log    merged stdout/stderr of every rank
    result.json   the outcome, written atomically by the runner at the end

Each pool is a set of virtual nodes with numbered accelerators; the engine hands out accelerator ids on the
nodes the scheduler chose (or any free ones) and tells each stack which ids to use.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from suanli.backends import register
from suanli.backends.attempt_files import attempt_path, read_at, read_json, write_files
from suanli.backends.local_runner import write_json
from suanli.domain.accelerators import VISIBLE_DEVICES_ENV, Stack
from suanli.domain.errors import BackendError
from suanli.ports import AttemptSpec, AttemptStatus, EngineState, EngineUsage, Feature, PoolCapacity

_PASSED_THROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL")


@dataclass(frozen=True)
class LocalPool:
    """A pool of `nodes` virtual nodes, each with `accelerators_per_node` numbered accelerators."""

    name: str
    nodes: int
    accelerators_per_node: int
    stack: Stack = Stack.CPU


class LocalBackend:
    name = "local"
    features = frozenset(
        {Feature.COMMANDS, Feature.GANG, Feature.LOGS, Feature.USAGE, Feature.RUNTIME_LIMIT, Feature.RECONCILE}
    )

    def __init__(self, root: Path, pools: list[LocalPool]) -> None:
        self.root = Path(root)
        self.attempts_dir = self.root / "attempts"
        self.attempts_dir.mkdir(parents=True, exist_ok=True)
        self.pools = {p.name: p for p in pools}
        self._lock = threading.RLock()
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._alloc: dict[str, dict[int, list[int]]] = {}  # attempt -> node index -> accelerator ids
        for attempt_id in self.known_attempts():
            alloc = self._read(attempt_id, "alloc.json")
            if alloc is not None and not self._path(attempt_id, "result.json").exists():
                self._alloc[attempt_id] = {int(k): v for k, v in alloc["devices"].items()}

    # ---------------------------------------------------------------------------- paths and files

    def _dir(self, attempt_id: str) -> Path:
        return attempt_path(self.attempts_dir, attempt_id)

    def _path(self, attempt_id: str, name: str) -> Path:
        return self._dir(attempt_id) / name

    def _read(self, attempt_id: str, name: str) -> dict | None:  # type: ignore[type-arg]
        return read_json(self._path(attempt_id, name))

    # ---------------------------------------------------------------------------- the port

    def capacity(self) -> list[PoolCapacity]:
        with self._lock:
            used: dict[str, int] = {}
            for attempt_id, nodes in self._alloc.items():
                spec = self._read(attempt_id, "spec.json") or {}
                used[spec.get("pool", "")] = used.get(spec.get("pool", ""), 0) + sum(len(d) for d in nodes.values())
            return [
                PoolCapacity(p.name, p.nodes, p.nodes * p.accelerators_per_node - used.get(p.name, 0))
                for p in self.pools.values()
            ]

    def submit(self, spec: AttemptSpec) -> None:
        """Accept an attempt (idempotent by id) and start it as soon as its accelerators are free."""
        if spec.pool not in self.pools:
            raise BackendError(f"this engine has no pool {spec.pool!r}", retryable=False)
        final = self._dir(spec.attempt_id)
        with self._lock:
            if not (final / "spec.json").exists():
                staging = self.attempts_dir / f".{spec.attempt_id}.staging"
                shutil.rmtree(staging, ignore_errors=True)
                (staging / "work").mkdir(parents=True)
                write_files(staging / "work", spec.files)
                data = asdict(spec)
                data["stack"] = spec.stack.value
                data["submitted_at"] = datetime.now(UTC).isoformat()
                (staging / "spec.json").write_text(json.dumps(data))
                os.replace(staging, final)
            self._start_pending()

    def status(self, attempt_id: str) -> AttemptStatus:
        with self._lock:
            self._start_pending()
            return self._status(attempt_id)

    def _status(self, attempt_id: str) -> AttemptStatus:
        if not self._path(attempt_id, "spec.json").exists():
            return AttemptStatus(attempt_id, EngineState.UNKNOWN)
        devices = {str(r): d for r, d in enumerate((self._read(attempt_id, "alloc.json") or {}).get("ranks", []))}
        result = self._read(attempt_id, "result.json")
        if result is not None:
            self._release(attempt_id)
            return AttemptStatus(
                attempt_id,
                EngineState(result["state"]),
                result.get("exit_code"),
                result.get("reason", ""),
                _time(result.get("started_at")),
                _time(result.get("ended_at")),
                devices,
            )
        started = self._read(attempt_id, "started.json")
        if self._runner_alive(attempt_id):
            return AttemptStatus(
                attempt_id,
                EngineState.RUNNING if started else EngineState.PENDING,
                started_at=_time((started or {}).get("started_at")),
                devices=devices,
            )
        if started is not None:  # the runner died without writing a result: its processes are orphans
            self._kill_orphans(attempt_id)
            self._release(attempt_id)
            return AttemptStatus(
                attempt_id,
                EngineState.LOST,
                reason="the runner process died",
                started_at=_time(started.get("started_at")),
                devices=devices,
            )
        return AttemptStatus(attempt_id, EngineState.PENDING)

    def cancel(self, attempt_id: str) -> None:
        """Ask the runner to stop (it kills every rank's process group); idempotent."""
        with self._lock:
            d = self._dir(attempt_id)
            if not (d / "spec.json").exists() or (d / "result.json").exists():
                return
            (d / "cancel").touch()
            started = self._read(attempt_id, "started.json")
            if started is not None and self._runner_alive(attempt_id):
                try:
                    os.kill(int(started["pid"]), signal.SIGTERM)
                except ProcessLookupError:
                    pass
                return
            fd = self._try_lock(attempt_id)
            if fd is None:  # the runner is starting right now; it sees the cancel marker first thing
                return
            try:
                if started is not None:
                    self._kill_orphans(attempt_id)
                now = datetime.now(UTC).isoformat()
                write_json(
                    d / "result.json",
                    {
                        "state": "cancelled",
                        "exit_code": None,
                        "reason": "cancelled before start" if started is None else "cancelled",
                        "started_at": (started or {}).get("started_at", now),
                        "ended_at": now,
                        "cpu_seconds": 0.0,
                    },
                )
            finally:
                os.close(fd)
            self._release(attempt_id)

    def read_log(self, attempt_id: str, offset: int, limit: int) -> bytes:
        return read_at(self._path(attempt_id, "output.log"), offset, limit)

    def usage(self, attempt_id: str) -> EngineUsage | None:
        result = self._read(attempt_id, "result.json")
        spec = self._read(attempt_id, "spec.json")
        if result is None or spec is None or self._read(attempt_id, "started.json") is None:
            return None
        started, ended = _time(result["started_at"]), _time(result["ended_at"])
        assert started is not None and ended is not None
        wall = max(0.0, (ended - started).total_seconds())
        accelerators = int(spec["per_node"]) * int(spec["nodes"])
        return EngineUsage(
            attempt_id,
            accelerators,
            round(wall * accelerators, 3),
            float(result["cpu_seconds"]),
            round(wall, 3),
            started,
            ended,
        )

    def known_attempts(self) -> list[str]:
        return sorted(p.name for p in self.attempts_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def forget(self, attempt_id: str) -> None:
        """Delete a finished attempt's state (its runner may still be exiting: wait a moment for it)."""
        with self._lock:
            if not self._path(attempt_id, "result.json").exists() and self._runner_alive(attempt_id):
                raise BackendError(f"attempt {attempt_id} is still running; cancel it first")
            deadline = time.monotonic() + 10
            while self._runner_alive(attempt_id) and time.monotonic() < deadline:
                time.sleep(0.02)
            self._release(attempt_id)
            self._children.pop(attempt_id, None)
            shutil.rmtree(self._dir(attempt_id), ignore_errors=True)

    def close(self) -> None:
        for proc in list(self._children.values()):
            proc.poll()

    # ---------------------------------------------------------------------------- starting

    def _start_pending(self) -> None:
        for proc_id, proc in list(self._children.items()):
            if proc.poll() is not None:
                del self._children[proc_id]  # reaped
        pending = []
        for attempt_id in self.known_attempts():
            d = self._dir(attempt_id)
            if (d / "result.json").exists() or (d / "started.json").exists() or attempt_id in self._children:
                continue
            pending.append(((self._read(attempt_id, "spec.json") or {}).get("submitted_at", ""), attempt_id))
        for _, attempt_id in sorted(pending):
            self._launch(attempt_id)

    def _launch(self, attempt_id: str) -> None:
        fd = self._try_lock(attempt_id)
        if fd is None:
            return  # a runner already holds it
        try:
            spec = self._read(attempt_id, "spec.json")
            assert spec is not None
            alloc = self._read(attempt_id, "alloc.json") or self._allocate(attempt_id, spec)
            if alloc is None:
                return  # waits for accelerators
            self._alloc[attempt_id] = {int(k): v for k, v in alloc["devices"].items()}
            log = (self._dir(attempt_id) / "runner.log").open("ab")
            proc = subprocess.Popen(
                [sys.executable, "-m", "suanli.backends.local_runner", str(self._dir(attempt_id))],
                pass_fds=(fd,),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=_base_env(),
            )
            log.close()
            self._children[attempt_id] = proc
        finally:
            os.close(fd)  # the runner keeps its own copy of the locked descriptor

    def _allocate(self, attempt_id: str, spec: dict) -> dict | None:  # type: ignore[type-arg]
        pool = self.pools[spec["pool"]]
        per_node, nodes = int(spec["per_node"]), int(spec["nodes"])
        busy: dict[int, set[int]] = {}
        for other_id, alloc in self._alloc.items():
            if other_id != attempt_id and (self._read(other_id, "spec.json") or {}).get("pool") == pool.name:
                for node, ids in alloc.items():
                    busy.setdefault(node, set()).update(ids)
        free = {
            n: [i for i in range(pool.accelerators_per_node) if i not in busy.get(n, set())] for n in range(pool.nodes)
        }
        wanted = [n for n in spec["node_indices"] if 0 <= n < pool.nodes and len(free[n]) >= per_node]
        if len(wanted) < nodes:  # the scheduler's choice is taken: any nodes with room will do
            wanted = [n for n in range(pool.nodes) if len(free[n]) >= per_node]
        if len(wanted) < nodes:
            return None
        chosen = wanted[:nodes]
        devices = {n: free[n][:per_node] for n in chosen}
        port = _free_port()
        envs = [self._rank_env(spec, rank, node, devices[node], nodes, port) for rank, node in enumerate(chosen)]
        alloc = {
            "devices": {str(n): d for n, d in devices.items()},
            "ranks": [devices[n] for n in chosen],
            "envs": envs,
        }
        write_json(self._path(attempt_id, "alloc.json"), alloc)
        return alloc

    def _rank_env(
        self,
        spec: dict,
        rank: int,
        node: int,
        ids: list[int],
        nodes: int,  # type: ignore[type-arg]
        port: int,
    ) -> dict[str, str]:
        env = _base_env()
        env.update(spec["envs"])
        joined = ",".join(str(i) for i in ids)
        env.update(
            {
                "SUANLI_JOB_ID": spec["job_id"],
                "SUANLI_JOB_NAME": spec["job_name"],
                "SUANLI_ATTEMPT_ID": spec["attempt_id"],
                "SUANLI_NODE_RANK": str(rank),
                "SUANLI_NUM_NODES": str(nodes),
                "SUANLI_NODE_NAME": f"{spec['pool']}-{node}",
                "SUANLI_NODE_IPS": "\n".join(["127.0.0.1"] * nodes),
                "SUANLI_ACCELERATOR_MODEL": spec["model"],
                "SUANLI_ACCELERATORS_PER_NODE": str(len(ids)),
                "SUANLI_ACCELERATOR_IDS": joined,
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
                "PYTHONUNBUFFERED": "1",
            }
        )
        for name in VISIBLE_DEVICES_ENV[Stack(spec["stack"])]:
            env[name] = joined
        return env

    # ---------------------------------------------------------------------------- liveness

    def _try_lock(self, attempt_id: str) -> int | None:
        fd = os.open(self._path(attempt_id, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _runner_alive(self, attempt_id: str) -> bool:
        if not self._path(attempt_id, "lock").exists():
            return False
        fd = self._try_lock(attempt_id)
        if fd is None:
            return True
        os.close(fd)
        return False

    def _kill_orphans(self, attempt_id: str) -> None:
        """Kill what a dead runner left: its ranks' process groups, and any process carrying the attempt's
        id in its environment (this also finds processes started before the runner recorded their group)."""
        groups = self._read(attempt_id, "groups.json") or {}
        for pgid in groups.get("pgids", []):
            try:
                os.killpg(int(pgid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in _processes_with_env(f"SUANLI_ATTEMPT_ID={attempt_id}"):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _release(self, attempt_id: str) -> None:
        self._alloc.pop(attempt_id, None)


def _base_env() -> dict[str, str]:
    """A clean environment for jobs: nothing of the agent's (no tokens), and this Python first on PATH."""
    env = {k: v for k, v in os.environ.items() if k in _PASSED_THROUGH_ENV}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


def _processes_with_env(marker: str) -> list[int]:
    """Pids whose environment holds `marker` exactly (Linux /proc; empty elsewhere)."""
    wanted = marker.encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _make_local(root: str | Path, pools: list[dict[str, object]] | list[LocalPool], **_: object) -> LocalBackend:
    parsed = [
        p
        if isinstance(p, LocalPool)
        else LocalPool(
            str(p["name"]),
            int(p["nodes"]),  # type: ignore[arg-type]
            int(p.get("accelerators_per_node", 0)),  # type: ignore[arg-type]
            Stack(str(p.get("stack", "cpu"))),
        )
        for p in pools
    ]
    return LocalBackend(Path(root), parsed)


register("local")(_make_local)

"""The Slurm engine: each attempt is one Slurm batch job (a gang is one allocation of N nodes, one task per node).

The agent talks to Slurm as a centre exposes it to users: `sbatch`, `squeue`, `scancel`, `sacct` and `scontrol`.
State lives under `root/attempts/<attempt id>/`, which must be visible at the same path on the compute nodes
(a shared file system, as Slurm sites have): the job's files, its scripts, Slurm's output file and the small
markers the job leaves. The Slurm job is named `suanli-<attempt id>`, so an agent restarted at any moment finds
its jobs again by name and never submits one twice.

Usage comes from Slurm's accounting (`sacct`: elapsed time, allocated GRES, CPU time), so billing charges what
Slurm measured; an attempt is reported finished only once accounting holds its final record. A cluster without
accounting (`accounting=False`) falls back to `scontrol` and the allocation's wall time.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from suanli.backends import register
from suanli.backends.attempt_files import attempt_path, read_at, read_json, write_files
from suanli.backends.local import _base_env
from suanli.backends.local_runner import write_json
from suanli.backends.slurm_cli import LIVE_STATES, AcctRow, QueueRow, SlurmCli, parse_time
from suanli.backends.slurm_rest import SlurmRest
from suanli.backends.slurm_script import JOB_NAME_PREFIX, SlurmPool, batch_script, job_name, rank_script, sbatch_options
from suanli.domain.errors import BackendError, FieldError, InvalidInput
from suanli.ports import AttemptSpec, AttemptStatus, EngineState, EngineUsage, Feature, PoolCapacity

_FINAL = {
    "COMPLETED": EngineState.SUCCEEDED,
    "FAILED": EngineState.FAILED,
    "CANCELLED": EngineState.CANCELLED,
    "TIMEOUT": EngineState.TIMEOUT,
    "DEADLINE": EngineState.TIMEOUT,
    "PREEMPTED": EngineState.PREEMPTED,
    "NODE_FAIL": EngineState.LOST,
    "BOOT_FAIL": EngineState.LOST,
    "OUT_OF_MEMORY": EngineState.FAILED,
    "REVOKED": EngineState.CANCELLED,
}
_PENDING = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"})


class SlurmBackend:
    name = "slurm"
    features = frozenset(
        {Feature.COMMANDS, Feature.GANG, Feature.LOGS, Feature.USAGE, Feature.RUNTIME_LIMIT, Feature.RECONCILE}
    )

    def __init__(
        self,
        root: Path,
        pools: list[SlurmPool],
        cli: SlurmCli | SlurmRest | None = None,
        *,
        accounting: bool = True,
        queue_cache_s: float = 0.5,
    ) -> None:
        self.root = Path(root).resolve()
        self.attempts_dir = self.root / "attempts"
        self.attempts_dir.mkdir(parents=True, exist_ok=True)
        self.pools = {p.name: p for p in pools}
        self.cli = cli or SlurmCli()
        self.accounting = accounting
        self.queue_cache_s = queue_cache_s
        self._lock = threading.RLock()
        self._queue_rows: dict[str, QueueRow] = {}
        self._queue_at = -1e9

    # ---------------------------------------------------------------------------- files

    def _dir(self, attempt_id: str) -> Path:
        return attempt_path(self.attempts_dir, attempt_id)

    def _read(self, attempt_id: str, name: str) -> dict[str, Any] | None:
        return read_json(self._dir(attempt_id) / name)

    # ---------------------------------------------------------------------------- the port

    def submit(self, spec: AttemptSpec) -> None:
        """Write the attempt's files (once) and make sure Slurm has exactly one job for it."""
        pool = self.pools.get(spec.pool)
        if pool is None:
            raise BackendError(f"this engine has no pool {spec.pool!r}", retryable=False)
        if spec.per_node > 0 and not pool.gres:
            raise BackendError(f"pool {spec.pool} has no GRES configured for its accelerators", retryable=False)
        final = self._dir(spec.attempt_id)
        with self._lock:
            if not (final / "spec.json").exists():
                self._stage(spec, pool, final)
                fresh = True
            else:
                fresh = False
            try:
                self._ensure_job(spec.attempt_id, fresh=fresh)
            except BackendError as exc:
                if not exc.retryable:
                    shutil.rmtree(final, ignore_errors=True)
                raise

    def _stage(self, spec: AttemptSpec, pool: SlurmPool, final: Path) -> None:
        staging = self.attempts_dir / f".{spec.attempt_id}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "work").mkdir(parents=True)
        write_files(staging / "work", spec.files)
        att = str(final)
        (staging / "job.sh").write_text(batch_script(spec, att, _base_env()))
        (staging / "rank.sh").write_text(rank_script(spec, att))
        (staging / "run.sh").write_text(spec.run + "\n")
        if spec.setup:
            (staging / "setup.sh").write_text(spec.setup + "\n")
        data = asdict(spec)
        data["stack"] = spec.stack.value
        data["submitted_at"] = datetime.now(UTC).isoformat()
        data["sbatch"] = sbatch_options(spec, pool, att)
        (staging / "spec.json").write_text(json.dumps(data))
        os.replace(staging, final)

    def _ensure_job(self, attempt_id: str, *, fresh: bool = False) -> str | None:
        """The Slurm job id of an attempt, submitting it if Slurm has none (never twice: found by name first)."""
        job = self._read(attempt_id, "job.json")
        if job is not None:
            return str(job["job_id"])
        d = self._dir(attempt_id)
        if (d / "cancel").exists():
            self._write_result(attempt_id, {"state": "cancelled", "reason": "cancelled before start"})
            return None
        job_id = None if fresh else self._find(attempt_id)
        if job_id is None:
            spec = self._read(attempt_id, "spec.json")
            assert spec is not None
            job_id = self.cli.sbatch(str(d / "job.sh"), spec["sbatch"])
            self._queue_at = -1e9
        write_json(d / "job.json", {"job_id": job_id})
        return job_id

    def _find(self, attempt_id: str) -> str | None:
        name = job_name(attempt_id)
        found = [row.job_id for row in self._queue(force=True).values() if row.name == name]
        if found:
            return max(found, key=int)
        return self.cli.find_by_name(job_name(attempt_id)) if self.accounting else None

    def status(self, attempt_id: str) -> AttemptStatus:
        with self._lock:
            d = self._dir(attempt_id)
            if not (d / "spec.json").exists():
                return AttemptStatus(attempt_id, EngineState.UNKNOWN)
            result = self._read(attempt_id, "result.json")
            if result is None:
                try:
                    job_id = self._ensure_job(attempt_id)
                except BackendError as exc:
                    if exc.retryable:
                        raise
                    self._write_result(attempt_id, {"state": "failed", "reason": f"Slurm refused the job: {exc}"})
                    job_id = None
                result = self._read(attempt_id, "result.json")
                if result is None and job_id is not None:
                    live = self._live_status(attempt_id, job_id)
                    if live is not None:
                        return live
                    result = self._read(attempt_id, "result.json")
            if result is None:
                return AttemptStatus(attempt_id, EngineState.RUNNING, devices=self._devices(attempt_id))
            return AttemptStatus(
                attempt_id,
                EngineState(result["state"]),
                result.get("exit_code"),
                result.get("reason", ""),
                _time(result.get("started_at")),
                _time(result.get("ended_at")),
                self._devices(attempt_id),
            )

    def _live_status(self, attempt_id: str, job_id: str) -> AttemptStatus | None:
        """The status while Slurm still runs the job; None once it has ended (and `result.json` is written)."""
        row = self._queue().get(job_id)
        if row is not None and row.state in LIVE_STATES:
            if row.state in _PENDING:
                reason = "" if row.reason in ("None", "") else f"waiting in Slurm: {row.reason}"
                return AttemptStatus(attempt_id, EngineState.PENDING, reason=reason)
            started = self._started(attempt_id, job_id)
            return AttemptStatus(attempt_id, EngineState.RUNNING, started_at=started, devices=self._devices(attempt_id))
        if self.accounting:
            acct = self.cli.accounting([job_id]).get(job_id)
            if acct is None or acct.state in LIVE_STATES or (acct.start is not None and acct.end is None):
                if row is None and acct is None:
                    self._write_result(attempt_id, {"state": "lost", "reason": f"Slurm has no record of job {job_id}"})
                    return None
                return AttemptStatus(attempt_id, EngineState.RUNNING, devices=self._devices(attempt_id))
            self._finish(attempt_id, acct)
            return None
        return self._finish_without_accounting(attempt_id, job_id, row)

    def _started(self, attempt_id: str, job_id: str) -> datetime | None:
        started = self._read(attempt_id, "started.json")
        if started is None:
            fields = self.cli.job_fields(job_id)
            at = parse_time(fields.get("StartTime", ""))
            if at is None:
                return None
            started = {"started_at": at.astimezone(UTC).isoformat()}
            write_json(self._dir(attempt_id) / "started.json", started)
        return _time(started["started_at"])

    def _finish(self, attempt_id: str, acct: AcctRow) -> None:
        state = _FINAL.get(acct.state, EngineState.FAILED)
        exit_code: int | None = acct.exit_code if acct.signal == 0 else None
        reason = "" if state is EngineState.SUCCEEDED else _reason(acct.state, acct.exit_code, acct.signal)
        ran = acct.start is not None and bool(acct.alloc_tres)  # a job cancelled while pending has no allocation
        result: dict[str, Any] = {
            "state": state.value,
            "exit_code": exit_code,
            "reason": reason,
            "started_at": acct.start.astimezone(UTC).isoformat() if ran and acct.start else None,
            "ended_at": acct.end.astimezone(UTC).isoformat() if acct.end else None,
            "slurm_state": acct.state,
            "elapsed_s": acct.elapsed_s,
            "cpu_seconds": acct.total_cpu_s,
            "alloc_tres": acct.alloc_tres,
        }
        self._write_result(attempt_id, self._overlay(attempt_id, result))

    def _finish_without_accounting(self, attempt_id: str, job_id: str, row: QueueRow | None) -> AttemptStatus | None:
        fields = self.cli.job_fields(job_id)
        if not fields:
            self._write_result(attempt_id, {"state": "lost", "reason": f"Slurm has no record of job {job_id}"})
            return None
        slurm_state = fields.get("JobState", "")
        if slurm_state in LIVE_STATES:
            return AttemptStatus(attempt_id, EngineState.RUNNING, devices=self._devices(attempt_id))
        code, _, sig = fields.get("ExitCode", "0:0").partition(":")
        start, end = parse_time(fields.get("StartTime", "")), parse_time(fields.get("EndTime", ""))
        if start is not None and end is not None and end < start:
            start = None  # cancelled before it started: Slurm prints the planned start
        state = _FINAL.get(slurm_state, EngineState.FAILED)
        result: dict[str, Any] = {
            "state": state.value,
            "exit_code": int(code or 0) if not int(sig or 0) else None,
            "reason": "" if state is EngineState.SUCCEEDED else _reason(slurm_state, int(code or 0), int(sig or 0)),
            "started_at": start.astimezone(UTC).isoformat() if start else None,
            "ended_at": end.astimezone(UTC).isoformat() if end else None,
            "slurm_state": slurm_state,
            "elapsed_s": int((end - start).total_seconds()) if start and end else 0,
            "cpu_seconds": 0.0,
        }
        self._write_result(attempt_id, self._overlay(attempt_id, result))
        return None

    def _overlay(self, attempt_id: str, result: dict[str, Any]) -> dict[str, Any]:
        """What only suanli's scripts know: our own cancel, the exact runtime limit, setup and rank failures."""
        d = self._dir(attempt_id)
        spec = self._read(attempt_id, "spec.json") or {}
        gang = int(spec.get("nodes", 1)) > 1
        if result["state"] == "cancelled":
            ours = (d / "cancel").exists()
            if result.get("started_at") is None:
                result["reason"] = "cancelled before start" if ours else "cancelled in Slurm before it started"
            else:
                result["reason"] = "cancelled" if ours else "cancelled inside Slurm (scancel by the centre)"
            return result
        if (d / "timed_out").exists() or result["state"] == "timeout":
            result.update(state="timeout", exit_code=None, reason="max_runtime reached; killed")
            return result
        for marker, prefix in (("setup-failed-", "setup failed: "), ("exit-", "")):
            found = sorted(d.glob(f"{marker}*"), key=lambda p: p.stat().st_mtime)
            if found and result["state"] == "failed":
                rank = found[0].name.removeprefix(marker)
                code = int(found[0].read_text().strip() or 1)
                where = f"node {rank} " if gang else ""
                result.update(exit_code=code, reason=f"{prefix}{where}exited with code {code}")
                return result
        return result

    def _write_result(self, attempt_id: str, result: dict[str, Any]) -> None:
        result.setdefault("exit_code", None)
        result.setdefault("started_at", None)
        result.setdefault("ended_at", datetime.now(UTC).isoformat())
        write_json(self._dir(attempt_id) / "result.json", result)

    def cancel(self, attempt_id: str) -> None:
        """scancel the attempt's job (idempotent); an attempt not yet in Slurm never reaches it."""
        with self._lock:
            d = self._dir(attempt_id)
            if not (d / "spec.json").exists() or (d / "result.json").exists():
                return
            (d / "cancel").touch()
            job = self._read(attempt_id, "job.json")
            if job is None:
                job_id = self._find(attempt_id)
                if job_id is None:
                    self._write_result(attempt_id, {"state": "cancelled", "reason": "cancelled before start"})
                    return
                write_json(d / "job.json", {"job_id": job_id})
                job = {"job_id": job_id}
            self.cli.cancel(str(job["job_id"]))
            self._queue_at = -1e9

    def read_log(self, attempt_id: str, offset: int, limit: int) -> bytes:
        return read_at(self._dir(attempt_id) / "output.log", offset, limit)

    def usage(self, attempt_id: str) -> EngineUsage | None:
        """What Slurm accounted for a finished attempt: wall time × allocated accelerators, and CPU time."""
        result = self._read(attempt_id, "result.json")
        spec = self._read(attempt_id, "spec.json")
        if result is None or spec is None or not result.get("started_at") or not result.get("ended_at"):
            return None
        started, ended = _time(result["started_at"]), _time(result["ended_at"])
        assert started is not None and ended is not None
        pool = self.pools.get(spec["pool"])
        gres_key = f"gres/{pool.gres.split(':')[0]}" if pool and pool.gres else None
        tres = result.get("alloc_tres") or {}
        accelerators = int(tres.get(gres_key, 0)) if gres_key and gres_key in tres else spec["per_node"] * spec["nodes"]
        wall = float(result.get("elapsed_s", 0))
        return EngineUsage(
            attempt_id,
            accelerators,
            round(wall * accelerators, 3),
            float(result.get("cpu_seconds", 0.0)),
            round(wall, 3),
            started,
            ended,
        )

    def capacity(self) -> list[PoolCapacity]:
        nodes = self.cli.nodes()
        out = []
        for pool in self.pools.values():
            mine = [n for n in nodes if pool.partition in n.partitions and n.up]
            key = f"gres/{pool.gres.split(':')[0]}" if pool.gres else None
            free = sum(n.cfg_tres.get(key, 0) - n.alloc_tres.get(key, 0) for n in mine) if key else 0
            out.append(PoolCapacity(pool.name, len(mine), free))
        return out

    def known_attempts(self) -> list[str]:
        return sorted(p.name for p in self.attempts_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def forget(self, attempt_id: str) -> None:
        with self._lock:
            d = self._dir(attempt_id)
            if (d / "spec.json").exists() and not (d / "result.json").exists():
                if not self.status(attempt_id).state.finished:
                    raise BackendError(f"attempt {attempt_id} is still in Slurm; cancel it first")
            shutil.rmtree(d, ignore_errors=True)

    def close(self) -> None:
        pass

    # ---------------------------------------------------------------------------- helpers

    def _queue(self, force: bool = False) -> dict[str, QueueRow]:
        now = time.monotonic()
        if force or now - self._queue_at > self.queue_cache_s:
            self._queue_rows = self.cli.queue(JOB_NAME_PREFIX)
            self._queue_at = now
        return self._queue_rows

    def _devices(self, attempt_id: str) -> dict[str, list[int]]:
        devices = {}
        for path in self._dir(attempt_id).glob("rank-*.json"):
            try:
                devices[path.stem.removeprefix("rank-")] = [int(i) for i in json.loads(path.read_text())["ids"]]
            except (OSError, ValueError, KeyError):
                continue
        return devices


def _reason(slurm_state: str, code: int, sig: int) -> str:
    if slurm_state == "FAILED":
        return f"exited with code {code}" if not sig else f"killed by signal {sig}"
    if slurm_state == "OUT_OF_MEMORY":
        return "out of memory (Slurm)"
    if slurm_state in ("NODE_FAIL", "BOOT_FAIL"):
        return f"node failure in Slurm ({slurm_state})"
    return f"Slurm state {slurm_state}"


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _make_slurm(
    root: str | Path,
    pools: list[dict[str, Any]] | list[SlurmPool],
    slurm_conf: str | None = None,
    accounting: bool = True,
    timeout_s: float = 30.0,
    rest: dict[str, Any] | None = None,
    **unknown: Any,
) -> SlurmBackend:
    """The engine from an agent's configuration (see `backends/engine_config.py`): Slurm's tools, or slurmrestd
    when `rest: {url, user, token | token_file}` is given."""
    if unknown:
        known = "slurm_conf, accounting, timeout_s, rest, pools"
        raise InvalidInput([FieldError(k, f"unknown Slurm engine option (known: {known})") for k in sorted(unknown)])
    transport: SlurmCli | SlurmRest = SlurmCli(slurm_conf, timeout_s)
    if rest is not None:
        if not isinstance(rest, dict) or not rest.get("url") or not rest.get("user"):
            raise InvalidInput([FieldError("rest", "rest needs url and user, and token or token_file")])
        if not (rest.get("token") or rest.get("token_file")):
            raise InvalidInput([FieldError("rest.token", "a JWT (token) or a file holding one (token_file)")])
        transport = SlurmRest(str(rest["url"]), str(rest["user"]), rest.get("token"), rest.get("token_file"), timeout_s)
    parsed: list[SlurmPool] = []
    problems = []
    for p in pools:
        if isinstance(p, SlurmPool):
            parsed.append(p)
            continue
        if int(p.get("accelerators_per_node", 0) or 0) > 0 and not p.get("gres"):
            problems.append(
                FieldError(f"pools.{p['name']}.gres", 'an accelerator pool needs its GRES, e.g. gres: "gpu:a100"')
            )
        parsed.append(
            SlurmPool(
                str(p["name"]),
                str(p.get("partition") or p["name"]),
                p.get("gres") or None,
                p.get("account") or None,
                p.get("qos") or None,
            )
        )
    if problems:
        raise InvalidInput(problems)
    return SlurmBackend(Path(root), parsed, transport, accounting=bool(accounting))


register("slurm")(_make_slurm)

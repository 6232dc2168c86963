"""The runner of one local-engine attempt: `python -m suanli.backends.local_runner ATTEMPT_DIR`.

It is started by the local engine in its own session, inherits an exclusive `flock` on `ATTEMPT_DIR/lock`
(held until it exits, so anyone can tell whether it still lives, across agent restarts), and then:

1. writes `started.json` before any job command runs (so a runner that dies is never started twice);
2. runs `setup` and then `run` once per node rank, each rank in its own process group, merging output
   into `output.log` (prefixed `[node R]` for multi-node jobs);
3. kills every rank if one fails (a gang lives and dies together), on SIGTERM (cancel), or at max_runtime;
4. writes `result.json` atomically: state, exit code, times and the CPU seconds of its children.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

GRACE_SECONDS = 5.0


class _Flag:
    """Set from a signal handler: a plain attribute, never a lock (a second signal would deadlock on one)."""

    raised = False


_cancelled = _Flag()


def _on_signal(_signum: int, _frame: object) -> None:
    _cancelled.raised = True


def _now() -> str:
    return datetime.now(UTC).isoformat()


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _pump(stream: IO[bytes], out: IO[bytes], prefix: bytes, lock: threading.Lock) -> None:
    at_line_start = True
    for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        if prefix:
            pieces = []
            for line in chunk.splitlines(keepends=True):
                pieces.append((prefix if at_line_start else b"") + line)
                at_line_start = line.endswith(b"\n")
            chunk = b"".join(pieces)
        with lock:
            out.write(chunk)
            out.flush()


def _kill_groups(procs: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM every rank's process group, then SIGKILL what is left after `grace` seconds."""
    for proc in procs:
        _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.poll() is None for p in procs):
        time.sleep(0.05)
    for proc in procs:
        _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _phase(
    command: str, ranks: list[dict[str, str]], work: Path, log: IO[bytes], deadline: float, dir_: Path
) -> tuple[str, int | None, str]:
    """Run `command` on every rank at once; returns (state, exit_code, reason)."""
    lock = threading.Lock()
    procs, pumps = [], []
    for rank, env in enumerate(ranks):
        proc = subprocess.Popen(
            ["bash", "-c", command],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(proc)
        prefix = f"[node {rank}] ".encode() if len(ranks) > 1 else b""
        pump = threading.Thread(target=_pump, args=(proc.stdout, log, prefix, lock), daemon=True)
        pump.start()
        pumps.append(pump)
    write_json(dir_ / "groups.json", {"pgids": [p.pid for p in procs]})
    state, code, reason = "succeeded", 0, ""
    while True:
        codes = [p.poll() for p in procs]
        failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
        if _cancelled.raised:
            state, code, reason = "cancelled", None, "cancelled"
            break
        if time.monotonic() > deadline:
            state, code, reason = "timeout", None, "max_runtime reached; killed"
            break
        if failed:
            rank, rc = failed[0]
            code = 128 - rc if rc < 0 else rc
            where = f"node {rank} " if len(procs) > 1 else ""
            state, reason = "failed", f"{where}exited with code {code}"
            break
        if all(c == 0 for c in codes):
            break
        time.sleep(0.05)
    _kill_groups(procs, GRACE_SECONDS if state != "succeeded" else 0.0)  # also reaps stray background processes
    for proc in procs:
        proc.wait()
    for pump in pumps:
        pump.join(timeout=2)
    return state, code, reason


def run(dir_: Path) -> int:
    spec = json.loads((dir_ / "spec.json").read_text())
    alloc = json.loads((dir_ / "alloc.json").read_text())
    started = datetime.now(UTC)
    if (dir_ / "cancel").exists():
        write_json(
            dir_ / "result.json",
            {
                "state": "cancelled",
                "exit_code": None,
                "reason": "cancelled before start",
                "started_at": started.isoformat(),
                "ended_at": _now(),
                "cpu_seconds": 0.0,
            },
        )
        return 0
    write_json(dir_ / "started.json", {"pid": os.getpid(), "started_at": started.isoformat()})
    deadline = time.monotonic() + float(spec["max_runtime_s"])
    work = dir_ / "work"
    ranks = alloc["envs"]
    state, code, reason = "succeeded", 0, ""
    with (dir_ / "output.log").open("ab") as log:
        if spec.get("setup"):
            state, code, reason = _phase(spec["setup"], ranks, work, log, deadline, dir_)
            if state == "failed":
                reason = f"setup failed: {reason}"
        if state == "succeeded":
            state, code, reason = _phase(spec["run"], ranks, work, log, deadline, dir_)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    write_json(
        dir_ / "result.json",
        {
            "state": state,
            "exit_code": code,
            "reason": reason,
            "started_at": started.isoformat(),
            "ended_at": _now(),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        },
    )
    return 0


def main() -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sys.exit(run(Path(sys.argv[1])))


if __name__ == "__main__":
    main()

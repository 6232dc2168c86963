"""Running real suanli processes (`up`, `server`, `agent`, the CLI) from tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from suanli.client import SuanliClient

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    env.update(
        {
            "SUANLI_HOME": str(home),
            "PYTHONUNBUFFERED": "1",
            "SUANLI_SCHEDULER__INTERVAL_S": "0.3",
            "SUANLI_AGENT__POLL_INTERVAL_S": "0.3",
            "SUANLI_AGENT__MAX_BACKOFF_S": "1",
            **extra,
        }
    )
    return env


class Proc:
    """A suanli subprocess whose output goes to a file (read it when a test fails)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._fh = log.open("ab")
        self.p = subprocess.Popen(
            [sys.executable, "-m", "suanli", *args], cwd=ROOT, env=env, stdout=self._fh, stderr=subprocess.STDOUT
        )

    def kill9(self) -> None:
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._fh.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_ready(url: str, proc: Proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.p.poll() is not None:
            raise AssertionError(f"process exited with {proc.p.returncode}:\n{proc.output()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {timeout}s:\n{proc.output()[-3000:]}")


def wait_job(
    client: SuanliClient, job_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            job = client.job(job_id)
        except Exception:  # noqa: BLE001 - the server may be restarting
            time.sleep(0.2)
            continue
        if done(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not done after {timeout}s: {job.get('state')} {job.get('state_reason')}")


def cli(home: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "suanli", *args],
        cwd=ROOT,
        env=env_for(home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def kill_runners(root: Path) -> None:
    """Kill the local-engine runners a test left under `root` (jobs outlive agents on purpose)."""
    for started in root.rglob("started.json"):
        result = started.with_name("result.json")
        if not result.exists():
            try:
                pid = int(started.read_text().split('"pid": ')[1].split(",")[0])
                os.kill(pid, signal.SIGTERM)
            except (ValueError, ProcessLookupError, IndexError):
                pass

"""Killing the server or an agent with SIGKILL mid-run loses no accepted job and runs no job twice."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

import pytest

from suanli.client import SuanliClient
from suanli.config import Settings
from suanli.service.context import Context
from suanli.store.uow import SqlStore
from tests.conftest import build_city
from tests.e2e.harness import Proc, env_for, free_port, kill_runners, wait_job, wait_ready

pytestmark = pytest.mark.e2e


def counted_job(marker: Path, name: str, seconds: float, **extra) -> dict:
    """A job that appends its attempt id to `marker` when it starts, so a second run would show."""
    return {
        "name": name,
        "envs": {"MARKER": str(marker)},
        "max_runtime": "5m",
        "run": f"echo $SUANLI_ATTEMPT_ID >> $MARKER; echo working; sleep {seconds}; echo done",
        **extra,
    }


def running(job: dict) -> bool:
    return job["state"] == "running"


def succeeded(job: dict) -> bool:
    assert job["state"] not in ("failed", "cancelled", "rejected"), job
    return job["state"] == "succeeded"


def test_sigkill_of_the_embedded_default_mid_run(tmp_path: Path):
    home, port = tmp_path / "home", free_port()
    url = f"http://127.0.0.1:{port}"
    marker = tmp_path / "runs.txt"
    up = Proc(["up", "--port", str(port)], env_for(home), tmp_path / "up1.log")
    try:
        wait_ready(url, up)
        token = tomllib.loads((home / "credentials.toml").read_text())["token"]
        client = SuanliClient(url, token)
        long_job = client.submit(counted_job(marker, "long", 4))
        wait_job(client, long_job["id"], running)
        accepted = client.submit(counted_job(marker, "accepted-before-crash", 0))
        up.kill9()
        up = Proc(["up", "--port", str(port)], env_for(home), tmp_path / "up2.log")
        wait_ready(url, up)
        client = SuanliClient(url, token)
        for job in (long_job, accepted):
            final = wait_job(client, job["id"], succeeded)
            assert final["attempts"] == 1, final
        lines = marker.read_text().splitlines()
        assert sorted(lines) == sorted([f"{long_job['id']}-1", f"{accepted['id']}-1"])
        log = client.logs(long_job["id"])
        assert log["data"] == "working\ndone\n" and log["complete"]
    finally:
        up.stop()
        kill_runners(home)


def test_sigkill_of_an_agent_and_of_the_server_mid_run(tmp_path: Path, database_url: str):
    home = tmp_path / "home"
    ctx = Context(SqlStore(database_url, migrate_schema=False), Settings(home=home))
    city = build_city(ctx)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = env_for(home, SUANLI_DATABASE_URL=database_url)
    marker = tmp_path / "runs.txt"
    agent_args = ["agent", "--server", url, "--token", city.agent_tokens["hpc"], "--work-dir", str(tmp_path / "eng")]
    server = Proc(["server", "--port", str(port)], env, tmp_path / "server1.log")
    agent = Proc(agent_args, env, tmp_path / "agent1.log")
    try:
        wait_ready(url, server)
        client = SuanliClient(url, city.tokens["acme-dev"])

        first = client.submit(counted_job(marker, "agent-crash", 3, centres={"allow": ["hpc"]}))
        wait_job(client, first["id"], running)
        agent.kill9()
        time.sleep(0.5)
        agent = Proc(agent_args, env, tmp_path / "agent2.log")
        assert wait_job(client, first["id"], succeeded)["attempts"] == 1

        second = client.submit(counted_job(marker, "server-crash", 3, centres={"allow": ["hpc"]}))
        wait_job(client, second["id"], running)
        server.kill9()
        queued = None
        server = Proc(["server", "--port", str(port)], env, tmp_path / "server2.log")
        wait_ready(url, server)
        queued = client.submit(counted_job(marker, "after-restart", 0, centres={"allow": ["hpc"]}))
        for job in (second, queued):
            assert wait_job(client, job["id"], succeeded)["attempts"] == 1
        assert sorted(marker.read_text().splitlines()) == sorted(f"{j['id']}-1" for j in (first, second, queued))
        assert client.logs(second["id"])["data"] == "working\ndone\n"
    finally:
        agent.stop()
        server.stop()
        kill_runners(tmp_path / "eng")
        ctx.store.close()  # type: ignore[attr-defined]

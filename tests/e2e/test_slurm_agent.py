"""A real server and a real `suanli agent --engine slurm` on the Slurm test cluster: a tenant's 2-node gang job
is placed, runs as one Slurm allocation, its logs arrive, and the usage billed is what Slurm's accounting says."""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from suanli.client import SuanliClient
from suanli.config import Settings
from suanli.domain.centres import EngineKind
from suanli.service import centres
from suanli.service.auth import authenticate, mint_agent_token
from suanli.service.context import Context
from suanli.store.uow import SqlStore
from tests.conftest import build_city
from tests.e2e.harness import Proc, env_for, free_port, wait_job, wait_ready

pytestmark = pytest.mark.e2e


def test_a_gang_job_runs_on_slurm_and_is_billed_from_accounting(tmp_path: Path, database_url: str, slurm_conf: str):
    home = tmp_path / "home"
    ctx = Context(SqlStore(database_url, migrate_schema=False), Settings(home=home))
    city = build_city(ctx)
    admin = authenticate(ctx, city.admin_token)
    centre = centres.create_centre(ctx, admin, centres.CentreInput("qd-slurm", city.ids["ops"], EngineKind.SLURM))
    pool = centres.add_pool(ctx, admin, centre.id, centres.PoolInput("a100", "A100", 2, 4, 8, 16))
    centres.add_price(ctx, admin, pool.id, "18.00", "0.4", valid_from=ctx.clock.now() - timedelta(days=1))
    with ctx.store.uow() as uow:
        agent_token = mint_agent_token(uow, centre.id, "agent", ctx.clock.now()).secret
    config = tmp_path / "slurm.yaml"
    config.write_text(f"slurm_conf: {slurm_conf}\npools:\n  a100: {{partition: gpu, gres: 'gpu:a100'}}\n")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = env_for(home, SUANLI_DATABASE_URL=database_url)
    server = Proc(["server", "--port", str(port)], env, tmp_path / "server.log")
    agent = Proc(
        [
            "agent",
            "--server",
            url,
            "--token",
            agent_token,
            "--engine",
            "slurm",
            "--engine-config",
            str(config),
            "--work-dir",
            str(tmp_path / "slurm-agent"),
        ],
        env,
        tmp_path / "agent.log",
    )
    try:
        wait_ready(url, server)
        client = SuanliClient(url, city.tokens["acme-dev"])
        job = client.submit(
            {
                "name": "gang-on-slurm",
                "num_nodes": 2,
                "resources": {"accelerators": "A100:4", "cpus": 1, "memory": 1},
                "centres": {"allow": ["qd-slurm"]},
                "run": "echo rank=$SUANLI_NODE_RANK of=$SUANLI_NUM_NODES gpus=$CUDA_VISIBLE_DEVICES; sleep 2",
                "max_runtime": "5m",
            }
        )
        final = wait_job(client, job["id"], lambda j: j["state"] in ("succeeded", "failed", "cancelled"), 90)
        assert final["state"] == "succeeded", (final, agent.output()[-3000:])
        log = client.logs(job["id"])["data"]
        assert sorted(log.splitlines()) == ["[node 0] rank=0 of=2 gpus=0,1,2,3", "[node 1] rank=1 of=2 gpus=0,1,2,3"]

        attempt_id = f"{job['id']}-1"
        with ctx.store.uow() as uow:
            usage = uow.usage.get(attempt_id)
        assert usage is not None
        sacct = ""
        for _ in range(50):  # slurmdbd may still be taking in the record the agent has already read
            sacct = subprocess.run(
                [
                    "sacct",
                    "-n",
                    "-P",
                    "-X",
                    "-S",
                    "now-1hours",
                    f"--name=suanli-{attempt_id}",
                    "-o",
                    "ElapsedRaw,AllocTRES",
                ],
                capture_output=True,
                text=True,
                env={**env, "SLURM_CONF": slurm_conf},
                check=True,
            ).stdout.strip()
            if sacct:
                break
            time.sleep(0.2)
        elapsed, tres = sacct.split("|")
        assert "gres/gpu=8" in tres and "node=2" in tres
        assert usage.accelerators == 8 and usage.wall_seconds == float(elapsed) >= 2
        assert usage.accelerator_seconds == 8 * float(elapsed)
        account = client.account(city.ids["acme"])
        expected = Decimal(8) * Decimal(elapsed) / 3600 * Decimal("18.00")  # A100 card-hours x the pool's price
        assert abs(Decimal(account["charged"]) - expected) <= Decimal("0.01") and Decimal(account["charged"]) > 0
    finally:
        agent.stop()
        server.stop()
        ctx.store.close()  # type: ignore[attr-defined]

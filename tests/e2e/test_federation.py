"""Two real platforms: a provincial platform whose centre `qingdao-city` is the city platform itself. A tenant's
gang job on the province runs on the city's centre through `suanli agent --engine federation`; each platform
bills its own customer at its own price from the same metered run."""

from __future__ import annotations

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
from tests.contract.child_platform import ChildPlatform, child_platform  # noqa: F401 - a fixture
from tests.e2e.harness import Proc, env_for, free_port, wait_job, wait_ready

pytestmark = pytest.mark.e2e


def test_a_job_on_the_province_runs_on_the_city_platform(
    tmp_path: Path,
    database_url: str,
    child_platform: ChildPlatform,  # noqa: F811
):
    home = tmp_path / "home"
    ctx = Context(SqlStore(database_url, migrate_schema=False), Settings(home=home))
    province = build_city(ctx)
    admin = authenticate(ctx, province.admin_token)
    centre = centres.create_centre(
        ctx, admin, centres.CentreInput("qingdao-city", province.ids["ops"], EngineKind.FEDERATION)
    )
    pool = centres.add_pool(ctx, admin, centre.id, centres.PoolInput("a100", "A100", 2, 4, 8, 16))
    centres.add_price(ctx, admin, pool.id, "25.00", "0.4", valid_from=ctx.clock.now() - timedelta(days=1))
    with ctx.store.uow() as uow:
        agent_token = mint_agent_token(uow, centre.id, "agent", ctx.clock.now()).secret
    child_token = child_platform.tenant_token()
    config = tmp_path / "federation.yaml"
    config.write_text(f"url: {child_platform.url}\npools:\n  a100: {{model: A100}}\n")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = env_for(home, SUANLI_DATABASE_URL=database_url)
    server = Proc(["server", "--port", str(port)], env, tmp_path / "server.log")
    agent_args = ["agent", "--server", url, "--token", agent_token, "--engine", "federation"]
    agent_args += ["--engine-config", str(config), "--work-dir", str(tmp_path / "fed")]
    agent = Proc(agent_args, {**env, "SUANLI_FEDERATION_TOKEN": child_token}, tmp_path / "agent.log")
    try:
        wait_ready(url, server)
        client = SuanliClient(url, province.tokens["acme-dev"])
        job = client.submit(
            {
                "name": "via-the-city",
                "num_nodes": 2,
                "resources": {"accelerators": "A100:4"},
                "centres": {"allow": ["qingdao-city"]},
                "run": "echo rank=$SUANLI_NODE_RANK gpus=$CUDA_VISIBLE_DEVICES; sleep 2",
                "max_runtime": "5m",
            }
        )
        final = wait_job(client, job["id"], lambda j: j["state"] in ("succeeded", "failed", "cancelled"), 90)
        assert final["state"] == "succeeded", (final, agent.output()[-3000:])
        log = client.logs(job["id"])["data"]
        assert sorted(log.splitlines()) == ["[node 0] rank=0 gpus=0,1,2,3", "[node 1] rank=1 gpus=0,1,2,3"]

        city = SuanliClient(child_platform.url, child_token)
        (child_job,) = city.jobs()["items"]
        assert child_job["state"] == "succeeded" and child_job["name"] == "via-the-city"

        with ctx.store.uow() as uow:
            usage = uow.usage.get(f"{job['id']}-1")
        assert usage is not None and usage.accelerators == 8 and usage.wall_seconds >= 2
        card_hours = Decimal(str(usage.accelerator_seconds)) / 3600
        charged_here = Decimal(client.account(province.ids["acme"])["charged"])
        assert abs(charged_here - card_hours * Decimal("25.00")) <= Decimal("0.01")
        me = city.me()
        charged_there = Decimal(city.account(me["tenant"]["id"])["charged"])
        assert 0 < charged_there < charged_here  # the city bills the province at its own, lower price
    finally:
        agent.stop()
        server.stop()
        ctx.store.close()  # type: ignore[attr-defined]

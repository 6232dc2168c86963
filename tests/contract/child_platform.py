"""A second, real suanli platform for the federation engine's tests: its own server process, SQLite database,
and local-engine agent on one centre whose pools have the contract suite's shapes (gpu: 2 x 4 A100, npu: 1 x 8
Ascend910B, cpu: 2 CPU nodes)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from suanli.config import Settings
from suanli.domain.centres import EngineKind
from suanli.domain.tenants import Principal, Role, TenantKind
from suanli.service import centres, tenants
from suanli.service.auth import authenticate, create_token, mint_agent_token
from suanli.service.context import Context
from suanli.service.tenants import bootstrap
from suanli.store.uow import SqlStore
from tests.e2e.harness import Proc, env_for, free_port, kill_runners, wait_ready

CHILD_POOLS = [("gpu", "A100", 2, 4, 8, 16), ("npu", "Ascend910B", 1, 8, 8, 16), ("cpu", "CPU-X86", 2, 0, 8, 16)]
FEDERATED_POOLS = {"gpu": {"model": "A100"}, "npu": {"model": "Ascend910B"}, "cpu": {"model": ""}}


@dataclass
class ChildPlatform:
    url: str
    ctx: Context
    admin: Principal

    def tenant_token(self) -> str:
        """A fresh tenant of the child and its admin's token: idempotency keys and quotas start empty."""
        name = f"parent-{uuid.uuid4().hex[:8]}"
        tenant = tenants.create_tenant(self.ctx, self.admin, tenants.TenantInput(name, name, TenantKind.ENTERPRISE))
        user = tenants.create_user(self.ctx, self.admin, tenant.id, tenants.UserInput(f"{name}-svc", Role.TENANT_ADMIN))
        return create_token(self.ctx, self.admin, user.id, "federation", None).secret


@pytest.fixture(scope="session")
def child_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildPlatform]:
    root = tmp_path_factory.mktemp("child")
    url_db = f"sqlite:///{root / 'child.db'}"
    ctx = Context(SqlStore(url_db), Settings(home=root / "home"))
    admin = authenticate(ctx, bootstrap(ctx).secret)
    ops = tenants.create_tenant(ctx, admin, tenants.TenantInput("child-ops", "Child Ops", TenantKind.ENTERPRISE))
    centre = centres.create_centre(ctx, admin, centres.CentreInput("child-centre", ops.id, EngineKind.LOCAL))
    for name, model, nodes, apn, cpus, mem in CHILD_POOLS:
        pool = centres.add_pool(ctx, admin, centre.id, centres.PoolInput(name, model, nodes, apn, cpus, mem))
        centres.add_price(ctx, admin, pool.id, "10.00", "0.4", valid_from=ctx.clock.now() - timedelta(days=1))
    with ctx.store.uow() as uow:
        agent_token = mint_agent_token(uow, centre.id, "agent", ctx.clock.now()).secret
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = env_for(root / "home", SUANLI_DATABASE_URL=url_db)
    server = Proc(["server", "--port", str(port)], env, root / "server.log")
    agent_args = ["agent", "--server", url, "--token", agent_token, "--work-dir", str(root / "engine")]
    agent = Proc(agent_args, env, root / "agent.log")
    try:
        wait_ready(url, server)
        yield ChildPlatform(url, ctx, admin)
    finally:
        agent.stop()
        server.stop()
        kill_runners(root / "engine")
        ctx.store.close()  # type: ignore[attr-defined]

"""The demo city of the embedded default: three centres with different accelerators, and a demo tenant.

Seeding is idempotent: running `suanli up` again reuses what exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from suanli.domain.centres import EngineKind
from suanli.domain.tenants import Principal, Role, TenantKind, TokenSecret
from suanli.service import centres, tenants
from suanli.service.auth import mint_user_token
from suanli.service.context import Context


@dataclass(frozen=True)
class DemoPool:
    name: str
    model: str
    nodes: int
    accelerators_per_node: int
    cpus_per_node: int
    memory_gib_per_node: int
    price: str
    preemptible_discount: str


@dataclass(frozen=True)
class DemoCentre:
    name: str
    display_name: str
    operator: str
    district: str
    pools: tuple[DemoPool, ...]


DEMO_CENTRES = (
    DemoCentre(
        "qingdao-ai",
        "青岛人工智能计算中心 Qingdao AI Computing Centre",
        "qd-ai-ops",
        "崂山区 Laoshan",
        (DemoPool("ascend-910b", "Ascend910B", 2, 8, 192, 1024, "12.50", "0.4"),),
    ),
    DemoCentre(
        "west-coast-gpu",
        "西海岸智算中心 West Coast GPU Centre",
        "west-coast-compute",
        "黄岛区 Huangdao",
        (DemoPool("a100", "A100", 2, 8, 128, 1024, "18.00", "0.4"),),
    ),
    DemoCentre(
        "qingdao-hpc",
        "青岛超算中心 Qingdao Supercomputing Centre",
        "qd-hpc-ops",
        "市南区 Shinan",
        (DemoPool("cpu", "CPU-X86", 4, 0, 64, 256, "0.06", "0.3"),),
    ),
)
DEMO_TENANT = "demo-lab"
DEMO_USER = "demo"


def seed_demo_city(ctx: Context, admin: Principal) -> None:
    """Create the demo operators, centres, pools, prices, tenant and user, unless they exist."""
    with ctx.store.uow() as uow:
        existing_centres = {c.name for c in uow.centres.list()}
        existing_tenants = {t.name: t.id for t in uow.tenants.list()}
    for spec in DEMO_CENTRES:
        if spec.name in existing_centres:
            continue
        operator_id = existing_tenants.get(spec.operator)
        if operator_id is None:
            operator = tenants.create_tenant(
                ctx,
                admin,
                tenants.TenantInput(
                    spec.operator,
                    spec.display_name.split(" ")[0] + "运营方",
                    TenantKind.ENTERPRISE,
                    False,
                    "青岛 Qingdao",
                    "computing services",
                ),
            )
            operator_id = operator.id
        centre = centres.create_centre(
            ctx,
            admin,
            centres.CentreInput(
                spec.name, operator_id, EngineKind.LOCAL, spec.display_name, "青岛 Qingdao", spec.district
            ),
        )
        for p in spec.pools:
            pool = centres.add_pool(
                ctx,
                admin,
                centre.id,
                centres.PoolInput(
                    p.name, p.model, p.nodes, p.accelerators_per_node, p.cpus_per_node, p.memory_gib_per_node
                ),
            )
            centres.add_price(ctx, admin, pool.id, p.price, p.preemptible_discount)
    if DEMO_TENANT not in existing_tenants:
        tenant = tenants.create_tenant(
            ctx,
            admin,
            tenants.TenantInput(
                DEMO_TENANT, "演示实验室 Demo Lab", TenantKind.UNIVERSITY, False, "青岛 Qingdao", "education"
            ),
        )
        tenants.create_user(ctx, admin, tenant.id, tenants.UserInput(DEMO_USER, Role.TENANT_ADMIN, "Demo user"))


def demo_user_token(ctx: Context, name: str = "cli") -> TokenSecret:
    """A fresh token for the demo user (tokens are shown once, so `up` mints one when it needs one)."""
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        user = uow.users.get_by_name(DEMO_USER)
        assert user is not None, "seed_demo_city first"
        return mint_user_token(uow, user.id, name, now, timedelta(days=ctx.settings.auth.token_ttl_days))

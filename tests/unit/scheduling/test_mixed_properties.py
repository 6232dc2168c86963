"""Every policy on cities with everything at once: CPU and accelerator pools, centres offline or degraded,
pools disabled or unpriced, jobs with alternatives, price caps, centre lists and budgets, tenants with quotas,
preemptible and stopping work. No decision fails, over-commits a node, splits a gang or leaves a job without
one reason per pool."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.centres import CentreStatus
from suanli.scheduling import decide
from suanli.scheduling.fairness import TenantShare
from suanli.scheduling.policies import policy_names
from suanli.scheduling.snapshot import Snapshot
from tests.unit.scheduling.builders import T0, job, pool
from tests.unit.scheduling.strategies import running_job

HOUR = 3600
MODELS = ["A100", "H800", "Ascend910B"]
TENANTS = ["a", "b", "c"]
STATUSES = [CentreStatus.ONLINE, CentreStatus.ONLINE, CentreStatus.ONLINE, CentreStatus.OFFLINE, CentreStatus.DEGRADED]


@st.composite
def cities(draw: st.DrawFn):
    pools, held = [], []
    for i in range(draw(st.integers(1, 4))):
        model = draw(st.sampled_from([*MODELS, "CPU-X86"]))
        cpu = model == "CPU-X86"
        nodes, per_node = draw(st.integers(1, 3)), 0 if cpu else draw(st.sampled_from([4, 8]))
        cores = draw(st.sampled_from([32.0, 64.0]))
        price = draw(st.sampled_from(["0.05", "2", "12", "30"]))
        p = pool(
            f"p{i}",
            model,
            nodes,
            per_node,
            price,
            centre=f"c{i % 3}",
            cpus=cores,
            memory=256,
            status=draw(st.sampled_from(STATUSES)),
            free=[per_node] * nodes,
        )
        if draw(st.integers(0, 6)) == 0:
            p = replace(p, enabled=False)
        if draw(st.integers(0, 6)) == 0:
            p = replace(p, price=None, price_card_id=None)
        free = []
        for n in range(nodes):
            used_a = draw(st.integers(0, per_node)) if per_node else 0
            used_c = draw(st.sampled_from([0.0, 1.5, cores / 2, cores])) if cpu else float(used_a)
            if used_a or used_c:
                r = running_job(draw, f"r{i}-{n}", f"p{i}", n, used_a, tenants=TENANTS)
                held.append(replace(r, cpus=used_c))
            free.append((per_node - used_a, cores - used_c))
        pools.append(
            replace(p, free=tuple(replace(f, accelerators=a, cpus=c) for f, (a, c) in zip(p.free, free, strict=True)))
        )
    shares = {
        t: TenantShare(
            t,
            held=float(draw(st.integers(0, 24))),
            quota=float(draw(st.sampled_from([0, 8]))),
            usage=float(draw(st.integers(0, 10**6))),
        )
        for t in TENANTS
    }
    budgets = {t: Decimal(draw(st.sampled_from(["0", "50", "5000"]))) for t in TENANTS if draw(st.booleans())}
    waiting = []
    for i in range(draw(st.integers(1, 12))):
        cpu_job = draw(st.integers(0, 4)) == 0
        models = draw(st.lists(st.sampled_from(MODELS), min_size=1, max_size=3, unique=True))
        waiting.append(
            job(
                f"j{i}",
                None if cpu_job else models[0],
                draw(st.sampled_from([1, 2, 4, 8])),
                draw(st.integers(1, 3)),
                alternatives=() if cpu_job else tuple(models[1:]),
                cpus=draw(st.sampled_from([0.5, 1.0, 3.5, 16.0, 64.0])),
                memory=draw(st.sampled_from([1.0, 128.0, 300.0])),
                priority=draw(st.sampled_from([10, 50, 90])),
                tenant=draw(st.sampled_from(TENANTS)),
                age=draw(st.integers(0, 3 * HOUR)),
                preemptible=draw(st.booleans()),
                max_price=draw(st.sampled_from([None, None, "5", "20"])),
                allow=draw(st.sampled_from([(), (), ("c1",)])),
                exclude=draw(st.sampled_from([(), (), ("c0",)])),
                max_runtime=draw(st.sampled_from([600, HOUR, 12 * HOUR, 48 * HOUR])),
                estimates=draw(st.sampled_from([None, {m: 0.3 * HOUR for m in models}])),
            )
        )
    return Snapshot(tuple(pools), tuple(held), shares, budgets), waiting


@pytest.mark.parametrize("policy", policy_names())
@settings(max_examples=300, deadline=None)
@given(cities())
def test_every_policy_decides_any_mixed_city_soundly(policy, city):
    snapshot, waiting = city
    result = decide(snapshot, waiting, policy, T0)
    pools = {p.pool_id: p for p in snapshot.pools}
    by_id = {j.job_id: j for j in waiting}
    used: dict[tuple[str, int], list[float]] = {}
    for placement in result.placements:
        j, p = by_id[placement.job_id], pools[placement.pool_id]
        assert len(set(placement.node_indices)) == j.request.nodes == len(placement.node_indices)
        assert p.enabled and p.centre_status is CentreStatus.ONLINE and p.price is not None
        assert p.model in {o.model for o in j.request.options} or (p.is_cpu and not j.request.options)
        assert j.max_price is None or p.price_for(j.preemptible) <= j.max_price
        for node in placement.node_indices:
            acc = used.setdefault((p.pool_id, node), [0, 0.0, 0.0])
            acc[0] += placement.per_node
            acc[1] += placement.cpus_per_node
            acc[2] += placement.memory_gib_per_node
    for (pid, node), (accel, cpus, mem) in used.items():
        free = pools[pid].free[node]
        assert accel <= free.accelerators and cpus <= free.cpus + 1e-9 and mem <= free.memory_gib + 1e-9
    spent: dict[str, Decimal] = {}
    for placement in result.placements:
        tenant = by_id[placement.job_id].tenant_id
        spent[tenant] = spent.get(tenant, Decimal(0)) + placement.hold
    for tenant, hold in spent.items():
        assert tenant not in snapshot.budgets or hold <= snapshot.budgets[tenant]
    placed = {p.job_id for p in result.placements}
    assert placed | set(result.waiting) | set(result.rejected) == set(by_id)
    assert not placed & set(result.waiting) and not placed & set(result.rejected)
    for job_id, reasons in (*result.waiting.items(), *result.rejected.items()):
        assert sorted(r.pool_id for r in reasons) == sorted(pools), job_id
    running_ids = {r.job_id: r for r in snapshot.running}
    for p in result.preemptions:
        assert running_ids[p.job_id].preemptible and not running_ids[p.job_id].stopping
        assert p.for_job in result.waiting

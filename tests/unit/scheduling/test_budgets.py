"""Monthly budgets in `decide`: a job is placed only where its worst case fits what its tenant has left."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from suanli.scheduling import decide
from suanli.scheduling.evaluate import hold_amount
from suanli.scheduling.policies import policy_names
from suanli.scheduling.snapshot import Snapshot
from tests.unit.scheduling.builders import T0, job, pool

HOUR = 3600


def test_the_hold_is_max_runtime_x_price_x_units():
    assert hold_amount(job("j", per_node=4, nodes=2, max_runtime=2 * HOUR), pool("p", price="10")) == Decimal("160.00")
    cpu = pool("cpu", model="CPU-X86", per_node=0, price="0.06")
    assert hold_amount(job("c", model=None, cpus=16, max_runtime=HOUR), cpu) == Decimal("0.96")


@pytest.mark.parametrize("policy", policy_names())
def test_a_job_over_budget_waits_and_says_why_while_others_run(policy: str):
    snapshot = Snapshot((pool("a100", price="10"),), budgets={"poor": Decimal("50")})
    jobs = [
        job("costly", per_node=8, max_runtime=HOUR, tenant="poor", age=30),  # 80.00 > 50
        job("same-shape", per_node=8, max_runtime=HOUR, tenant="rich", age=20),  # no cap
    ]
    result = decide(snapshot, jobs, policy, T0)
    assert [p.job_id for p in result.placements] == ["same-shape"]
    assert "costly" in result.waiting
    assert "budget" in result.notes["costly"] and "¥80.00" in result.notes["costly"]
    assert "¥50.00" in result.notes["costly"]


@pytest.mark.parametrize("policy", policy_names())
def test_holds_add_up_within_a_cycle(policy: str):
    snapshot = Snapshot((pool("a100", price="10"),), budgets={"t": Decimal("100")})
    jobs = [job(f"j{i}", per_node=4, max_runtime=HOUR, tenant="t", age=10 - i) for i in range(3)]  # 40.00 each
    result = decide(snapshot, jobs, policy, T0)
    assert len(result.placements) == 2  # 80.00 held; a third would need 120.00
    assert sum(p.hold for p in result.placements) == Decimal("80.00")
    (waiting,) = result.waiting
    assert "budget" in result.notes[waiting]


def test_a_cheaper_pool_within_budget_is_used():
    snapshot = Snapshot(
        (pool("h800", model="H800", price="30"), pool("a100", price="10", centre="c2")), budgets={"t": Decimal("90")}
    )
    either = job("j", "H800", per_node=8, max_runtime=HOUR, tenant="t", alternatives=("A100",))
    result = decide(snapshot, [either], "suanli", T0)  # H800 would be faster but needs 240.00 held
    (placement,) = result.placements
    assert placement.pool_id == "a100" and placement.hold == Decimal("80.00")


def test_no_budget_means_no_cap():
    result = decide(Snapshot((pool("a100", price="10"),)), [job("j", per_node=8, max_runtime=100 * HOUR)], "suanli", T0)
    assert len(result.placements) == 1 and result.placements[0].hold == Decimal("8000.00")


@pytest.mark.parametrize("policy", policy_names())
def test_a_projects_budget_caps_its_jobs_and_the_tenants_caps_them_all(policy: str):
    budgets = {"t": Decimal("200"), "t/vision": Decimal("50")}  # 40.00 per job below
    snapshot = Snapshot((pool("a100", price="10"),), budgets=budgets)
    jobs = [
        replace(job("v1", per_node=4, max_runtime=HOUR, tenant="t", age=50), project="vision"),
        replace(job("v2", per_node=4, max_runtime=HOUR, tenant="t", age=40), project="vision"),  # 80 > 50
        replace(job("n1", per_node=4, max_runtime=HOUR, tenant="t", age=30), project="nlp"),  # no project cap
        replace(job("n2", per_node=4, max_runtime=HOUR, tenant="u", age=20), project="vision"),  # another tenant's
    ]
    result = decide(snapshot, jobs, policy, T0)
    assert sorted(p.job_id for p in result.placements) == ["n1", "n2", "v1"]
    assert "project vision's monthly budget" in result.notes["v2"] and "¥10.00" in result.notes["v2"]


def test_the_tenants_budget_still_binds_a_project_with_room():
    snapshot = Snapshot((pool("a100", price="10"),), budgets={"t": Decimal("60"), "t/vision": Decimal("500")})
    jobs = [
        replace(job(f"v{i}", per_node=4, max_runtime=HOUR, tenant="t", age=9 - i), project="vision") for i in (1, 2)
    ]
    result = decide(snapshot, jobs, "suanli", T0)
    assert [p.job_id for p in result.placements] == ["v1"]
    assert "the tenant's monthly budget" in result.notes["v2"]

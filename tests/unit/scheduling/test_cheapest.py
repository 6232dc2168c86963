"""`cheapest` (SkyPilot's way) on small hand-made snapshots."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suanli.domain.centres import CentreStatus
from suanli.scheduling import decide
from suanli.scheduling.decisions import ReasonCode
from suanli.scheduling.snapshot import Snapshot
from tests.unit.scheduling.builders import T0, job, pool


def test_cheapest_pool_with_room_wins_and_the_choice_is_explained():
    snapshot = Snapshot((pool("dear", price="30"), pool("cheap", price="10"), pool("mid", price="20")))
    result = decide(snapshot, [job("j")], "cheapest", T0)
    (placement,) = result.placements
    assert placement.pool_id == "cheap" and placement.price == Decimal("10")
    assert placement.explanation == "cheapest at ¥10.00/accelerator-hour"


def test_preemptible_jobs_pay_the_discounted_price():
    result = decide(Snapshot((pool("p", price="10"),)), [job("j", preemptible=True)], "cheapest", T0)
    assert result.placements[0].price == Decimal("5.0000")


def test_gang_takes_whole_nodes_in_one_pool_or_nothing():
    # 3 + 8 free: a 2 x 8 gang does not fit (never a partial gang), a 1 x 8 job does.
    snapshot = Snapshot((pool("p", free=[3, 8]),))
    result = decide(snapshot, [job("gang", per_node=8, nodes=2, age=10), job("small", per_node=8)], "cheapest", T0)
    assert [p.job_id for p in result.placements] == ["small"]
    assert result.placements[0].node_indices == (1,)
    (reason,) = result.waiting["gang"]
    assert reason.code is ReasonCode.INSUFFICIENT_CAPACITY
    assert "0 of 2 node(s) have room now" in reason.message  # as the cycle leaves the pool


def test_gang_spans_distinct_nodes():
    result = decide(Snapshot((pool("p", nodes=4),)), [job("g", per_node=8, nodes=3)], "cheapest", T0)
    nodes = result.placements[0].node_indices
    assert len(nodes) == len(set(nodes)) == 3


def test_best_fit_keeps_whole_nodes_free():
    result = decide(Snapshot((pool("p", free=[8, 2]),)), [job("j", per_node=2)], "cheapest", T0)
    assert result.placements[0].node_indices == (1,)


def test_capacity_is_consumed_within_a_cycle():
    jobs = [job(f"j{i}", per_node=8, age=10 - i) for i in range(3)]
    result = decide(Snapshot((pool("p", nodes=2),)), jobs, "cheapest", T0)
    assert [p.job_id for p in result.placements] == ["j0", "j1"]
    assert "j2" in result.waiting


def test_jobs_go_in_submission_order_whatever_their_priority():
    jobs = [
        job("new-high", per_node=8, priority=90),
        job("old-low", per_node=8, priority=10, age=100),
        job("mid", per_node=8, priority=50, age=50),
    ]
    result = decide(Snapshot((pool("p", nodes=2),)), jobs, "cheapest", T0)
    assert [p.job_id for p in result.placements] == ["old-low", "mid"]


def test_a_full_cheap_pool_fails_over_to_the_next_cheapest():
    snapshot = Snapshot((pool("cheap", price="1", free=[0, 0]), pool("dear", price="9", centre="c2")))
    (placement,) = decide(snapshot, [job("j")], "cheapest", T0).placements
    assert placement.pool_id == "dear" and "1 cheaper pool(s) are full" in placement.explanation


def test_every_waiting_job_has_a_reason_per_pool():
    snapshot = Snapshot(
        (
            pool("busy", free=[0, 0]),
            pool("dear", price="99", centre="c2"),
            pool("down", centre="c3", status=CentreStatus.OFFLINE),
            pool("npu", model="Ascend910B", centre="c4"),
        )
    )
    result = decide(snapshot, [job("j", max_price="50")], "cheapest", T0)
    codes = {r.pool_id: r.code for r in result.waiting["j"]}
    assert codes == {
        "busy": ReasonCode.INSUFFICIENT_CAPACITY,
        "dear": ReasonCode.PRICE_ABOVE_MAX,
        "down": ReasonCode.CENTRE_OFFLINE,
        "npu": ReasonCode.MODEL_MISMATCH,
    }
    assert all(r.message for r in result.waiting["j"])


def test_a_job_no_pool_can_ever_run_is_rejected_with_reasons():
    snapshot = Snapshot((pool("a100", per_node=8), pool("npu", model="Ascend910B", centre="c2")))
    result = decide(snapshot, [job("j", per_node=16)], "cheapest", T0)
    assert not result.placements and "j" in result.rejected
    assert {r.code for r in result.rejected["j"]} == {ReasonCode.TOO_MANY_ACCELERATORS, ReasonCode.MODEL_MISMATCH}


def test_cpu_jobs_go_to_cpu_pools_and_count_cores():
    snapshot = Snapshot((pool("gpu"), pool("cpu", model="CPU-X86", nodes=1, per_node=0, cpus=4, centre="hpc")))
    result = decide(snapshot, [job(f"c{i}", model=None, cpus=2, age=5 - i) for i in range(3)], "cheapest", T0)
    assert [(p.job_id, p.pool_id) for p in result.placements] == [("c0", "cpu"), ("c1", "cpu")]
    assert {r.pool_id: r.code for r in result.waiting["c2"]}["gpu"] is ReasonCode.STACK_MISMATCH


@pytest.mark.parametrize("policy", ["fifo", "slurm", "cheapest", "suanli"])
def test_a_fractional_core_job_fits_a_node_with_just_enough_fractional_cores_free(policy):
    # 3.7 cores free: a 3.5-core job fits, a 3.8-core one does not (the node is not skipped for having
    # fewer than 4 whole cores free)
    cpu = pool("cpu", model="CPU-X86", nodes=1, per_node=0, cpus=3.7, centre="hpc")
    fits = decide(Snapshot((cpu,)), [job("j", model=None, cpus=3.5)], policy, T0)
    assert [(p.job_id, p.pool_id) for p in fits.placements] == [("j", "cpu")]
    too_big = decide(Snapshot((cpu,)), [job("j", model=None, cpus=3.8)], policy, T0)
    assert not too_big.placements


def test_centre_allow_and_exclude_lists():
    snapshot = Snapshot((pool("p1", centre="c1", price="1"), pool("p2", centre="c2", price="2")))
    assert decide(snapshot, [job("j", exclude=("c1",))], "cheapest", T0).placements[0].pool_id == "p2"
    assert decide(snapshot, [job("j", allow=("c2",))], "cheapest", T0).placements[0].pool_id == "p2"


def test_decide_is_deterministic_and_does_not_touch_its_input():
    snapshot = Snapshot((pool("a", free=[4, 8]), pool("b", price="10", centre="c2")))
    jobs = [job(f"j{i}", per_node=(i % 3) + 1, nodes=1 + i % 2, age=i) for i in range(8)]
    first = decide(snapshot, jobs, "cheapest", T0)
    second = decide(snapshot, list(reversed(jobs)), "cheapest", T0)
    assert first.placements == second.placements
    assert snapshot.pools[0].free[0].accelerators == 4

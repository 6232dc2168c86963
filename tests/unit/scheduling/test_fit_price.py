"""The first policy on small hand-made snapshots, and properties that hold for any snapshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.accelerators import Stack
from suanli.domain.centres import CentreStatus
from suanli.domain.jobs.request import Option, ResourceRequest
from suanli.scheduling import decide
from suanli.scheduling.decisions import ReasonCode
from suanli.scheduling.snapshot import NodeFree, PendingJob, PoolState, Snapshot

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
STACKS = {"A100": Stack.CUDA, "H800": Stack.CUDA, "Ascend910B": Stack.CANN, "CPU-X86": Stack.CPU}


def pool(
    pid: str,
    model: str = "A100",
    nodes: int = 2,
    per_node: int = 8,
    price: str = "10",
    *,
    free: list[int] | None = None,
    centre: str = "c1",
    status: CentreStatus = CentreStatus.ONLINE,
    cpus: float = 64,
    memory: float = 512,
) -> PoolState:
    free_accel = free if free is not None else [per_node] * nodes
    return PoolState(
        pool_id=pid,
        pool_name=pid,
        centre_id=f"id-{centre}",
        centre_name=centre,
        model=model,
        stack=STACKS[model],
        accelerators_per_node=per_node,
        cpus_per_node=cpus,
        memory_gib_per_node=memory,
        node_count=nodes,
        free=tuple(NodeFree(a, cpus, memory) for a in free_accel),
        centre_status=status,
        price=Decimal(price),
        price_card_id=f"card-{pid}",
        preemptible_discount=Decimal("0.5"),
    )


def job(
    jid: str,
    model: str | None = "A100",
    per_node: int = 1,
    nodes: int = 1,
    *,
    priority: int = 50,
    age: int = 0,
    max_price: str | None = None,
    cpus: float = 1,
    memory: float = 1,
    preemptible: bool = False,
    allow: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
) -> PendingJob:
    options = (Option(model, per_node, STACKS[model]),) if model else ()
    return PendingJob(
        jid,
        "tenant",
        priority,
        T0 - timedelta(seconds=age),
        ResourceRequest(options, nodes, cpus, memory),
        preemptible,
        Decimal(max_price) if max_price else None,
        frozenset(allow),
        frozenset(exclude),
    )


def test_cheapest_pool_with_room_wins_and_the_choice_is_explained():
    snapshot = Snapshot((pool("dear", price="30"), pool("cheap", price="10"), pool("mid", price="20")))
    result = decide(snapshot, [job("j")], "fit-price", T0)
    (placement,) = result.placements
    assert placement.pool_id == "cheap" and placement.price == Decimal("10")
    assert "cheapest" in placement.explanation and "among 3 pools" in placement.explanation


def test_preemptible_jobs_pay_the_discounted_price():
    result = decide(Snapshot((pool("p", price="10"),)), [job("j", preemptible=True)], "fit-price", T0)
    assert result.placements[0].price == Decimal("5.0000")


def test_gang_takes_whole_nodes_in_one_pool_or_nothing():
    # 3 + 8 free: a 2 x 8 gang does not fit (never a partial gang), a 1 x 8 job does.
    snapshot = Snapshot((pool("p", free=[3, 8]),))
    result = decide(snapshot, [job("gang", per_node=8, nodes=2, age=10), job("small", per_node=8)], "fit-price", T0)
    assert [p.job_id for p in result.placements] == ["small"]
    assert result.placements[0].node_indices == (1,)
    (reason,) = result.waiting["gang"]
    assert reason.code is ReasonCode.INSUFFICIENT_CAPACITY
    assert "1 of 2 node(s) have room now" in reason.message


def test_gang_spans_distinct_nodes():
    result = decide(Snapshot((pool("p", nodes=4),)), [job("g", per_node=8, nodes=3)], "fit-price", T0)
    nodes = result.placements[0].node_indices
    assert len(nodes) == len(set(nodes)) == 3


def test_best_fit_keeps_whole_nodes_free():
    result = decide(Snapshot((pool("p", free=[8, 2]),)), [job("j", per_node=2)], "fit-price", T0)
    assert result.placements[0].node_indices == (1,)


def test_capacity_is_consumed_within_a_cycle():
    jobs = [job(f"j{i}", per_node=8, age=10 - i) for i in range(3)]
    result = decide(Snapshot((pool("p", nodes=2),)), jobs, "fit-price", T0)
    assert [p.job_id for p in result.placements] == ["j0", "j1"]
    assert "j2" in result.waiting


def test_higher_priority_goes_first_then_older():
    jobs = [
        job("old-low", per_node=8, priority=10, age=100),
        job("new-high", per_node=8, priority=90),
        job("old-mid", per_node=8, priority=50, age=50),
        job("new-mid", per_node=8, priority=50, age=1),
    ]
    result = decide(Snapshot((pool("p", nodes=2),)), jobs, "fit-price", T0)
    assert [p.job_id for p in result.placements] == ["new-high", "old-mid"]


def test_every_waiting_job_has_a_reason_per_pool():
    snapshot = Snapshot(
        (
            pool("busy", free=[0, 0]),
            pool("dear", price="99", centre="c2"),
            pool("down", centre="c3", status=CentreStatus.OFFLINE),
            pool("npu", model="Ascend910B", centre="c4"),
        )
    )
    result = decide(snapshot, [job("j", max_price="50")], "fit-price", T0)
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
    result = decide(snapshot, [job("j", per_node=16)], "fit-price", T0)
    assert not result.placements and "j" in result.rejected
    assert {r.code for r in result.rejected["j"]} == {ReasonCode.TOO_MANY_ACCELERATORS, ReasonCode.MODEL_MISMATCH}


def test_cpu_jobs_go_to_cpu_pools_and_count_cores():
    snapshot = Snapshot((pool("gpu"), pool("cpu", model="CPU-X86", nodes=1, per_node=0, cpus=4, centre="hpc")))
    result = decide(snapshot, [job(f"c{i}", model=None, cpus=2, age=5 - i) for i in range(3)], "fit-price", T0)
    assert [(p.job_id, p.pool_id) for p in result.placements] == [("c0", "cpu"), ("c1", "cpu")]
    assert {r.pool_id: r.code for r in result.waiting["c2"]}["gpu"] is ReasonCode.STACK_MISMATCH


def test_centre_allow_and_exclude_lists():
    snapshot = Snapshot((pool("p1", centre="c1", price="1"), pool("p2", centre="c2", price="2")))
    assert decide(snapshot, [job("j", exclude=("c1",))], "fit-price", T0).placements[0].pool_id == "p2"
    assert decide(snapshot, [job("j", allow=("c2",))], "fit-price", T0).placements[0].pool_id == "p2"


def test_decide_is_deterministic_and_does_not_touch_its_input():
    snapshot = Snapshot((pool("a", free=[4, 8]), pool("b", price="10", centre="c2")))
    jobs = [job(f"j{i}", per_node=(i % 3) + 1, nodes=1 + i % 2, age=i) for i in range(8)]
    first = decide(snapshot, jobs, "fit-price", T0)
    second = decide(snapshot, list(reversed(jobs)), "fit-price", T0)
    assert first.placements == second.placements
    assert snapshot.pools[0].free[0].accelerators == 4


# ------------------------------------------------------------------------------------------ properties

pools_strategy = st.lists(
    st.tuples(
        st.sampled_from(["A100", "H800", "Ascend910B"]), st.integers(1, 4), st.sampled_from([4, 8]), st.integers(1, 40)
    ),
    min_size=1,
    max_size=5,
)
jobs_strategy = st.lists(
    st.tuples(
        st.sampled_from(["A100", "H800", "Ascend910B"]),
        st.integers(1, 8),
        st.integers(1, 3),
        st.integers(0, 100),
        st.floats(1, 64),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(pools_strategy, jobs_strategy, st.data())
def test_no_decision_ever_overcommits_a_pool_or_splits_a_gang(pool_specs, job_specs, data):
    pools = []
    for i, (model, nodes, per_node, price) in enumerate(pool_specs):
        free = [data.draw(st.integers(0, per_node)) for _ in range(nodes)]
        pools.append(pool(f"p{i}", model, nodes, per_node, str(price), free=free, centre=f"c{i}"))
    jobs = [
        job(f"j{i}", model, per_node, nodes, priority=prio, age=i, cpus=cpus)
        for i, (model, per_node, nodes, prio, cpus) in enumerate(job_specs)
    ]
    result = decide(Snapshot(tuple(pools)), jobs, "fit-price", T0)
    by_id = {p.pool_id: p for p in pools}
    used: dict[tuple[str, int], list[float]] = {}
    for placement in result.placements:
        j = next(x for x in jobs if x.job_id == placement.job_id)
        assert len(placement.node_indices) == j.request.nodes == len(set(placement.node_indices))
        assert by_id[placement.pool_id].model == j.request.options[0].model
        for node in placement.node_indices:
            acc = used.setdefault((placement.pool_id, node), [0, 0.0])
            acc[0] += placement.per_node
            acc[1] += placement.cpus_per_node
    for (pid, node), (accel, cpus) in used.items():
        assert accel <= by_id[pid].free[node].accelerators
        assert cpus <= by_id[pid].free[node].cpus
    placed = {p.job_id for p in result.placements}
    assert placed.isdisjoint(result.waiting) and placed.isdisjoint(result.rejected)
    assert placed | set(result.waiting) | set(result.rejected) == {j.job_id for j in jobs}

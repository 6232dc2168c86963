"""Properties every policy keeps, for any snapshot: no node over-committed, no gang split, every job
accounted for (placed, waiting with reasons, or rejected with reasons)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scheduling import decide
from suanli.scheduling.policies import policy_names
from suanli.scheduling.snapshot import Snapshot
from tests.unit.scheduling.builders import T0, job, pool, running

HOUR = 3600

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
        st.sampled_from([HOUR, 3 * HOUR, 12 * HOUR, 48 * HOUR]),  # max_runtime: backfill turns on it
    ),
    min_size=1,
    max_size=25,
)


@pytest.mark.parametrize("policy", policy_names())
@settings(max_examples=150, deadline=None)
@given(pools_strategy, jobs_strategy, st.data())
def test_no_decision_ever_overcommits_a_pool_or_splits_a_gang(policy, pool_specs, job_specs, data):
    pools, held = [], []
    for i, (model, nodes, per_node, price) in enumerate(pool_specs):
        free = [data.draw(st.integers(0, per_node)) for _ in range(nodes)]
        pools.append(pool(f"p{i}", model, nodes, per_node, str(price), free=free, centre=f"c{i}"))
        # what is not free is held by running jobs that end at different times: reservations and backfill
        for n, f in enumerate(free):
            if f < per_node:
                ends = data.draw(st.integers(1, 24)) * HOUR
                held.append(running(f"r{i}-{n}", f"p{i}", (n,), per_node - f, ends_in=ends))
    jobs = [
        job(f"j{i}", model, per_node, nodes, priority=prio, age=i, cpus=cpus, max_runtime=limit)
        for i, (model, per_node, nodes, prio, cpus, limit) in enumerate(job_specs)
    ]
    result = decide(Snapshot(tuple(pools), tuple(held)), jobs, policy, T0)
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

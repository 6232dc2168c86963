"""Properties every policy keeps, for any snapshot: no node over-committed, no gang split, every job
accounted for (placed, waiting with reasons, or rejected with reasons), and no reservation delayed by what
starts in the cycle that made it."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scheduling import decide, fit
from suanli.scheduling.decisions import ReasonCode
from suanli.scheduling.evaluate import Cycle
from suanli.scheduling.policies import policy_names
from suanli.scheduling.snapshot import PendingJob, PoolState, RunningJob, Snapshot
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


def _city(pool_specs, job_specs, data) -> tuple[list[PoolState], list[RunningJob], list[PendingJob]]:
    pools, held = [], []
    for i, (model, nodes, per_node, price) in enumerate(pool_specs):
        free = [data.draw(st.integers(0, per_node)) for _ in range(nodes)]
        pools.append(pool(f"p{i}", model, nodes, per_node, str(price), free=free, centre=f"c{i}"))
        # what is not free is held by running jobs that end at different times: reservations and backfill
        for n, f in enumerate(free):
            if f < per_node:
                ends = data.draw(st.integers(1, 24)) * HOUR
                overrun = data.draw(st.sampled_from([0, 0, 6 * HOUR]))  # some may run on past their estimate
                held.append(running(f"r{i}-{n}", f"p{i}", (n,), per_node - f, ends_in=ends, deadline_in=ends + overrun))
    jobs = []
    for i, (model, per_node, nodes, prio, cpus, limit) in enumerate(job_specs):
        # some jobs come with a runtime estimate shorter than their limit (the estimate is what suanli plans on)
        share = data.draw(st.sampled_from([None, 0.25, 0.9]))
        guess = {model: share * limit} if share else None
        spec = {"priority": prio, "age": i, "cpus": cpus, "max_runtime": limit, "estimates": guess}
        jobs.append(job(f"j{i}", model, per_node, nodes, **spec))
    return pools, held, jobs


@pytest.mark.parametrize("policy", policy_names())
@settings(max_examples=150, deadline=None)
@given(pools_strategy, jobs_strategy, st.data())
def test_no_decision_ever_overcommits_a_pool_or_splits_a_gang(policy, pool_specs, job_specs, data):
    pools, held, jobs = _city(pool_specs, job_specs, data)
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
    everywhere = sorted(by_id)
    for job_id, reasons in (*result.waiting.items(), *result.rejected.items()):
        assert sorted(r.pool_id for r in reasons) == everywhere, job_id  # one reason per pool, every pool
        promised = [r.pool_id for r in reasons if r.code is ReasonCode.RESERVED]
        assert promised == ([result.reserved[job_id]] if job_id in result.reserved else []), job_id
    assert placed | set(result.waiting) | set(result.rejected) == {j.job_id for j in jobs}


STARTS = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC")


@pytest.mark.parametrize("policy", ["suanli", "slurm"])
@settings(max_examples=200, deadline=None)
@given(pools_strategy, jobs_strategy, st.data())
def test_nothing_started_in_a_cycle_delays_a_reservation_it_made(policy, pool_specs, job_specs, data):
    # with the jobs started this cycle holding their nodes as the policy reckons (expected ends for suanli, which
    # reserves on them, deadlines for slurm), each reserved job can still start in its pool when it was promised
    pools, held, jobs = _city(pool_specs, job_specs, data)
    snapshot = Snapshot(tuple(pools), tuple(held))
    result = decide(snapshot, jobs, policy, T0)
    by_id = {j.job_id: j for j in jobs}
    after = Cycle(snapshot, T0)
    for placement in result.placements:
        placed = by_id[placement.job_id]
        placed = placed if policy == "suanli" else replace(placed, estimates={})
        after.place(placed, after.pools[placement.pool_id], placement.node_indices, "")
    for job_id, pool_id in result.reserved.items():
        (reason,) = [r for r in result.waiting[job_id] if r.pool_id == pool_id]
        found = STARTS.search(reason.message) if reason.code is ReasonCode.RESERVED else None
        if found is None:
            continue  # its reason is another promise (room being made by preemption)
        promised = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        j, p = by_id[job_id], after.pools[pool_id]
        accel, cpus, mem = fit.demand_per_node(j, p)
        start = after.timelines[pool_id].earliest_start(
            after.free[pool_id], j.request.nodes, accel, cpus, mem, 60, T0, expected=policy == "suanli"
        )
        assert start is not None and start[0] <= promised + timedelta(minutes=1), (job_id, pool_id)

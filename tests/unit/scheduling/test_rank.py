"""`rank` (vectorised) orders jobs exactly as the fair order it documents, written out plainly here: priority,
then the jobs that fit in what is left of their tenant's quota, then each tenant's turn counter (its standing,
growing by each job's size over its weight, taken in highest-response-ratio order within the tenant), then the
response ratio, then the id."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scheduling.evaluate import Cycle
from suanli.scheduling.fairness import TenantShare
from suanli.scheduling.ranking import USAGE_WINDOW_S, rank
from suanli.scheduling.snapshot import Snapshot
from tests.unit.scheduling.builders import T0, job, pool

TENANTS = ["t0", "t1", "t2", "t3"]

jobs_strategy = st.lists(
    st.tuples(
        st.sampled_from(TENANTS),
        st.sampled_from([50, 50, 80]),
        st.integers(0, 20_000),  # age in seconds
        st.sampled_from([1, 2, 4, 8]),  # accelerators per node
        st.sampled_from([1, 2]),  # nodes
        st.sampled_from([600.0, 3600.0, 7200.0, 36_000.0]),  # estimate on A100
    ),
    max_size=40,
)
shares_strategy = st.dictionaries(
    st.sampled_from(TENANTS),
    st.tuples(st.sampled_from([0.5, 1.0, 2.0]), st.floats(0, 5e6), st.integers(0, 16), st.sampled_from([0, 8, 20])),
)


def plain_rank(snapshot, pending):
    now = T0.timestamp()

    def ratio(j):
        best = j.quickest
        return (max(0.0, now - j.submitted_ts) + best) / max(best, 60.0)

    within = sorted(pending, key=lambda j: (-j.priority, j.tenant_id, -ratio(j), j.submitted_ts, j.job_id))
    turn, counter, group = {}, 0.0, None
    for j in within:
        share = snapshot.tenants.get(j.tenant_id)
        weight = share.weight if share is not None and share.weight > 0 else 1.0
        if (j.priority, j.tenant_id) != group:
            group = (j.priority, j.tenant_id)
            counter = (share.held + share.usage / USAGE_WINDOW_S) / weight if share is not None else 0.0
        turn[j.job_id] = counter
        counter += j.request.size / weight
    # in each tenant's own order, a job inside the quota takes its cards from what the tenant has left of it
    left = {t: s.quota - s.held for t, s in snapshot.tenants.items() if s.quota > 0 and s.held < s.quota}
    inside = set()
    for j in within:
        if j.tenant_id in left and left[j.tenant_id] >= 1 and j.request.size <= left[j.tenant_id]:
            inside.add(j.job_id)
            left[j.tenant_id] -= j.request.size
    return sorted(pending, key=lambda j: (-j.priority, j.job_id not in inside, turn[j.job_id], -ratio(j), j.job_id))


@settings(max_examples=150, deadline=None)
@given(jobs_strategy, shares_strategy)
def test_rank_is_the_documented_fair_order(rows, shares):
    pending = [
        job(f"j{i:03d}", per_node=a, nodes=n, tenant=t, priority=p, age=age, estimates={"A100": est})
        for i, (t, p, age, a, n, est) in enumerate(rows)
    ]
    tenants = {
        t: TenantShare(t, weight=w, usage=u, held=float(h), quota=float(q)) for t, (w, u, h, q) in shares.items()
    }
    snapshot = Snapshot((pool("a", nodes=4),), (), tenants)
    ranked = rank(snapshot, pending, Cycle(snapshot, T0), T0)
    assert [j.job_id for j in ranked] == [j.job_id for j in plain_rank(snapshot, pending)]


def test_only_the_jobs_that_fit_in_what_is_left_of_a_quota_go_ahead_of_other_tenants():
    # "big" is guaranteed 8 cards and holds 2: of its backlog, one 4-card job fits (then 2 are left, too few for
    # the next 4-card one, but enough for a 2-card one); the rest queues with "small" by the fair order
    tenants = {"big": TenantShare("big", held=2.0, quota=8.0, usage=1e7), "small": TenantShare("small")}
    pending = [job(f"b{i}", per_node=4, tenant="big", age=1000 - i) for i in range(4)]
    pending += [job("b-two", per_node=2, tenant="big", age=10), job("s0", per_node=4, tenant="small", age=5)]
    snapshot = Snapshot((pool("a", nodes=4),), (), tenants)
    ranked = [j.job_id for j in rank(snapshot, pending, Cycle(snapshot, T0), T0)]
    assert ranked[:3] == ["b0", "b-two", "s0"]  # before: every job of "big" went ahead of "s0"

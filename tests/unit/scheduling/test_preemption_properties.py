"""Properties of preemption, for any snapshot of preemptible, stopping and borrowed work: only jobs that may
be stopped are, each for a job whose rank allows it, never one that the room does not need, and the room counted
on never exceeds what the stopped (and already stopping) jobs and the free nodes hold."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scheduling import decide
from suanli.scheduling.capacity import PoolFree
from suanli.scheduling.decisions import ReasonCode
from suanli.scheduling.fairness import TenantShare
from suanli.scheduling.policies.suanli import MIN_RUN_BEFORE_PREEMPT_S
from suanli.scheduling.snapshot import RunningJob, Snapshot
from tests.unit.scheduling.builders import T0, job, pool, running

HOUR = 3600
TENANTS = ("a", "b", "c")
NOTE = re.compile(r"waiting: (\d+)/(p\d+) room is being made")


@st.composite
def cities(draw: st.DrawFn) -> tuple[Snapshot, list]:
    pools, held = [], []
    for i in range(draw(st.integers(1, 3))):
        nodes = draw(st.integers(1, 3))
        free = []
        for n in range(nodes):
            left = 8
            for k in range(draw(st.integers(0, 2))):  # up to two jobs per node
                size = draw(st.sampled_from([2, 4, 8]))
                if size > left:
                    break
                left -= size
                held.append(
                    running(
                        f"r{i}-{n}-{k}",
                        f"p{i}",
                        (n,),
                        size,
                        ends_in=draw(st.integers(1, 12)) * HOUR,
                        tenant=draw(st.sampled_from(TENANTS)),
                        priority=draw(st.sampled_from([10, 50, 90])),
                        preemptible=draw(st.booleans()),
                        started_ago=draw(st.sampled_from([60, 600, 3 * HOUR])),
                        stopping=draw(st.integers(0, 4)) == 0,
                    )
                )
            free.append(left)
        pools.append(pool(f"p{i}", "A100", nodes, 8, str(draw(st.integers(1, 30))), free=free, centre=str(i)))
    shares = {}
    for t in TENANTS:
        held_compute = sum(r.per_node * len(r.node_indices) for r in held if r.tenant_id == t)
        shares[t] = TenantShare(t, held=float(held_compute), quota=float(draw(st.sampled_from([0, 4, 8, 16]))))
    waiting = [
        job(
            f"j{i}",
            per_node=draw(st.sampled_from([1, 4, 8])),
            nodes=draw(st.integers(1, 2)),
            priority=draw(st.sampled_from([10, 50, 90])),
            tenant=draw(st.sampled_from(TENANTS)),
            age=draw(st.integers(0, 2 * HOUR)),
            max_runtime=draw(st.sampled_from([HOUR, 12 * HOUR, 48 * HOUR])),
        )
        for i in range(draw(st.integers(1, 8)))
    ]
    return Snapshot(tuple(pools), tuple(held), shares), waiting


def _room(snapshot: Snapshot, pool_id: str, placed, given: list[RunningJob]) -> PoolFree:
    free = PoolFree(next(p for p in snapshot.pools if p.pool_id == pool_id))
    for p in placed:
        if p.pool_id == pool_id:
            free.take(p.node_indices, p.per_node, p.cpus_per_node, p.memory_gib_per_node)
    for r in given:
        free.give(r.node_indices, r.per_node, r.cpus, r.memory_gib)
    return free


@settings(max_examples=1000, deadline=None)
@given(cities())
def test_preemption_stops_only_what_may_be_stopped_and_only_what_the_room_needs(city):
    snapshot, waiting = city
    result = decide(snapshot, waiting, "suanli", T0)
    running_by_id = {r.job_id: r for r in snapshot.running}
    jobs_by_id = {j.job_id: j for j in waiting}
    placed = result.placements
    victims: dict[str, list[RunningJob]] = {}
    for p in result.preemptions:
        r = running_by_id[p.job_id]
        assert r.preemptible and not r.stopping
        assert (T0 - r.started_at).total_seconds() >= MIN_RUN_BEFORE_PREEMPT_S
        victims.setdefault(p.for_job, []).append(r)
    assert len({p.job_id for p in result.preemptions}) == len(result.preemptions)  # no job stopped twice
    # the jobs room is made for, in rank order, and the pool each counts on
    claims = {}
    for job_id, note in result.notes.items():
        found = NOTE.match(note)
        if found:
            claims[job_id] = found.group(2)
    assert set(victims) <= set(claims)
    everywhere = sorted(p.pool_id for p in snapshot.pools)
    for job_id, reasons in result.waiting.items():
        assert sorted(r.pool_id for r in reasons) == everywhere  # one reason per pool
        promised = {r.pool_id for r in reasons if r.code is ReasonCode.RESERVED}
        assert promised == {result.reserved.get(job_id), claims.get(job_id)} - {None}, job_id
    for job_id, stopped in victims.items():
        j = jobs_by_id[job_id]
        assert job_id in result.waiting
        assert {r.pool_id for r in stopped} == {claims[job_id]}  # one pool
        share = snapshot.tenants[j.tenant_id]
        for r in stopped:
            theirs = snapshot.tenants[r.tenant_id]
            reclaim = (
                0 < share.quota
                and share.held < share.quota
                and 0 < theirs.quota < theirs.held
                and r.tenant_id != j.tenant_id
                and r.priority <= j.priority
            )
            assert r.priority < j.priority or reclaim
        if next(k for k, p in claims.items() if p == claims[job_id]) != job_id:
            continue  # later claims in a pool count on what the earlier left: not known here
        accel, cpus, mem = j.request.demand_on("A100")
        for r in stopped:  # none stopped that the room does not need
            rest = [v for v in stopped if v is not r]
            assert _room(snapshot, claims[job_id], placed, rest).fit(j.request.nodes, accel, cpus, mem) is None
    # all that is counted on fits, in sum, in what is free, stopped and already stopping in each pool
    for pool_id in set(claims.values()):
        going = [r for r in snapshot.running if r.pool_id == pool_id and r.stopping]
        stopped = [r for rs in victims.values() for r in rs if r.pool_id == pool_id]
        room = _room(snapshot, pool_id, placed, going + stopped)
        wanted = sum(
            jobs_by_id[j].request.nodes * jobs_by_id[j].request.demand_on("A100")[0]
            for j, p in claims.items()
            if p == pool_id
        )
        assert wanted <= room.total_free_accelerators

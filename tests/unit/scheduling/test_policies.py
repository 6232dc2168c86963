"""Each policy's defining rules on small hand-made snapshots."""

from __future__ import annotations

from datetime import timedelta

from suanli.scheduling import decide
from suanli.scheduling.decisions import ReasonCode
from suanli.scheduling.evaluate import Cycle
from suanli.scheduling.fairness import TenantShare, normalised
from suanli.scheduling.policies.slurm import Slurm
from suanli.scheduling.policies.suanli import RESERVE_TOP
from suanli.scheduling.snapshot import Snapshot
from tests.unit.scheduling.builders import T0, job, pool, running

HOUR = 3600


# ------------------------------------------------------------------------------------------ fifo


def test_fifo_never_lets_a_later_job_overtake_on_a_pool_it_waits_for():
    snapshot = Snapshot((pool("a100", free=[4, 0]),))
    jobs = [job("big", per_node=8, age=20), job("small", per_node=2, age=10)]
    result = decide(snapshot, jobs, "fifo", T0)
    assert result.placements == ()
    (reason,) = result.waiting["small"]
    assert reason.code is ReasonCode.LOWER_RANK and "behind job big" in reason.message


def test_fifo_lets_a_later_job_use_a_pool_nobody_earlier_waits_for():
    snapshot = Snapshot((pool("a100", free=[0, 0]), pool("npu", "Ascend910B", centre="c2")))
    jobs = [job("gpu", per_node=8, age=20), job("npu", "Ascend910B", per_node=8, age=10)]
    assert [p.job_id for p in decide(snapshot, jobs, "fifo", T0).placements] == ["npu"]


# ------------------------------------------------------------------------------------------ slurm


def test_slurm_priority_keeps_its_factors_like_sprio():
    tenants = {"heavy": TenantShare("heavy", usage=900.0), "light": TenantShare("light", usage=100.0)}
    usage, weight = normalised(tenants)
    heavy = Slurm().priority(job("h", tenant="heavy", age=86400), T0, usage, weight, 16)
    light = Slurm().priority(job("l", tenant="light", age=0), T0, usage, weight, 16)
    assert set(heavy.breakdown) == {"qos", "age", "fairshare", "jobsize"}
    assert heavy.breakdown["age"] > light.breakdown["age"]
    assert light.breakdown["fairshare"] > heavy.breakdown["fairshare"]
    assert light.total > heavy.total  # fair-share weighs ten times age
    assert abs(heavy.total - sum(heavy.breakdown.values())) < 1e-9


def test_slurm_starts_in_the_first_partition_with_room_and_reserves_for_the_first_blocked_job():
    snapshot = Snapshot(
        (pool("a", free=[0, 0]), pool("b", centre="c2", free=[8, 0])),
        (running("r", "a", (0, 1), 8, ends_in=HOUR), running("s", "b", (1,), 8, ends_in=3 * HOUR)),
    )
    jobs = [job("gang", per_node=8, nodes=2, age=100), job("one", per_node=8, age=50, max_runtime=4 * HOUR)]
    result = decide(snapshot, jobs, "slurm", T0)
    # the gang would start at +1 h in pool a (deadlines): reserved there; `one` may take pool b now
    assert [(p.job_id, p.pool_id) for p in result.placements] == [("one", "b")]
    (reason,) = [r for r in result.waiting["gang"] if r.pool_id == "a"]
    assert reason.code is ReasonCode.RESERVED


# ------------------------------------------------------------------------------------------ suanli


def test_suanli_takes_the_pool_that_finishes_soonest():
    snapshot = Snapshot((pool("a100", price="10"), pool("h800", "H800", price="25", centre="c2")))
    fast = job("j", alternatives=("H800",), estimates={"A100": 3 * HOUR, "H800": HOUR})
    (placement,) = decide(snapshot, [fast], "suanli", T0).placements
    assert placement.pool_id == "h800" and "finishes in ~1.0 h" in placement.explanation


def test_suanli_takes_the_cheapest_of_pools_about_as_fast():
    snapshot = Snapshot((pool("a100", price="11"), pool("h800", "H800", price="25", centre="c2")))
    close = job("j", alternatives=("H800",), estimates={"A100": 1.1 * HOUR, "H800": HOUR})
    (placement,) = decide(snapshot, [close], "suanli", T0).placements
    assert placement.pool_id == "a100" and "the cheapest of those" in placement.explanation


def test_suanli_puts_the_tenant_furthest_below_its_share_first():
    snapshot = Snapshot(
        (pool("p", nodes=1),),
        (),
        {
            "heavy": TenantShare("heavy", held=40.0),
            "light": TenantShare("light", held=0.0),
        },
    )
    jobs = [job("h", per_node=8, tenant="heavy", age=1000), job("l", per_node=8, tenant="light", age=10)]
    assert [p.job_id for p in decide(snapshot, jobs, "suanli", T0).placements] == ["l"]


def test_suanli_short_jobs_go_first_within_a_tenant_and_long_waits_age_forward():
    snapshot = Snapshot((pool("p", nodes=1),))
    short = job("short", per_node=8, age=600, estimates={"A100": 600})
    long_new = job("long-new", per_node=8, age=600, estimates={"A100": 10 * HOUR})
    assert decide(snapshot, [long_new, short], "suanli", T0).placements[0].job_id == "short"
    long_old = job("long-old", per_node=8, age=30 * HOUR, estimates={"A100": 10 * HOUR})  # ratio 4 > short's 2
    assert decide(snapshot, [short, long_old], "suanli", T0).placements[0].job_id == "long-old"


def test_suanli_preempts_lower_priority_preemptible_gangs_whole_and_never_equals():
    snapshot = Snapshot(
        (pool("p", free=[0, 0]),),
        (
            running("cheap", "p", (0, 1), 8, ends_in=9 * HOUR, priority=10, preemptible=True),
            running("peer", "p", (), 0, ends_in=9 * HOUR, priority=90, preemptible=True),
        ),
    )
    urgent = job("urgent", per_node=8, nodes=2, priority=90)
    result = decide(snapshot, [urgent], "suanli", T0)
    assert [(p.job_id, p.for_job) for p in result.preemptions] == [("cheap", "urgent")]
    assert "room is being made" in result.notes["urgent"]
    equal = job("equal", per_node=8, nodes=2, priority=10)
    assert decide(snapshot, [equal], "suanli", T0).preemptions == ()


def test_suanli_reclaims_quota_from_borrowing_tenants():
    snapshot = Snapshot(
        (pool("p", nodes=1, free=[0]),),
        (running("borrowed", "p", (0,), 8, ends_in=9 * HOUR, tenant="greedy", preemptible=True),),
        {"greedy": TenantShare("greedy", held=8.0, quota=2.0), "owner": TenantShare("owner", held=0.0, quota=8.0)},
    )
    result = decide(snapshot, [job("mine", per_node=8, tenant="owner")], "suanli", T0)
    assert [p.job_id for p in result.preemptions] == ["borrowed"]
    assert "reclaims its quota" in result.preemptions[0].reason


def test_suanli_reclaims_quota_from_preemptible_work_of_tenants_without_one():
    # a tenant without a quota holds only borrowed capacity: a contracted tenant inside its quota takes it back
    snapshot = Snapshot(
        (pool("p", nodes=1, free=[0]),),
        (running("cheap", "p", (0,), 8, ends_in=9 * HOUR, tenant="walk-in", preemptible=True),),
        {"walk-in": TenantShare("walk-in", held=8.0), "owner": TenantShare("owner", held=0.0, quota=8.0)},
    )
    result = decide(snapshot, [job("mine", per_node=8, tenant="owner")], "suanli", T0)
    assert [(p.job_id, p.for_job) for p in result.preemptions] == [("cheap", "mine")]
    # a tenant without a quota has nothing to reclaim: the walk-in's equal-priority job stops nothing
    reverse = Snapshot(
        (pool("p", nodes=1, free=[0]),),
        (running("held", "p", (0,), 8, ends_in=9 * HOUR, tenant="owner", preemptible=True),),
        {"walk-in": TenantShare("walk-in", held=0.0), "owner": TenantShare("owner", held=8.0, quota=8.0)},
    )
    assert decide(reverse, [job("theirs", per_node=8, tenant="walk-in")], "suanli", T0).preemptions == ()


def test_suanli_protects_a_requeued_job_longer_each_time_and_never_stops_one_with_no_requeue_left():
    def stops(**kw: object) -> list[str]:
        snapshot = Snapshot(
            (pool("p", nodes=1, free=[0]),),
            (running("spot", "p", (0,), 8, ends_in=9 * HOUR, priority=10, preemptible=True, **kw),),  # type: ignore[arg-type]
        )
        return [p.job_id for p in decide(snapshot, [job("urgent", per_node=8, priority=90)], "suanli", T0).preemptions]

    assert stops(started_ago=600) == ["spot"]  # never requeued: 5 minutes of running suffice
    assert stops(started_ago=600, requeues=2) == []  # requeued twice: protected for 20 minutes
    assert stops(started_ago=25 * 60, requeues=2) == ["spot"]
    assert stops(started_ago=10 * HOUR, requeues=2, requeues_left=0) == []  # a stop would fail it


def test_suanli_explains_reservations_with_the_expected_start():
    snapshot = Snapshot(
        (pool("p", nodes=1, free=[0]),), (running("r", "p", (0,), 8, ends_in=2 * HOUR, deadline_in=8 * HOUR),)
    )
    result = decide(snapshot, [job("next", per_node=8)], "suanli", T0)
    (reason,) = result.waiting["next"]
    assert reason.code is ReasonCode.RESERVED and "expected to start in 2.0 h" in reason.message
    assert (T0 + timedelta(hours=2)).strftime("%H:%M") in result.notes["next"]


def test_suanli_gives_reserved_jobs_their_own_reasons_and_the_rest_of_their_shape_the_pool_s():
    snapshot = Snapshot(
        (pool("p", nodes=1, free=[0]),), (running("r", "p", (0,), 8, ends_in=2 * HOUR, deadline_in=8 * HOUR),)
    )
    jobs = [job(f"j{i}", per_node=8, age=1000 - i, max_runtime=HOUR) for i in range(RESERVE_TOP + 2)]
    result = decide(snapshot, jobs, "suanli", T0)
    starts = []
    for i in range(RESERVE_TOP):
        (reason,) = result.waiting[f"j{i}"]
        assert reason.code is ReasonCode.RESERVED
        starts.append(reason.message)
    assert len(set(starts)) == RESERVE_TOP  # each its own promise, one after another
    for i in (RESERVE_TOP, RESERVE_TOP + 1):
        (reason,) = result.waiting[f"j{i}"]
        assert reason.code is ReasonCode.INSUFFICIENT_CAPACITY and "0 of 1 node(s) have room" in reason.message
        assert f"j{i}" not in result.notes


def _two_busy_pools(ends_a: float, ends_b: float) -> tuple:
    pools = (pool("a", nodes=1, free=[0]), pool("b", nodes=1, free=[0], centre="c2"))
    runs = (running("ra", "a", (0,), 8, ends_in=ends_a), running("rb", "b", (0,), 8, ends_in=ends_b))
    return pools, runs


def test_suanli_reserves_in_the_pool_that_finishes_soonest_and_says_which():
    pools, runs = _two_busy_pools(ends_a=3 * HOUR, ends_b=2 * HOUR)
    result = decide(Snapshot(pools, runs), [job("big", per_node=8)], "suanli", T0)
    assert result.reserved == {"big": "b"}


def test_suanli_keeps_a_reservation_in_last_cycles_pool_unless_another_is_much_sooner():
    # pool b would finish the job (1 h) at 10 h, a at 11 h, where it held its reservation last cycle: it stays
    big = job("big", per_node=8, max_runtime=HOUR)
    pools, runs = _two_busy_pools(ends_a=10 * HOUR, ends_b=9 * HOUR)
    kept = decide(Snapshot(pools, runs, reserved={"big": "a"}), [big], "suanli", T0)
    assert kept.reserved == {"big": "a"}
    assert "c1/a" in kept.notes["big"]
    # b now finishes it at 6 h, over 25% sooner: the reservation moves
    pools, runs = _two_busy_pools(ends_a=10 * HOUR, ends_b=5 * HOUR)
    moved = decide(Snapshot(pools, runs, reserved={"big": "a"}), [big], "suanli", T0)
    assert moved.reserved == {"big": "b"}


def test_a_reservation_that_has_slipped_since_it_was_first_promised_says_so():
    big = job("big", per_node=8, max_runtime=HOUR)
    pools, runs = _two_busy_pools(ends_a=10 * HOUR, ends_b=9 * HOUR)
    first = T0 + timedelta(hours=6)  # promised in pool a an earlier cycle, when the work there was to end sooner
    slipped = decide(Snapshot(pools, runs, reserved={"big": "a"}, promised={"big": first}), [big], "suanli", T0)
    assert slipped.reserved == {"big": "a"} and slipped.starts == {"big": T0 + timedelta(hours=10)}
    assert slipped.notes["big"].endswith(
        "first expected at 2026-11-01 14:00 UTC, 4.0 h later now, as the work there has run longer than expected"
    )
    # within the hour it may slip unsaid
    nearly = T0 + timedelta(hours=9, minutes=30)
    result = decide(Snapshot(pools, runs, reserved={"big": "a"}, promised={"big": nearly}), [big], "suanli", T0)
    assert "first expected" not in result.notes["big"]
    # a promise made in another pool says nothing of this one: held in b (from 1 h), it moves to a, sooner by far
    pools, runs = _two_busy_pools(ends_a=2 * HOUR, ends_b=9 * HOUR)
    early = T0 + timedelta(hours=1)
    moved = decide(Snapshot(pools, runs, reserved={"big": "b"}, promised={"big": early}), [big], "suanli", T0)
    assert moved.reserved == {"big": "a"} and "first expected" not in moved.notes["big"]


def test_suanli_preempts_only_the_jobs_whose_stopping_makes_the_room():
    # node 0 holds two half-node jobs, node 1 one whole-node job; the least work lost first is "small" on node 0,
    # which alone frees no whole node: stopping "whole" on node 1 suffices, and "small" is left to run
    snapshot = Snapshot(
        (pool("p", free=[0, 0]),),
        (
            running("small", "p", (0,), 4, ends_in=9 * HOUR, priority=10, preemptible=True, started_ago=400),
            running("old", "p", (0,), 4, ends_in=9 * HOUR, priority=10, preemptible=True, started_ago=HOUR),
            running("whole", "p", (1,), 8, ends_in=9 * HOUR, priority=10, preemptible=True, started_ago=400),
        ),
    )
    result = decide(snapshot, [job("urgent", per_node=8, priority=90)], "suanli", T0)
    assert [p.job_id for p in result.preemptions] == ["whole"]


def test_suanli_reclaims_no_more_than_the_quota_so_tenants_never_take_a_pool_in_turn():
    # each tenant is guaranteed 4 A100s; an 8-card job of one would leave it borrowing 4, so reclaiming for it
    # would only hand the other tenant the same claim next cycle (a preemption loop)
    def shares(holder: str) -> dict[str, TenantShare]:
        other = "b" if holder == "a" else "a"
        return {holder: TenantShare(holder, held=8.0, quota=4.0), other: TenantShare(other, held=0.0, quota=4.0)}

    for holder, claimant in (("a", "b"), ("b", "a")):
        snapshot = Snapshot(
            (pool("p", nodes=1, free=[0]),),
            (running("held", "p", (0,), 8, ends_in=9 * HOUR, tenant=holder, preemptible=True),),
            shares(holder),
        )
        result = decide(snapshot, [job("claim", per_node=8, tenant=claimant)], "suanli", T0)
        assert result.preemptions == ()


def test_suanli_reclaims_for_a_tenant_only_up_to_its_quota_in_one_cycle():
    snapshot = Snapshot(
        (pool("p", nodes=2, free=[0, 0]),),
        (
            running("g1", "p", (0,), 8, ends_in=9 * HOUR, tenant="greedy", preemptible=True),
            running("g2", "p", (1,), 8, ends_in=9 * HOUR, tenant="greedy", preemptible=True, started_ago=900),
        ),
        {"greedy": TenantShare("greedy", held=16.0, quota=2.0), "owner": TenantShare("owner", held=0.0, quota=8.0)},
    )
    mine = [job("mine1", per_node=8, tenant="owner"), job("mine2", per_node=8, tenant="owner")]
    result = decide(snapshot, mine, "suanli", T0)
    assert [(p.job_id, p.for_job) for p in result.preemptions] == [("g1", "mine1")]


def test_room_made_by_priority_counts_against_the_quota_a_later_reclaim_may_use():
    snapshot = Snapshot(
        (pool("p", nodes=2, free=[0, 0]),),
        (
            running("low", "p", (0,), 8, ends_in=9 * HOUR, tenant="other", priority=10, preemptible=True),
            running("borrowed", "p", (1,), 8, ends_in=9 * HOUR, tenant="greedy", preemptible=True),
        ),
        {
            "greedy": TenantShare("greedy", held=8.0, quota=2.0),
            "other": TenantShare("other", held=8.0),
            "owner": TenantShare("owner", held=0.0, quota=8.0),
        },
    )
    urgent = job("urgent", per_node=8, tenant="owner", priority=90)
    mine = job("mine", per_node=8, tenant="owner")
    result = decide(snapshot, [urgent, mine], "suanli", T0)
    assert [(p.job_id, p.for_job) for p in result.preemptions] == [("low", "urgent")]


def test_suanli_counts_on_the_room_of_jobs_already_stopping_and_stops_no_more():
    # "going" was asked to stop last cycle and still runs (a stop takes a few cycles): its node is the job's room,
    # so nothing else is stopped, though "half" alone would now make room on node 1
    snapshot = Snapshot(
        (pool("p", free=[0, 4]),),
        (
            running("going", "p", (0,), 8, ends_in=9 * HOUR, priority=10, preemptible=True, stopping=True),
            running("half", "p", (1,), 4, ends_in=9 * HOUR, priority=10, preemptible=True),
        ),
    )
    result = decide(snapshot, [job("urgent", per_node=8, priority=90)], "suanli", T0)
    assert result.preemptions == ()
    assert "room is being made" in result.notes["urgent"] and "already stopping" in result.notes["urgent"]


def test_suanli_gives_the_room_of_a_stopping_job_to_one_waiting_job_only():
    snapshot = Snapshot(
        (pool("p", free=[0, 0]),),
        (
            running("going", "p", (0,), 8, ends_in=9 * HOUR, priority=10, preemptible=True, stopping=True),
            running("low", "p", (1,), 8, ends_in=9 * HOUR, priority=10, preemptible=True),
        ),
    )
    first, second = job("first", per_node=8, priority=90, age=60), job("second", per_node=8, priority=90)
    result = decide(snapshot, [first, second], "suanli", T0)
    assert [(p.job_id, p.for_job) for p in result.preemptions] == [("low", "second")]


def test_a_stopping_job_is_expected_to_leave_now_not_at_its_estimate():
    p = pool("p", nodes=1, free=[0])
    for stopping, start in ((False, T0 + timedelta(hours=5)), (True, T0)):
        snapshot = Snapshot((p,), (running("cancelled", "p", (0,), 8, ends_in=5 * HOUR, stopping=stopping),))
        assert Cycle(snapshot, T0).predicted_start(job("next", per_node=8), p) == start


def test_suanli_stops_nothing_for_a_job_that_has_room_but_would_delay_a_reservation():
    # "one" fits node 0 now but, held 24 h, would delay the gang reserved on all three nodes: it waits, and
    # stopping "low" would give it nothing it lacks (this once made the cycle fail with an empty victims list)
    snapshot = Snapshot(
        (pool("p", nodes=3, free=[8, 0, 0]),),
        (
            running("low", "p", (1,), 8, ends_in=9 * HOUR, priority=10, preemptible=True),
            running("steady", "p", (2,), 8, ends_in=HOUR, priority=50),
        ),
    )
    gang = job("gang", per_node=8, nodes=3, priority=90, age=600)
    one = job("one", per_node=8, priority=90, max_runtime=24 * HOUR)
    result = decide(snapshot, [gang, one], "suanli", T0)
    assert result.placements == () and result.preemptions == ()
    assert "room is being made" not in result.notes["one"]


def test_suanli_never_counts_the_same_free_room_for_two_jobs_it_preempts_for():
    # node 0's four free cards and "v1" make the room of "whole"; "pair" cannot count on those free cards too
    # (stopping "v2" for it would free half a node it could not use)
    snapshot = Snapshot(
        (pool("p", free=[4, 0]),),
        (
            running("v1", "p", (0,), 4, ends_in=9 * HOUR, priority=10, preemptible=True),
            running("v2", "p", (1,), 4, ends_in=9 * HOUR, priority=10, preemptible=True),
            running("steady", "p", (1,), 4, ends_in=9 * HOUR, priority=50),
        ),
    )
    whole = job("whole", per_node=8, priority=90, age=60)
    pair = job("pair", per_node=4, nodes=2, priority=90)
    result = decide(snapshot, [whole, pair], "suanli", T0)
    assert [(p.job_id, p.for_job) for p in result.preemptions] == [("v1", "whole")]
    assert "room is being made" not in result.notes.get("pair", "")


def test_suanli_shows_both_promises_of_a_job_reserved_in_one_pool_and_given_room_in_another():
    snapshot = Snapshot(
        (pool("a", nodes=1, free=[0]), pool("b", nodes=1, free=[0], centre="c2")),
        (
            running("busy", "a", (0,), 8, ends_in=2 * HOUR),
            running("low", "b", (0,), 8, ends_in=9 * HOUR, priority=10, preemptible=True),
        ),
    )
    result = decide(snapshot, [job("urgent", per_node=8, priority=90)], "suanli", T0)
    assert [p.job_id for p in result.preemptions] == ["low"] and result.reserved == {"urgent": "a"}
    reasons = {r.pool_id: r for r in result.waiting["urgent"]}
    assert reasons["a"].code is reasons["b"].code is ReasonCode.RESERVED
    assert "expected to start in 2.0 h" in reasons["a"].message and "room is being made" in reasons["b"].message


def test_suanli_waits_a_little_for_a_much_faster_pool_and_says_what_it_gains():
    pools = (pool("slow", price="5"), pool("fast", model="H800", nodes=1, free=[0], centre="c2"))
    busy = (running("r", "fast", (0,), 8, ends_in=HOUR / 2),)
    estimates = {"A100": 10 * HOUR, "H800": 5 * HOUR}
    fresh = job("j", alternatives=("H800",), estimates=estimates)
    result = decide(Snapshot(pools, busy), [fresh], "suanli", T0)
    assert not result.placements and result.reserved == {"j": "fast"}
    slow, fast = sorted(result.waiting["j"], key=lambda r: r.pool_id, reverse=True)
    assert fast.code is ReasonCode.RESERVED
    # it ends at 5.5 h there against 10 h on the free A100s
    assert "~4.5 h sooner than starting now on c1/slow, where it would run ~10.0 h" in fast.message
    assert slow.code is ReasonCode.SLOWER and "c2/fast finishes the job ~4.5 h sooner" in slow.message
    # a wait longer than a tenth of the runtime is not bought: it starts now on the slower pool
    later = (running("r", "fast", (0,), 8, ends_in=2 * HOUR),)
    result = decide(Snapshot(pools, later), [fresh], "suanli", T0)
    assert [(p.job_id, p.pool_id) for p in result.placements] == [("j", "slow")]
    # ... nor once the job has already waited that long
    waited = job("j", alternatives=("H800",), estimates=estimates, age=2 * HOUR)
    result = decide(Snapshot(pools, busy), [waited], "suanli", T0)
    assert [(p.job_id, p.pool_id) for p in result.placements] == [("j", "slow")]


def test_a_pool_with_room_a_job_was_not_given_says_it_is_kept_for_jobs_ahead_not_busy():
    snapshot = Snapshot((pool("p", nodes=2, free=[0, 8]),), (running("r", "p", (0,), 8, ends_in=HOUR),))
    cycle = Cycle(snapshot, T0)
    (kept,) = cycle.reasons(job("one", per_node=8))  # node 1 has room, yet the job waits: a reservation holds it
    assert kept.code is ReasonCode.LOWER_RANK
    assert kept.message.startswith("room now on 1 of 2 node(s), but kept for jobs ahead")
    (busy,) = cycle.reasons(job("two", per_node=8, nodes=2))  # the gang needs both nodes: the pool is busy
    assert busy.code is ReasonCode.INSUFFICIENT_CAPACITY and "1 of 2 node(s) have room now" in busy.message

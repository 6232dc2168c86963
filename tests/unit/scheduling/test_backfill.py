"""Reservations and backfill on hand-made timelines: a reservation is never delayed by backfilling."""

from __future__ import annotations

from datetime import timedelta

from suanli.scheduling import decide
from suanli.scheduling.capacity import Hold, PoolFree, Timeline
from suanli.scheduling.evaluate import Cycle
from suanli.scheduling.snapshot import Snapshot
from tests.unit.scheduling.builders import T0, job, pool, running

HOUR = 3600


def timeline(free: list[int], holds: list[tuple[tuple[int, ...], int, float, float]]):
    p = pool("p", free=free)
    running_holds = [
        Hold(nodes, accel, 1, 1, T0 + timedelta(hours=exp), T0 + timedelta(hours=dl), f"r{i}")
        for i, (nodes, accel, exp, dl) in enumerate(holds)
    ]
    return PoolFree(p), Timeline(p, running_holds)


def test_earliest_start_follows_releases_by_deadline_or_expectation():
    free, line = timeline([0, 0], [((0,), 8, 1, 4), ((1,), 8, 2, 3)])
    assert line.earliest_start(free, 1, 8, 1, 1, HOUR, T0, expected=True)[0] == T0 + timedelta(hours=1)
    assert line.earliest_start(free, 1, 8, 1, 1, HOUR, T0, expected=False)[0] == T0 + timedelta(hours=3)
    assert line.earliest_start(free, 2, 8, 1, 1, HOUR, T0, expected=False)[0] == T0 + timedelta(hours=4)


def test_backfill_that_would_delay_the_reservation_is_refused():
    free, line = timeline([4, 0], [((0,), 4, 2, 2), ((1,), 8, 2, 2)])  # node 0: 4 free now; all free at +2 h
    reservation = line.reserve("gang", free, 2, 8, 1, 1, 10 * HOUR, T0)
    assert reservation is not None and reservation.start == T0 + timedelta(hours=2)
    # a 4-GPU job on node 0 running until +1 h ends before the gang needs the node: fine
    assert line.backfill_ok((0,), T0 + timedelta(hours=1), 4, 1, 1, T0)
    # the same job running until +3 h would still hold node 0 when the gang starts: refused
    assert not line.backfill_ok((0,), T0 + timedelta(hours=3), 4, 1, 1, T0)


def test_backfill_may_use_what_the_reservation_leaves_over():
    free, line = timeline([8, 8], [])
    line.reserve("half", free, 1, 4, 1, 1, 10 * HOUR, T0 + timedelta(hours=1))  # 4 of node 0's 8, from +1 h
    node = line.reservations[0].nodes[0]
    assert line.backfill_ok((node,), T0 + timedelta(hours=5), 4, 1, 1, T0)
    line.charge((node,), T0 + timedelta(hours=5), 4, 1, 1)
    assert not line.backfill_ok((node,), T0 + timedelta(hours=5), 1, 1, 1, T0)  # the slack is used up


def test_policies_never_start_a_job_that_delays_their_reservation():
    # node 0: 4 free now; everything else busy until +2 h (by estimate and deadline). A 2 x 8 gang waits.
    p = pool("p", free=[4, 0])
    snapshot = Snapshot(
        (p,), (running("r0", "p", (0,), 4, ends_in=2 * HOUR), running("r1", "p", (1,), 8, ends_in=2 * HOUR))
    )
    gang = job("gang", per_node=8, nodes=2, age=100, max_runtime=10 * HOUR)
    long = job("long", per_node=4, max_runtime=5 * HOUR)
    short = job("short", per_node=4, max_runtime=HOUR)
    for policy in ("slurm", "suanli"):
        result = decide(snapshot, [gang, long, short], policy, T0)
        placed = {pl.job_id for pl in result.placements}
        assert "long" not in placed, policy  # it would still run at +2 h, when the gang is due
        assert "short" in placed, policy  # it ends in time: backfilled
        codes = {r.code.value for r in result.waiting["gang"]}
        assert "reserved" in codes, policy


def test_the_cycle_remembers_backfill_answers_only_while_the_pool_is_unchanged():
    # the same room (4 GPUs on node 0) asked for by jobs of one shape and different max_runtimes: the answers
    # are those of the timeline itself, in whichever order they are asked, and a placement starts afresh
    p = pool("p", free=[4, 0])
    snapshot = Snapshot(
        (p,), (running("r0", "p", (0,), 4, ends_in=2 * HOUR), running("r1", "p", (1,), 8, ends_in=2 * HOUR))
    )
    hours = [3, 1, 5, 1.5, 2.5, 0.5, 4]
    for order in (hours, sorted(hours), sorted(hours, reverse=True)):
        cycle = Cycle(snapshot, T0)
        gang = job("gang", per_node=8, nodes=2, max_runtime=10 * HOUR)
        assert cycle.reserve(gang, p, expected=True) is not None  # both nodes from +2 h
        for h in order:
            j = job(f"j{h}", per_node=4, max_runtime=int(h * HOUR))
            nodes = cycle.fit_now(j, p)
            assert nodes == (0,)
            assert cycle.backfill_ok(j, p, nodes) is (h <= 2), (order, h)
        cycle.place(job("short", per_node=2, max_runtime=HOUR), p, (0,), "backfilled")
        # node 0 now has 2 GPUs free: the shape no longer fits, nothing remembered says otherwise
        assert cycle.fit_now(job("j-after", per_node=4, max_runtime=HOUR), p) is None
        assert cycle.fit_now(job("small", per_node=2, max_runtime=HOUR), p) == (0,)


def test_a_reservation_made_after_a_prediction_is_waited_for_at_its_end():
    free, line = timeline([8, 0], [((1,), 8, 3, 5)])  # node 0 free now; node 1 from +3 h (expected)
    assert line.earliest_start(free, 1, 8, 1, 1, HOUR, T0, expected=True) == (T0, (0,))
    line.reserve("first", free, 1, 8, 1, 1, 2 * HOUR, T0, expected=True)  # node 0, now until +2 h
    # the next 8-GPU job starts when that reservation ends (+2 h), before node 1 frees up (+3 h)
    assert line.earliest_start(free, 1, 8, 1, 1, HOUR, T0, expected=True) == (T0 + timedelta(hours=2), (0,))
    line.reserve("second", free, 1, 8, 1, 1, 2 * HOUR, T0, expected=True)
    assert line.reservations[-1].start == T0 + timedelta(hours=2)
    # a third: node 1 at +3 h comes before node 0's next gap at +4 h
    assert line.earliest_start(free, 1, 8, 1, 1, HOUR, T0, expected=True) == (T0 + timedelta(hours=3), (1,))


def test_a_shape_refused_backfill_still_backfills_its_shorter_jobs_and_forgets_once_the_pool_changes():
    p = pool("p", free=[4, 0])
    snapshot = Snapshot(
        (p,), (running("r0", "p", (0,), 4, ends_in=2 * HOUR), running("r1", "p", (1,), 8, ends_in=2 * HOUR))
    )
    cycle = Cycle(snapshot, T0)
    assert cycle.reserve(job("gang", per_node=8, nodes=2, max_runtime=10 * HOUR), p, expected=True) is not None
    long = job("long", per_node=4, max_runtime=5 * HOUR)
    cycle.mark_refused(long)
    assert cycle.refused(job("longer", per_node=4, max_runtime=6 * HOUR))
    assert not cycle.refused(job("short", per_node=4, max_runtime=HOUR))  # it may end before the gang starts
    assert not cycle.refused(job("other", per_node=2, max_runtime=6 * HOUR))  # another shape
    cycle.place(job("short", per_node=4, max_runtime=HOUR), p, (0,), "backfilled")
    assert not cycle.refused(job("longer", per_node=4, max_runtime=6 * HOUR))  # the city changed: ask again


def test_once_the_head_is_reserved_jobs_of_a_refused_shape_wait_and_shorter_ones_backfill():
    # a 2 x 8 gang (slurm: one EASY reservation) or eight of them (suanli: RESERVE_TOP) reserved from +2 h;
    # then jobs of one 4-GPU shape: those running past +2 h wait, the one that ends in time backfills
    snapshot, gangs = _behind_eight_gangs()
    later = [
        job("long1", per_node=4, priority=60, max_runtime=5 * HOUR),
        job("short", per_node=4, priority=55, max_runtime=HOUR),
        job("long2", per_node=4, priority=50, max_runtime=6 * HOUR),
    ]
    for policy in ("slurm", "suanli"):
        result = decide(snapshot, [*gangs, *later], policy, T0)
        assert [pl.job_id for pl in result.placements] == ["short"], policy
        assert {"long1", "long2"} <= set(result.waiting), policy


def test_the_queue_is_not_handed_over_as_waiting_while_a_shorter_job_behind_could_still_backfill():
    # eight gangs reserved (suanli's RESERVE_TOP), two long 4-GPU jobs refused; the short one of the same
    # shape, last in the queue, still ends before the reservations begin and starts
    snapshot, gangs = _behind_eight_gangs()
    later = [
        job("long1", per_node=4, priority=60, max_runtime=5 * HOUR),
        job("long2", per_node=4, priority=55, max_runtime=6 * HOUR),
        job("short", per_node=4, priority=50, max_runtime=HOUR),
        job("never", per_node=16, priority=40),
    ]
    for policy in ("slurm", "suanli"):
        result = decide(snapshot, [*gangs, *later], policy, T0)
        assert [pl.job_id for pl in result.placements] == ["short"], policy
        assert {"long1", "long2", *(g.job_id for g in gangs)} <= set(result.waiting), policy
        assert set(result.rejected) == {"never"}, policy


def _behind_eight_gangs():
    """Node 0 has 4 GPUs free until +2 h, node 1 none; eight 2 x 8 gangs rank first (suanli reserves for all
    of them, slurm for the first)."""
    p = pool("p", free=[4, 0])
    snapshot = Snapshot(
        (p,), (running("r0", "p", (0,), 4, ends_in=2 * HOUR), running("r1", "p", (1,), 8, ends_in=2 * HOUR))
    )
    return snapshot, [job(f"g{i}", per_node=8, nodes=2, priority=90, age=100 - i, max_runtime=HOUR) for i in range(8)]

"""Lasting work is spread: a job that holds its room past a day fills at most half of any pool's cards or cores
while another pool can take it about as soon, so every pool keeps room for work that comes later and can run only
there."""

from __future__ import annotations

from suanli.scheduling import decide
from suanli.scheduling.scarcity import LASTING_SHARE
from suanli.scheduling.snapshot import Snapshot
from tests.unit.scheduling.builders import T0, job, pool, running

DAY = 86400


def _lasting(jid: str, *, days: float = 30, cpus: float = 1, **kw: object) -> object:
    return job(jid, max_runtime=90 * DAY, estimates={"A100": days * DAY}, cpus=cpus, **kw)  # type: ignore[arg-type]


def _two_pools(cheap_free: int = 8) -> tuple:
    return (
        pool("cheap", price="5", nodes=1, free=[cheap_free]),
        pool("dear", price="10", nodes=1, centre="c2"),
    )


def test_a_lasting_job_leaves_a_pool_that_lasting_work_already_half_fills():
    snapshot = Snapshot(_two_pools(cheap_free=4), running=(running("old", "cheap", (0,), 4, ends_in=40 * DAY),))
    (placement,) = decide(snapshot, [_lasting("svc")], "suanli", T0).placements
    assert placement.pool_id == "dear"
    assert "c1/cheap (~720.0 h, ~¥3600.00) passed over" in placement.explanation
    assert f"would then hold more than {LASTING_SHARE:.0%} of its cards or cores" in placement.explanation


def test_a_short_job_still_takes_the_cheapest_pool():
    snapshot = Snapshot(_two_pools(cheap_free=4), running=(running("old", "cheap", (0,), 4, ends_in=40 * DAY),))
    short = job("short", max_runtime=4 * 3600, estimates={"A100": 3600})
    (placement,) = decide(snapshot, [short], "suanli", T0).placements
    assert placement.pool_id == "cheap"


def test_work_ending_within_a_day_does_not_count_as_lasting():
    snapshot = Snapshot(_two_pools(cheap_free=4), running=(running("old", "cheap", (0,), 4, ends_in=3600),))
    (placement,) = decide(snapshot, [_lasting("svc")], "suanli", T0).placements
    assert placement.pool_id == "cheap"


def test_lasting_jobs_placed_in_one_cycle_count_against_the_share():
    jobs = [_lasting(f"svc-{i}", age=100 - i) for i in range(6)]
    placements = decide(Snapshot(_two_pools()), jobs, "suanli", T0).placements
    where = [p.pool_id for p in sorted(placements, key=lambda p: p.job_id)]
    assert where.count("cheap") == 4 and where.count("dear") == 2  # half of the cheap node, then elsewhere


def test_cores_count_as_well_as_cards():
    pools = (pool("cheap", price="5", nodes=1), pool("dear", price="10", nodes=1, centre="c2", cpus=128))
    (placement,) = decide(Snapshot(pools), [_lasting("svc", cpus=40)], "suanli", T0).placements
    assert placement.pool_id == "dear"  # one card of eight either way, but 40 of the cheap node's 64 cores


def test_a_lasting_job_stays_where_every_other_pool_would_run_it_much_longer():
    snapshot = Snapshot(
        (pool("cheap", price="5", nodes=1, free=[4]), pool("ascend", "Ascend910B", price="10", nodes=1, centre="c2")),
        running=(running("old", "cheap", (0,), 4, ends_in=40 * DAY),),
    )
    slow_elsewhere = job(
        "svc", alternatives=("Ascend910B",), max_runtime=90 * DAY, estimates={"A100": 10 * DAY, "Ascend910B": 16 * DAY}
    )
    (placement,) = decide(snapshot, [slow_elsewhere], "suanli", T0).placements
    assert placement.pool_id == "cheap"  # 60% longer on the Ascend cards: it takes the fuller pool


def test_with_no_other_pool_a_lasting_job_takes_a_full_one_rather_than_wait():
    snapshot = Snapshot(
        (pool("cheap", price="5", nodes=1, free=[4]),), running=(running("old", "cheap", (0,), 4, ends_in=40 * DAY),)
    )
    (placement,) = decide(snapshot, [_lasting("svc")], "suanli", T0).placements
    assert placement.pool_id == "cheap"

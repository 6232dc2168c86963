"""Scarce room: a job that can run in several pools leaves the room that only some waiting jobs can use."""

from __future__ import annotations

from suanli.scheduling import decide
from suanli.scheduling.scarcity import pressure
from suanli.scheduling.snapshot import Snapshot
from tests.unit.scheduling.builders import T0, job, pool

HOUR = 3600


def _city(**demand: float) -> Snapshot:
    return Snapshot(
        (pool("a100", price="10", nodes=1, free=[1]), pool("h800", "H800", price="12", nodes=1, free=[1], centre="c2")),
        demand=demand,
    )


def test_a_flexible_job_leaves_the_last_room_to_a_job_that_can_run_nowhere_else():
    flexible = job("flex", alternatives=("H800",), age=600, estimates={"A100": HOUR, "H800": HOUR})
    captive = job("only-a100", estimates={"A100": HOUR})
    result = decide(_city(), [flexible, captive], "suanli", T0)
    where = {p.job_id: p.pool_id for p in result.placements}
    assert where == {"flex": "h800", "only-a100": "a100"}
    assert "left to waiting jobs that can run nowhere else" in next(
        p.explanation for p in result.placements if p.job_id == "flex"
    )


def test_without_such_a_job_the_flexible_one_takes_the_cheapest():
    flexible = job("flex", alternatives=("H800",), estimates={"A100": HOUR, "H800": HOUR})
    (placement,) = decide(_city(), [flexible], "suanli", T0).placements
    assert placement.pool_id == "a100"


def test_when_every_pool_is_contested_the_flexible_job_still_runs():
    snapshot = Snapshot(
        (pool("a100", price="10", nodes=1, free=[1]), pool("h800", "H800", price="12", nodes=1, free=[0], centre="c2"))
    )
    flexible = job("flex", age=600, estimates={"A100": HOUR}, alternatives=("H800",))
    captive = job("only-a100", estimates={"A100": HOUR})
    placements = decide(snapshot, [flexible, captive], "suanli", T0).placements
    assert [p.job_id for p in placements] == ["flex"]


def test_recent_demand_from_restricted_jobs_steers_flexible_ones_elsewhere():
    flexible = job("flex", alternatives=("H800",), estimates={"A100": HOUR, "H800": HOUR})
    (placement,) = decide(_city(A100=40.0), [flexible], "suanli", T0).placements
    assert placement.pool_id == "h800"
    assert "in demand" in placement.explanation


def test_demand_does_not_outweigh_a_much_lower_price():
    snapshot = Snapshot(
        (pool("a100", price="1", nodes=1, free=[1]), pool("h800", "H800", price="26", nodes=1, free=[1], centre="c2")),
        demand={"A100": 40.0},
    )
    flexible = job("flex", alternatives=("H800",), estimates={"A100": HOUR, "H800": HOUR})
    (placement,) = decide(snapshot, [flexible], "suanli", T0).placements
    assert placement.pool_id == "a100"


def test_pressure_is_demand_over_capacity_scaled_to_the_most_pressed_model():
    snapshot = Snapshot(
        (pool("a100", nodes=4), pool("h800", "H800", nodes=1, centre="c2")),
        demand={"A100": 32.0, "H800": 4.0},
    )
    assert pressure(snapshot) == {"A100": 1.0, "H800": 0.5}


def _split_city() -> Snapshot:
    # the H800 node is wholly free; the A100 node is half used already
    return Snapshot(
        (pool("a100", price="10", nodes=1, free=[4]), pool("h800", "H800", price="26", nodes=1, free=[8], centre="c2"))
    )


def _small(a100_hours: float, **kw: object) -> object:
    return job("small", "H800", alternatives=("A100",), estimates={"H800": HOUR, "A100": a100_hours * HOUR}, **kw)


def test_a_small_job_fills_a_node_in_use_rather_than_break_a_whole_free_one():
    (placement,) = decide(_split_city(), [_small(1.3)], "suanli", T0).placements
    assert placement.pool_id == "a100"  # 30% slower, but no dearer, and the H800 node stays whole
    assert "fills a node already in use rather than break a whole free node on c2/h800" in placement.explanation


def test_it_breaks_the_whole_node_when_the_used_one_is_much_slower_and_nobody_needs_whole_nodes():
    (placement,) = decide(_split_city(), [_small(2.0)], "suanli", T0).placements
    assert placement.pool_id == "h800"
    assert "fills a node" not in placement.explanation


def test_while_a_whole_node_job_waits_the_small_one_leaves_it_the_node_at_any_speed():
    big = job("big", "H800", per_node=8, alternatives=("A100",), estimates={"H800": HOUR, "A100": 2 * HOUR})
    result = decide(_split_city(), [_small(2.0, age=600), big], "suanli", T0)
    assert {p.job_id: p.pool_id for p in result.placements} == {"small": "a100", "big": "h800"}
    # without the rule the small job, ranked first, would break the H800 node and the 8-card job would wait


def test_a_small_job_is_never_moved_to_a_dearer_pool_to_keep_a_node_whole():
    snapshot = Snapshot(
        (pool("a100", price="30", nodes=1, free=[4]), pool("h800", "H800", price="26", nodes=1, free=[8], centre="c2"))
    )
    (placement,) = decide(snapshot, [_small(1.3)], "suanli", T0).placements
    assert placement.pool_id == "h800"

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

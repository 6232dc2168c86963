"""Contention: a job that holds its cards for days leaves the models that less flexible jobs keep asking for."""

from __future__ import annotations

from suanli.scheduling import decide
from suanli.scheduling.scarcity import Contention
from suanli.scheduling.snapshot import Snapshot
from tests.unit.scheduling.builders import T0, job, pool

HOUR = 3600
DAY = 86400
CUDA_ONLY = frozenset({"A100"})
EITHER = frozenset({"A100", "Ascend910B"})


def _city(asked: dict[frozenset[str], float]) -> Snapshot:
    return Snapshot(
        (
            pool("a100", price="10", nodes=2),
            pool("ascend", "Ascend910B", price="12", nodes=2, centre="c2"),
        ),
        asked=asked,
    )


def _either(jid: str, days_on_a100: float, days_on_ascend: float) -> object:
    return job(
        jid,
        alternatives=("Ascend910B",),
        max_runtime=60 * DAY,
        estimates={"A100": days_on_a100 * DAY, "Ascend910B": days_on_ascend * DAY},
    )


def test_a_lasting_job_leaves_the_model_cuda_only_jobs_ask_for():
    (placement,) = decide(_city({CUDA_ONLY: 40.0}), [_either("long", 10, 11)], "suanli", T0).placements
    assert placement.pool_id == "ascend"  # dearer and a little slower, but nobody else needs it
    assert "is left to jobs that can use fewer models" in placement.explanation
    assert "c1/a100 (A100" in placement.explanation


def test_a_short_job_takes_the_cheapest_whatever_others_ask_for():
    (placement,) = decide(_city({CUDA_ONLY: 40.0}), [_either("short", 0.1, 0.11)], "suanli", T0).placements
    assert placement.pool_id == "a100"


def test_demand_from_jobs_as_flexible_as_it_is_no_reason_to_move():
    (placement,) = decide(_city({EITHER: 40.0}), [_either("long", 10, 11)], "suanli", T0).placements
    assert placement.pool_id == "a100"
    assert "fewer models" not in placement.explanation


def test_a_lasting_job_does_not_move_where_it_would_run_much_longer():
    (placement,) = decide(_city({CUDA_ONLY: 40.0}), [_either("long", 10, 16)], "suanli", T0).placements
    assert placement.pool_id == "a100"  # 60% longer on the Ascend cards: past LASTING_SLACK


def test_contention_counts_each_job_once_over_the_models_it_accepts_per_card():
    snapshot = _city(
        {CUDA_ONLY: 32.0, frozenset({"A100", "H800"}): 16.0, EITHER: 100.0, frozenset({"Ascend910B"}): 8.0}
    )
    contention = Contention(snapshot).of(_either("long", 10, 11))  # accepts A100 and Ascend910B
    # A100: 32 from A100-only jobs and 16 / 2 from A100-or-H800 ones, over 16 cards; Ascend: 8 over 16 cards;
    # EITHER accepts all this job does, so it is not counted
    assert contention == {"A100": 2.5, "Ascend910B": 0.5}


def test_a_lasting_job_does_not_move_onto_a_model_that_restricted_jobs_ask_for():
    snapshot = Snapshot(_city({}).pools, asked={CUDA_ONLY: 40.0}, demand={"Ascend910B": 16.0})
    (placement,) = decide(snapshot, [_either("long", 10, 11)], "suanli", T0).placements
    assert placement.pool_id == "a100"  # the Ascend cards are what Ascend-only jobs have been asking for

"""`replaced` copies a record exactly as `dataclasses.replace` does, on every kind of dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from suanli.domain.accelerators import Stack
from suanli.domain.jobs.model import Attempt, Job
from suanli.domain.jobs.spec import parse_spec
from suanli.domain.jobs.states import JobState
from suanli.domain.records import replaced
from suanli.scheduling.snapshot import NodeFree, PoolState

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _job() -> Job:
    spec = parse_spec({"name": "train", "run": "python train.py", "resources": {"accelerators": "A100:1"}})
    return Job("job_1", "tnt_1", "usr_1", "train", spec.kind, JobState.QUEUED, spec, 0, NOW, NOW, shape="s1")


def _attempt() -> Attempt:
    return Attempt(
        id="job_1-1",
        job_id="job_1",
        number=1,
        centre_id="ctr_1",
        pool_id="pool_1",
        model="A100",
        per_node=1,
        cpus_per_node=8.0,
        memory_gib_per_node=64.0,
        node_indices=(0,),
        price=Decimal("12.5"),
        price_card_id=None,
        state=JobState.PLACED,
        placed_at=NOW,
    )


@pytest.mark.parametrize(
    ("record", "changes"),
    [
        (_job(), {"state": JobState.PLACED, "state_reason": "placed", "attempts": 1, "version": 3}),
        (_job(), {}),
        (_attempt(), {"state": JobState.RUNNING, "started_at": NOW, "node_indices": (1, 2)}),
    ],
)
def test_the_copy_is_what_dataclasses_replace_gives(record, changes):
    copy = replaced(record, **changes)
    assert copy == dataclasses.replace(record, **changes)
    assert copy is not record and type(copy) is type(record)
    for name, value in changes.items():
        assert getattr(copy, name) == value
    # the original is untouched, and the copy is as frozen as it
    assert record == dataclasses.replace(record)
    with pytest.raises(dataclasses.FrozenInstanceError):
        copy.state = JobState.FAILED  # type: ignore[misc]


def test_an_unknown_field_is_refused():
    with pytest.raises(TypeError, match="no field 'colour'"):
        replaced(_job(), colour="red")


def test_classes_that_compute_fields_on_construction_go_through_their_init():
    node = NodeFree(8, 64.0, 512.0)
    pool = PoolState("p", "a100", "c", "centre", "A100", Stack.CUDA, 8, 64.0, 512.0, 1, (node,), price=Decimal("10"))
    pool = replaced(pool, preemptible_discount=Decimal("0.4"))
    assert pool.preemptible_price == Decimal("6.0000")  # computed again by its __post_init__
    assert replaced(pool, price=Decimal("20")).preemptible_price == Decimal("12.0000")


@dataclass(frozen=True)
class _Unslotted:
    a: int
    b: list[int] = field(default_factory=list)


@dataclass
class _Mutable:
    a: int
    b: int = 0


@pytest.mark.parametrize("record", [_Unslotted(1, [2]), _Mutable(1, 2)])
def test_other_dataclasses_are_copied_by_dataclasses_replace(record):
    copy = replaced(record, a=5)
    assert copy == dataclasses.replace(record, a=5) and copy.a == 5 and copy.b == record.b

"""What `decide` answers: placements, and for every job left waiting or rejected a reason per pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class ReasonCode(StrEnum):
    # static: this pool can never run the job as specified
    MODEL_MISMATCH = "model_mismatch"
    STACK_MISMATCH = "stack_mismatch"
    TOO_MANY_ACCELERATORS = "too_many_accelerators_per_node"
    TOO_MANY_NODES = "too_many_nodes"
    CPUS_PER_NODE = "cpus_per_node"
    MEMORY_PER_NODE = "memory_per_node"
    CENTRE_EXCLUDED = "centre_excluded"
    CENTRE_NOT_ALLOWED = "centre_not_allowed"
    # dynamic: the pool could run the job, but not now
    CENTRE_OFFLINE = "centre_offline"
    CENTRE_DEGRADED = "centre_degraded"
    CENTRE_DISABLED = "centre_disabled"
    POOL_DISABLED = "pool_disabled"
    NO_PRICE = "no_price"
    PRICE_ABOVE_MAX = "price_above_max"
    INSUFFICIENT_CAPACITY = "insufficient_capacity"
    LOWER_RANK = "lower_rank"  # room exists, but it is promised to jobs ahead (FIFO head, reservations)
    RESERVED = "reserved"  # this pool is promised to this job from a predicted time
    SLOWER = "slower"  # room now, but the job waits a little for a busy pool that finishes it much sooner
    BUDGET = "budget"  # the worst-case cost here is more than the tenant has left of its monthly budget


STATIC_CODES = frozenset(
    {
        ReasonCode.MODEL_MISMATCH,
        ReasonCode.STACK_MISMATCH,
        ReasonCode.TOO_MANY_ACCELERATORS,
        ReasonCode.TOO_MANY_NODES,
        ReasonCode.CPUS_PER_NODE,
        ReasonCode.MEMORY_PER_NODE,
        ReasonCode.CENTRE_EXCLUDED,
        ReasonCode.CENTRE_NOT_ALLOWED,
    }
)


@dataclass(frozen=True, slots=True)
class PoolReason:
    """Why one pool does not take one job now; `code` is stable (for translation), `message` is English."""

    pool_id: str
    centre: str
    pool: str
    code: ReasonCode
    message: str

    @property
    def static(self) -> bool:
        return self.code in STATIC_CODES

    def as_dict(self) -> dict[str, str]:
        return {
            "pool_id": self.pool_id,
            "centre": self.centre,
            "pool": self.pool,
            "code": self.code.value,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Placement:
    """Run `job_id` on `node_indices` of `pool_id`, `per_node` accelerators of `model` each, at `price`."""

    job_id: str
    pool_id: str
    centre_id: str
    model: str
    per_node: int
    cpus_per_node: float
    memory_gib_per_node: float
    node_indices: tuple[int, ...]
    price: Decimal
    price_card_id: str | None
    explanation: str
    hold: Decimal = Decimal(0)  # budget held for the worst case: max runtime x price x units


@dataclass(frozen=True, slots=True)
class Preemption:
    """Stop running job `job_id` (a preemptible one; its whole gang) to make room for waiting `for_job`."""

    job_id: str
    for_job: str
    reason: str


@dataclass(frozen=True)
class CycleResult:
    placements: tuple[Placement, ...] = ()
    waiting: dict[str, tuple[PoolReason, ...]] = field(default_factory=dict)
    rejected: dict[str, tuple[PoolReason, ...]] = field(default_factory=dict)
    preemptions: tuple[Preemption, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)  # job -> what this cycle promised it (reservations)
    reserved: dict[str, str] = field(default_factory=dict)  # job -> pool it holds a reservation in this cycle
    starts: dict[str, datetime] = field(default_factory=dict)  # job -> when its reservation is expected to start
    # the first moment at which time alone (nothing arriving or ending) could change these decisions, when the
    # policy knows one: a waiting job coming to starve, a stop's protection running out (the simulator wakes
    # then; the live scheduler runs every interval anyway)
    revisit_at: datetime | None = None

"""What the scheduler sees: free resources per node of every pool, and the jobs waiting to be placed."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from suanli.domain.accelerators import Stack
from suanli.domain.centres import CentreStatus
from suanli.domain.jobs.request import ResourceRequest
from suanli.scheduling.fairness import REFERENCE_TFLOPS, TenantShare, standard_compute


@dataclass(frozen=True, slots=True)
class NodeFree:
    """Free resources on one node (read-only: `decide` works on its own copies, and the scheduler's cache hands
    the same nodes to the next cycle while nothing in their pool changes)."""

    accelerators: int
    cpus: float
    memory_gib: float


@dataclass(frozen=True, slots=True)
class PoolState:
    """One pool as the scheduler sees it at the start of a cycle."""

    pool_id: str
    pool_name: str
    centre_id: str
    centre_name: str
    model: str
    stack: Stack
    accelerators_per_node: int
    cpus_per_node: float
    memory_gib_per_node: float
    node_count: int
    free: tuple[NodeFree, ...]  # one entry per node that is up; index = node index in the pool
    centre_status: CentreStatus = CentreStatus.ONLINE
    enabled: bool = True
    price: Decimal | None = None  # CNY per unit-hour from the card in effect
    price_card_id: str | None = None
    preemptible_discount: Decimal = Decimal(0)
    fp16_tflops: float = REFERENCE_TFLOPS  # the model's nameplate: what a unit counts for in standard compute
    preemptible_price: Decimal | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        discounted = (
            None
            if self.price is None
            else (self.price * (Decimal(1) - self.preemptible_discount)).quantize(Decimal("0.0001"))
        )
        object.__setattr__(self, "preemptible_price", discounted)

    @property
    def is_cpu(self) -> bool:
        return self.stack is Stack.CPU

    @property
    def label(self) -> str:
        return f"{self.centre_name}/{self.pool_name}"

    def price_for(self, preemptible: bool) -> Decimal | None:
        return self.preemptible_price if preemptible else self.price

    def compute(self, accelerators: int, cpus: float, nodes: int) -> float:
        """A100-equivalents (what quotas and fair shares count) held by `nodes` nodes of this pool taking
        `accelerators` each, or on a CPU pool `cpus` cores each (a whole node counting as one unit)."""
        return standard_compute(accelerators, cpus, self.cpus_per_node, nodes, self.fp16_tflops)


@dataclass(frozen=True, slots=True)
class RunningJob:
    """Capacity held now by one attempt (placed, starting or running), and when it is expected to end."""

    job_id: str
    tenant_id: str
    pool_id: str
    node_indices: tuple[int, ...]
    per_node: int
    cpus: float
    memory_gib: float
    priority: int
    preemptible: bool
    started_at: datetime
    expected_end: datetime  # from the runtime estimate, never later than the deadline
    deadline: datetime  # started_at + max_runtime: the engine kills it then
    model: str = ""
    attempt_id: str = ""
    stopping: bool = False  # a stop (preemption or cancellation) was asked for: its room is coming free
    requeues: int = 0  # times the job was already requeued (after preemption or loss)
    requeues_left: int = 10  # requeues its retry policy still allows: at 0, a stop would fail the job
    service: bool = False  # a long-running service: stopping it loses no work (it starts again where it was)


@dataclass(frozen=True, slots=True)
class Snapshot:
    pools: tuple[PoolState, ...]
    running: tuple[RunningJob, ...] = ()
    tenants: Mapping[str, TenantShare] = field(default_factory=dict)  # fair-share inputs, by tenant id
    # budget left this month, by `budget_key` (a tenant's, or one of its projects'); absent: no cap
    budgets: Mapping[str, Decimal] = field(default_factory=dict)
    # recent demand per model, each job's units spread evenly over the models it accepts (decayed)
    demand: Mapping[str, float] = field(default_factory=dict)
    # recent units asked for by every job with accelerators, per set of models it accepts (decayed)
    asked: Mapping[frozenset[str], float] = field(default_factory=dict)
    # the pool each waiting job held a reservation in at the last cycle (the scheduler remembers it)
    reserved: Mapping[str, str] = field(default_factory=dict)
    # the start each of those jobs was first promised in that pool (it recedes when work there runs long)
    promised: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PendingJob:
    """A job waiting for placement, with everything `decide` needs and nothing it does not."""

    job_id: str
    tenant_id: str
    priority: int
    submitted_at: datetime
    request: ResourceRequest
    preemptible: bool = False
    max_price: Decimal | None = None
    allow_centres: frozenset[str] = field(default_factory=frozenset)
    exclude_centres: frozenset[str] = field(default_factory=frozenset)
    shape: str = ""  # jobs of one shape fit the same pools the same way (see domain.jobs.request.shape_key)
    name: str = ""
    max_runtime_s: int = 86400
    estimates: dict[str, float] = field(default_factory=dict)  # expected seconds per accelerator model
    project: str = ""  # the tenant's project it is charged to ("" for none)
    queued_at: datetime | None = None  # when it last joined the queue (requeued: then); None: when submitted
    service: bool = False  # a long-running service (placement delay is what it feels, not completion time)
    submitted_ts: float = field(init=False, compare=False, repr=False)
    queued_ts: float = field(init=False, compare=False, repr=False)  # queued_at (or submitted_at) as a timestamp
    # (estimate, model) pairs, fastest first
    fastest: tuple[tuple[float, str], ...] = field(init=False, compare=False, repr=False)
    quickest: float = field(init=False, compare=False, repr=False)  # the fastest estimate, else max_runtime
    # expected seconds per model, never above max_runtime (a model without an estimate: max_runtime)
    runtimes: dict[str, float] = field(init=False, compare=False, repr=False)
    key: Hashable = field(init=False, compare=False, repr=False)  # the shape, or an equivalent without one

    def __post_init__(self) -> None:
        object.__setattr__(self, "submitted_ts", self.submitted_at.timestamp())
        object.__setattr__(self, "queued_ts", (self.queued_at or self.submitted_at).timestamp())
        fastest = tuple(sorted((s, m) for m, s in self.estimates.items()))
        object.__setattr__(self, "fastest", fastest)
        object.__setattr__(self, "quickest", fastest[0][0] if fastest else float(self.max_runtime_s))
        limit = self.max_runtime_s
        object.__setattr__(self, "runtimes", {m: min(s, limit) for m, s in self.estimates.items()})
        key: Hashable = self.shape or (
            self.request.options,
            self.request.nodes,
            self.request.cpus,
            self.request.memory_gib,
            self.preemptible,
            self.max_price,
            self.allow_centres,
            self.exclude_centres,
        )
        object.__setattr__(self, "key", key)


def budget_key(tenant_id: str, project: str = "") -> str:
    """The key of a tenant's monthly budget, or of one of its projects' (`<tenant>/<project>`)."""
    return f"{tenant_id}/{project}" if project else tenant_id


def budget_keys(job: PendingJob) -> tuple[str, ...]:
    """Every budget a job's cost counts against: its tenant's and, if it names one, its project's."""
    return (job.tenant_id, budget_key(job.tenant_id, job.project)) if job.project else (job.tenant_id,)

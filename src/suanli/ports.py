"""The ports the imperative shell needs: the clock, the store (a unit of work with repositories), and the
centre engine (`Backend`). Adapters in `store/` and `backends/` implement them; services and the agent
depend only on these protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from suanli.domain.accelerators import AcceleratorModel, Stack
from suanli.domain.centres import Centre, Pool, PriceCard
from suanli.domain.jobs.model import Attempt, Job, JobEvent
from suanli.domain.jobs.states import JobState
from suanli.domain.ledger import Entry, EntryKind
from suanli.domain.tenants import ApiToken, Tenant, User
from suanli.domain.vouchers import Claim, ClaimEvent, ClaimLine, ClaimState, Mode, Programme

# ------------------------------------------------------------------------------------------ clock


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


# ------------------------------------------------------------------------------------------ store


@dataclass(frozen=True, slots=True)
class JobFilter:
    tenant_id: str | None = None
    user_id: str | None = None
    states: tuple[JobState, ...] = ()
    name: str | None = None
    centre_id: str | None = None


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """Metered use of one attempt, as its centre's engine measured it; recorded once per attempt."""

    attempt_id: str
    job_id: str
    tenant_id: str
    centre_id: str
    pool_id: str
    model: str
    accelerators: int
    accelerator_seconds: float
    cpu_seconds: float
    wall_seconds: float
    started_at: datetime
    ended_at: datetime
    recorded_at: datetime


class TenantRepo(Protocol):
    def add(self, tenant: Tenant) -> None: ...
    def get(self, tenant_id: str) -> Tenant | None: ...
    def get_by_name(self, name: str) -> Tenant | None: ...
    def list(self) -> list[Tenant]: ...
    def update(self, tenant: Tenant) -> None: ...
    def project_budgets(self, tenant_ids: Sequence[str] | None = None) -> dict[tuple[str, str], Decimal]:
        """(tenant id, project) -> monthly cap in CNY, for these tenants (None: every tenant)."""

    def set_project_budget(self, tenant_id: str, project: str, monthly_budget: Decimal | None, at: datetime) -> None:
        """Set a project's monthly cap, or remove it with None."""


class UserRepo(Protocol):
    def add(self, user: User) -> None: ...
    def get(self, user_id: str) -> User | None: ...
    def get_by_name(self, name: str) -> User | None: ...
    def list(self, tenant_id: str | None = None) -> list[User]: ...
    def count(self) -> int: ...
    def update(self, user: User) -> None: ...


class TokenRepo(Protocol):
    def add(self, token: ApiToken) -> None: ...
    def get(self, token_id: str) -> ApiToken | None: ...
    def find_by_hash(self, secret_hash: str) -> ApiToken | None: ...
    def list(self, user_id: str | None = None, centre_id: str | None = None) -> list[ApiToken]: ...
    def revoke(self, token_id: str, at: datetime) -> None: ...
    def touch(self, token_id: str, at: datetime) -> None: ...


class CatalogueRepo(Protocol):
    def amendments(self) -> list[AcceleratorModel]: ...
    def upsert(self, model: AcceleratorModel, by: str, at: datetime) -> None: ...


class CentreRepo(Protocol):
    def add(self, centre: Centre) -> None: ...
    def get(self, centre_id: str) -> Centre | None: ...
    def get_by_name(self, name: str) -> Centre | None: ...
    def list(self) -> list[Centre]: ...
    def update(self, centre: Centre) -> None: ...
    def heartbeat(self, centre_id: str, at: datetime, agent_info: dict[str, object]) -> None: ...


class PoolRepo(Protocol):
    def add(self, pool: Pool) -> None: ...
    def get(self, pool_id: str) -> Pool | None: ...
    def list(self, centre_id: str | None = None) -> list[Pool]: ...
    def update(self, pool: Pool) -> None: ...


class PriceRepo(Protocol):
    def add(self, card: PriceCard, by: str, at: datetime) -> None: ...
    def list(self, pool_id: str | None = None) -> list[PriceCard]: ...


class JobRepo(Protocol):
    reorder_window: int  # how far back a feed reader must look again (ids may commit out of order)

    def add(self, job: Job, events: Sequence[JobEvent]) -> None: ...
    def get(self, job_id: str) -> Job | None: ...
    def get_by_idempotency_key(self, tenant_id: str, key: str) -> Job | None: ...
    def list(self, flt: JobFilter, limit: int, before_id: str | None = None) -> list[Job]: ...
    def in_states(self, states: Sequence[JobState]) -> list[Job]: ...
    def transition(self, job: Job, to: Job, event: JobEvent) -> None:
        """Replace `job` by `to` if nobody changed it meanwhile; else raise Conflict. Appends `event`."""

    def update_fields(self, job: Job, to: Job) -> None:
        """Store non-state changes (reasons, cancel flag) if the state is still `job.state`; else Conflict."""

    def changes_since(self, cursor: int, limit: int = 10_000) -> list[tuple[int, str]]:
        """The job event feed: (event id, job id) of every state change recorded after event `cursor`."""

    def feed_position(self) -> int:
        """The id of the latest job event (0 if none)."""

    def flagged(self, states: Sequence[JobState]) -> list[Job]:
        """Jobs in `states` with a cancel or preemption request outstanding."""

    def events(self, job_id: str) -> list[JobEvent]: ...


class WaitRepo(Protocol):
    def get(self, shapes: Sequence[str]) -> dict[str, tuple[tuple[dict[str, str], ...], str]]: ...
    def put(self, shape: str, reasons: Sequence[dict[str, str]], summary: str, at: datetime) -> None: ...


class AttemptRepo(Protocol):
    def add(self, attempt: Attempt) -> None: ...
    def get(self, attempt_id: str) -> Attempt | None: ...
    def for_job(self, job_id: str) -> list[Attempt]: ...
    def in_states(self, states: Sequence[JobState], centre_id: str | None = None) -> list[Attempt]: ...
    def update(self, attempt: Attempt) -> None: ...
    def open_holds_by_project(self, tenant_ids: Sequence[str], ended_after: datetime) -> dict[tuple[str, str], Decimal]:
        """As `open_holds`, per (tenant, project) for jobs that name a project."""

    def open_holds(self, tenant_ids: Sequence[str], ended_after: datetime) -> dict[str, Decimal]:
        """Per tenant: budget held by attempts still going, or ended after `ended_after` and not yet metered."""


class LogRepo(Protocol):
    def append(self, attempt_id: str, offset: int, data: bytes) -> None: ...
    def read(self, attempt_id: str, offset: int, limit: int) -> bytes: ...


class UsageRepo(Protocol):
    def add_once(self, record: UsageRecord) -> bool:
        """Record usage for an attempt unless already recorded; True if this call recorded it."""

    def get(self, attempt_id: str) -> UsageRecord | None: ...
    def page(self, after: str | None, limit: int) -> list[UsageRecord]:
        """Usage records in attempt-id order, those after `after` (for walking all of them)."""


@dataclass(frozen=True, slots=True)
class EntryFilter:
    tenant_id: str | None = None
    centre_id: str | None = None
    account: str | None = None
    kinds: tuple[EntryKind, ...] = ()
    since: datetime | None = None  # occurred_at >= since
    until: datetime | None = None  # occurred_at < until
    attempt_id: str | None = None  # entries about one metered attempt (usage, interim usage, refunds)


class LedgerRepo(Protocol):
    """The append-only ledger: entries are added whole and never changed."""

    def add(self, entry: Entry) -> bool:
        """Store a balanced entry unless its reference is already recorded; True if this call stored it."""

    def get(self, entry_id: str) -> Entry | None: ...
    def by_reference(self, reference: str) -> Entry | None: ...
    def reversal_of(self, entry_id: str) -> Entry | None: ...
    def entries(self, filt: EntryFilter, after: str | None, limit: int) -> list[Entry]:
        """Entries in id (recording) order, those after `after`."""

    def balances(self, prefix: str = "", until: datetime | None = None) -> dict[str, Decimal]:
        """Each account whose code starts with `prefix`: the sum of its postings (occurred before `until`)."""

    def usage_charged_since(self, tenant_ids: Sequence[str], since: datetime) -> dict[str, Decimal]:
        """Per tenant: usage charged (net of reversals) for usage that ended at or after `since`."""

    def usage_charged_by_project(self, tenant_ids: Sequence[str], since: datetime) -> dict[tuple[str, str], Decimal]:
        """As `usage_charged_since`, per (tenant, project) for jobs that name a project."""

    def unbalanced(self) -> list[tuple[str, Decimal]]:
        """Entries whose postings do not sum to zero (a healthy ledger has none), with their sums."""

    def charged_by_attempt(self) -> dict[str, tuple[int, Decimal]]:
        """Per attempt: how many usage entries it has and the net amount its tenant was charged (reversals
        included)."""


@dataclass(frozen=True, slots=True)
class ClaimFilter:
    tenant_id: str | None = None
    programme_id: str | None = None
    states: tuple[ClaimState, ...] = ()
    mode: Mode | None = None
    year: int | None = None


class VoucherRepo(Protocol):
    """Voucher programmes (versioned data), their funds, claims, covered lines and the audit log."""

    def publish(self, programme: Programme) -> bool:
        """Store a programme version (and its fund's budget); False if that id and version exist."""

    def programme(self, programme_id: str, version: int | None = None) -> Programme | None:
        """One version, or the newest when `version` is None."""

    def programmes(self) -> list[Programme]:
        """The newest version of every programme."""

    def versions(self, programme_id: str) -> list[Programme]: ...
    def lock_fund(self, programme_id: str) -> tuple[Decimal, Decimal]:
        """(budget, committed) of a programme, locked until the unit of work ends (claims serialise here)."""

    def fund(self, programme_id: str) -> tuple[Decimal, Decimal]:
        """(budget, committed), read without locking."""

    def entity_committed(self, programme_id: str, tenant_id: str) -> Decimal: ...
    def commit(self, programme_id: str, tenant_id: str, delta: Decimal) -> None:
        """Add `delta` (may be negative) to what the programme and the tenant have committed."""

    def add_claim(self, claim: Claim, lines: Sequence[ClaimLine], event: ClaimEvent) -> None: ...
    def get_claim(self, claim_id: str, *, lock: bool = False) -> Claim | None: ...
    def by_contract(self, tenant_id: str, contract: str) -> list[Claim]:
        """The tenant's claims under a contract (one claim per contract, whatever the programme)."""

    def claims(self, filt: ClaimFilter, after: str | None = None, limit: int = 1000) -> list[Claim]: ...
    def update_claim(self, claim: Claim, event: ClaimEvent | None) -> None: ...
    def events(self, claim_id: str) -> list[ClaimEvent]: ...
    def lines(self, claim_id: str) -> list[ClaimLine]: ...
    def add_line(self, claim_id: str, line: ClaimLine) -> bool:
        """Cover one more charge (deduct mode); False if an active line of any claim already covers it."""

    def release_lines(self, claim_id: str) -> None:
        """Free the charges a rejected or withdrawn claim covered, for other claims."""

    def covered(self, entry_ids: Sequence[str]) -> set[str]:
        """Which of these usage entries an active line already covers."""

    def covering(self, entry_id: str) -> str | None:
        """The claim whose active line covers this usage entry, if any."""

    def lock_tenant(self, tenant_id: str) -> None:
        """Serialise a tenant's claims (and deductions) until the unit of work ends."""


class UnitOfWork(Protocol):
    """One transaction over every repository. Leaving the `with` block commits, or rolls back on error."""

    tenants: TenantRepo
    users: UserRepo
    tokens: TokenRepo
    catalogue: CatalogueRepo
    centres: CentreRepo
    pools: PoolRepo
    prices: PriceRepo
    jobs: JobRepo
    attempts: AttemptRepo
    logs: LogRepo
    usage: UsageRepo
    waits: WaitRepo
    ledger: LedgerRepo
    vouchers: VoucherRepo

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, *exc: object) -> None: ...


class Store(Protocol):
    """A factory of units of work, plus the few things that are not transactional."""

    def uow(self) -> UnitOfWork: ...
    def ping(self) -> None: ...
    def leader_lock(self) -> LeaderLock: ...


class LeaderLock(Protocol):
    """Held by the one server that runs the scheduler loop (PostgreSQL advisory lock; SQLite: always)."""

    def acquire(self) -> bool: ...
    def release(self) -> None: ...


# ------------------------------------------------------------------------------------------ backend


class Feature(StrEnum):
    """Optional abilities a backend may lack; the agent checks them early and says so."""

    COMMANDS = "commands"  # runs the job's own commands: its files, environment, setup and output are real
    GANG = "gang"  # multi-node jobs started all at once
    LOGS = "logs"
    USAGE = "usage"
    RUNTIME_LIMIT = "runtime_limit"
    RECONCILE = "reconcile"  # finds its attempts again after an agent restart
    EVENTS = "events"  # tells which attempts changed (`changed()`), so the agent need not poll them all


class EngineState(StrEnum):
    PENDING = "pending"  # accepted, not started (waiting inside the engine)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    PREEMPTED = "preempted"
    LOST = "lost"
    UNKNOWN = "unknown"  # never submitted to this engine

    @property
    def finished(self) -> bool:
        return self not in (EngineState.PENDING, EngineState.RUNNING, EngineState.UNKNOWN)


@dataclass(frozen=True, slots=True)
class AttemptSpec:
    """Everything an engine needs to run one attempt of a job."""

    attempt_id: str
    job_id: str
    job_name: str
    tenant: str
    pool: str
    model: str
    stack: Stack
    per_node: int
    nodes: int
    node_indices: tuple[int, ...]
    cpus: float
    memory_gib: float
    run: str
    setup: str | None
    envs: dict[str, str]
    files: dict[str, str]
    max_runtime_s: int


@dataclass(frozen=True, slots=True)
class AttemptStatus:
    attempt_id: str
    state: EngineState
    exit_code: int | None = None
    reason: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    devices: dict[str, list[int]] = field(default_factory=dict)  # node rank -> accelerator ids


@dataclass(frozen=True, slots=True)
class EngineUsage:
    attempt_id: str
    accelerators: int
    accelerator_seconds: float
    cpu_seconds: float
    wall_seconds: float
    started_at: datetime
    ended_at: datetime


@dataclass(frozen=True, slots=True)
class PoolCapacity:
    pool: str
    nodes_up: int
    accelerators_free: int | None = None


class Backend(Protocol):
    """A centre's engine as the agent drives it. Every method is idempotent by attempt id."""

    name: str
    features: frozenset[Feature]

    def capacity(self) -> list[PoolCapacity]: ...
    def submit(self, spec: AttemptSpec) -> None: ...
    def status(self, attempt_id: str) -> AttemptStatus: ...
    def cancel(self, attempt_id: str) -> None: ...
    def read_log(self, attempt_id: str, offset: int, limit: int) -> bytes: ...
    def usage(self, attempt_id: str) -> EngineUsage | None: ...
    def known_attempts(self) -> list[str]: ...
    def forget(self, attempt_id: str) -> None: ...
    def close(self) -> None: ...

    # optional, with Feature.EVENTS: attempt ids whose state changed since the last call
    # def changed(self) -> list[str]: ...

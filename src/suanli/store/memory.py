"""The in-memory store: the fake of the store port, used by the simulator and by tests.

It keeps records in dicts with the indexes the services query by, serialises units of work with one lock,
and undoes a failed unit of work from a journal, so it behaves like the SQL store (the same integration
tests run against both).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from suanli.domain.accelerators import AcceleratorModel
from suanli.domain.centres import Centre, Pool, PriceCard
from suanli.domain.errors import AlreadyExists, Conflict
from suanli.domain.jobs.model import Attempt, Job, JobEvent
from suanli.domain.jobs.states import HOLDS_CAPACITY, JobState
from suanli.domain.ledger import Entry
from suanli.domain.records import replaced
from suanli.domain.tenants import ApiToken, Tenant, User
from suanli.ports import JobFilter, UsageRecord
from suanli.store.memory_base import _Journal, _put, _Repo, _unique
from suanli.store.memory_ledger import MemLedgerRepo
from suanli.store.memory_vouchers import MemVoucherRepo, VoucherData


@dataclass
class MemoryData:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, ApiToken] = field(default_factory=dict)
    models: dict[str, AcceleratorModel] = field(default_factory=dict)
    centres: dict[str, Centre] = field(default_factory=dict)
    pools: dict[str, Pool] = field(default_factory=dict)
    prices: dict[str, PriceCard] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    events: dict[str, list[JobEvent]] = field(default_factory=lambda: defaultdict(list))
    attempts: dict[str, Attempt] = field(default_factory=dict)
    logs: dict[str, bytearray] = field(default_factory=dict)
    log_starts: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    usage: dict[str, UsageRecord] = field(default_factory=dict)
    # indexes
    jobs_by_state: dict[JobState, set[str]] = field(default_factory=lambda: defaultdict(set))
    attempts_by_state: dict[JobState, set[str]] = field(default_factory=lambda: defaultdict(set))
    attempts_by_job: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    idempotency: dict[tuple[str, str], str] = field(default_factory=dict)
    flagged: set[str] = field(default_factory=set)  # jobs with a cancel or preemption request
    feed: list[str] = field(default_factory=list)  # job id of every event, in order (the change feed)
    waits: dict[str, tuple[tuple[dict[str, str], ...], str]] = field(default_factory=dict)
    ledger: dict[str, Entry] = field(default_factory=dict)
    ledger_refs: dict[str, str] = field(default_factory=dict)  # reference -> entry id
    reversals: dict[str, str] = field(default_factory=dict)  # reversed entry id -> its reversal's id
    ledger_by_attempt: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # attempt -> entry ids
    project_budgets: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    vouchers: VoucherData = field(default_factory=VoucherData)


class MemTenantRepo(_Repo):
    def add(self, tenant: Tenant) -> None:
        _unique(self.d.tenants, tenant.id, f"a tenant named {tenant.name!r}", "name", lambda t: t.name == tenant.name)  # type: ignore[attr-defined]
        _put(self.j, self.d.tenants, tenant.id, tenant)

    def get(self, tenant_id: str) -> Tenant | None:
        return self.d.tenants.get(tenant_id)

    def get_by_name(self, name: str) -> Tenant | None:
        return next((t for t in self.d.tenants.values() if t.name == name), None)

    def list(self) -> list[Tenant]:
        return sorted(self.d.tenants.values(), key=lambda t: t.name)

    def update(self, tenant: Tenant) -> None:
        if tenant.id in self.d.tenants:
            _put(self.j, self.d.tenants, tenant.id, replace(tenant, name=self.d.tenants[tenant.id].name))

    def project_budgets(self, tenant_ids: Sequence[str] | None = None) -> dict[tuple[str, str], Decimal]:
        wanted = None if tenant_ids is None else set(tenant_ids)
        return {k: v for k, v in self.d.project_budgets.items() if wanted is None or k[0] in wanted}

    def set_project_budget(self, tenant_id: str, project: str, monthly_budget: Decimal | None, at: datetime) -> None:
        key = (tenant_id, project)
        if monthly_budget is not None:
            _put(self.j, self.d.project_budgets, key, monthly_budget)
        elif key in self.d.project_budgets:
            old = self.d.project_budgets.pop(key)
            self.j.record(lambda: self.d.project_budgets.__setitem__(key, old))


class MemUserRepo(_Repo):
    def add(self, user: User) -> None:
        _unique(self.d.users, user.id, f"a user named {user.name!r}", "name", lambda u: u.name == user.name)  # type: ignore[attr-defined]
        _put(self.j, self.d.users, user.id, user)

    def get(self, user_id: str) -> User | None:
        return self.d.users.get(user_id)

    def get_by_name(self, name: str) -> User | None:
        return next((u for u in self.d.users.values() if u.name == name), None)

    def list(self, tenant_id: str | None = None) -> list[User]:
        users = [u for u in self.d.users.values() if tenant_id is None or u.tenant_id == tenant_id]
        return sorted(users, key=lambda u: u.name)

    def count(self) -> int:
        return len(self.d.users)

    def update(self, user: User) -> None:
        old = self.d.users.get(user.id)
        if old is not None:
            _put(
                self.j,
                self.d.users,
                user.id,
                replace(old, display_name=user.display_name, email=user.email, role=user.role, status=user.status),
            )


class MemTokenRepo(_Repo):
    def add(self, token: ApiToken) -> None:
        _unique(self.d.tokens, token.id, "this token", None, lambda t: t.secret_hash == token.secret_hash)  # type: ignore[attr-defined]
        _put(self.j, self.d.tokens, token.id, token)

    def get(self, token_id: str) -> ApiToken | None:
        return self.d.tokens.get(token_id)

    def find_by_hash(self, secret_hash: str) -> ApiToken | None:
        return next((t for t in self.d.tokens.values() if t.secret_hash == secret_hash), None)

    def list(self, user_id: str | None = None, centre_id: str | None = None) -> list[ApiToken]:
        return sorted(
            (
                t
                for t in self.d.tokens.values()
                if (user_id is None or t.user_id == user_id) and (centre_id is None or t.centre_id == centre_id)
            ),
            key=lambda t: t.id,
        )

    def revoke(self, token_id: str, at: datetime) -> None:
        token = self.d.tokens.get(token_id)
        if token is not None and token.revoked_at is None:
            _put(self.j, self.d.tokens, token_id, replace(token, revoked_at=at))

    def touch(self, token_id: str, at: datetime) -> None:
        token = self.d.tokens.get(token_id)
        if token is not None:
            _put(self.j, self.d.tokens, token_id, replace(token, last_used_at=at))


class MemCatalogueRepo(_Repo):
    def amendments(self) -> list[AcceleratorModel]:
        return [self.d.models[k] for k in sorted(self.d.models)]

    def upsert(self, model: AcceleratorModel, by: str, at: datetime) -> None:
        _put(self.j, self.d.models, model.id, replace(model, origin="operator"))


class MemCentreRepo(_Repo):
    def add(self, centre: Centre) -> None:
        _unique(self.d.centres, centre.id, f"a centre named {centre.name!r}", "name", lambda c: c.name == centre.name)  # type: ignore[attr-defined]
        _put(self.j, self.d.centres, centre.id, centre)

    def get(self, centre_id: str) -> Centre | None:
        return self.d.centres.get(centre_id)

    def get_by_name(self, name: str) -> Centre | None:
        return next((c for c in self.d.centres.values() if c.name == name), None)

    def list(self) -> list[Centre]:
        return sorted(self.d.centres.values(), key=lambda c: c.name)

    def update(self, centre: Centre) -> None:
        old = self.d.centres.get(centre.id)
        if old is not None:
            _put(
                self.j,
                self.d.centres,
                centre.id,
                replace(
                    old,
                    display_name=centre.display_name,
                    engine=centre.engine,
                    city=centre.city,
                    district=centre.district,
                    enabled=centre.enabled,
                ),
            )

    def heartbeat(self, centre_id: str, at: datetime, agent_info: dict[str, object]) -> None:
        old = self.d.centres.get(centre_id)
        if old is not None:
            _put(self.j, self.d.centres, centre_id, replaced(old, last_heartbeat_at=at, agent_info=dict(agent_info)))


class MemPoolRepo(_Repo):
    def add(self, pool: Pool) -> None:
        _unique(
            self.d.pools,
            pool.id,
            f"a pool named {pool.name!r} in this centre",
            "name",
            lambda p: p.centre_id == pool.centre_id and p.name == pool.name,
        )  # type: ignore[attr-defined]
        _put(self.j, self.d.pools, pool.id, pool)

    def get(self, pool_id: str) -> Pool | None:
        return self.d.pools.get(pool_id)

    def list(self, centre_id: str | None = None) -> list[Pool]:
        pools = [p for p in self.d.pools.values() if centre_id is None or p.centre_id == centre_id]
        return sorted(pools, key=lambda p: (p.centre_id, p.name))

    def update(self, pool: Pool) -> None:
        old = self.d.pools.get(pool.id)
        if old is not None:
            _put(
                self.j,
                self.d.pools,
                pool.id,
                replace(
                    old,
                    nodes=pool.nodes,
                    accelerators_per_node=pool.accelerators_per_node,
                    cpus_per_node=pool.cpus_per_node,
                    memory_gib_per_node=pool.memory_gib_per_node,
                    enabled=pool.enabled,
                    nodes_up=pool.nodes_up,
                ),
            )


class MemPriceRepo(_Repo):
    def add(self, card: PriceCard, by: str, at: datetime) -> None:
        _unique(self.d.prices, card.id, "this price card", None, lambda _: False)
        _put(self.j, self.d.prices, card.id, card)

    def list(self, pool_id: str | None = None) -> list[PriceCard]:
        cards = [c for c in self.d.prices.values() if pool_id is None or c.pool_id == pool_id]
        return sorted(cards, key=lambda c: (c.pool_id, c.valid_from, c.id))


class MemJobRepo(_Repo):
    reorder_window = 0  # one unit of work at a time: the feed is always in commit order

    def add(self, job: Job, events: Sequence[JobEvent]) -> None:
        if job.id in self.d.jobs:
            raise AlreadyExists(f"job {job.id} already exists")
        if job.idempotency_key is not None:
            key = (job.tenant_id, job.idempotency_key)
            if key in self.d.idempotency:
                raise AlreadyExists("a job with this Idempotency-Key already exists", field="Idempotency-Key")
            _put(self.j, self.d.idempotency, key, job.id)
        _put(self.j, self.d.jobs, job.id, job)
        self._index(job.id, None, job.state)
        for event in events:
            self._event(event)

    def _index(self, job_id: str, old: JobState | None, new: JobState) -> None:
        if old is not None:
            self.d.jobs_by_state[old].discard(job_id)
        self.d.jobs_by_state[new].add(job_id)

        def undo() -> None:
            self.d.jobs_by_state[new].discard(job_id)
            if old is not None:
                self.d.jobs_by_state[old].add(job_id)

        self.j.record(undo)

    def _event(self, event: JobEvent) -> None:
        history = self.d.events[event.job_id]
        history.append(event)
        self.j.record(history.pop)
        self.d.feed.append(event.job_id)
        self.j.record(self.d.feed.pop)

    def get(self, job_id: str) -> Job | None:
        return self.d.jobs.get(job_id)

    def get_by_idempotency_key(self, tenant_id: str, key: str) -> Job | None:
        job_id = self.d.idempotency.get((tenant_id, key))
        return self.d.jobs.get(job_id) if job_id else None

    def list(self, flt: JobFilter, limit: int, before_id: str | None = None) -> list[Job]:
        if flt.states:
            ids = set().union(*(self.d.jobs_by_state[s] for s in flt.states))
        else:
            ids = set(self.d.jobs)
        out = []
        for job_id in sorted(ids, reverse=True):
            if before_id is not None and job_id >= before_id:
                continue
            job = self.d.jobs[job_id]
            if (
                (flt.tenant_id is not None and job.tenant_id != flt.tenant_id)
                or (flt.user_id is not None and job.user_id != flt.user_id)
                or (flt.name is not None and job.name != flt.name)
            ):
                continue
            if flt.centre_id is not None and not any(
                self.d.attempts[a].centre_id == flt.centre_id for a in self.d.attempts_by_job[job_id]
            ):
                continue
            out.append(job)
            if len(out) >= limit:
                break
        return out

    def in_states(self, states: Sequence[JobState]) -> list[Job]:
        ids = sorted(set().union(*(self.d.jobs_by_state[s] for s in states)))
        return [self.d.jobs[i] for i in ids]

    def transition(self, job: Job, to: Job, event: JobEvent) -> None:
        self.update_fields(job, to)
        self._event(event)

    def update_fields(self, job: Job, to: Job) -> None:
        current = self.d.jobs.get(job.id)
        if current is None or current.version != job.version:
            raise Conflict(f"job {job.id} changed while this request was handled; retry")
        stored = replaced(
            to,
            id=current.id,
            tenant_id=current.tenant_id,
            user_id=current.user_id,
            spec=current.spec,
            submitted_at=current.submitted_at,
            idempotency_key=current.idempotency_key,
            version=current.version + 1,
        )
        _put(self.j, self.d.jobs, job.id, stored)
        if stored.state is not current.state:
            self._index(job.id, current.state, stored.state)
        flag = stored.cancel_requested_at is not None or stored.preempt_requested_at is not None
        if flag and job.id not in self.d.flagged:
            self.d.flagged.add(job.id)
            self.j.record(lambda: self.d.flagged.discard(job.id))
        elif not flag and job.id in self.d.flagged:
            self.d.flagged.discard(job.id)
            self.j.record(lambda: self.d.flagged.add(job.id))

    def changes_since(self, cursor: int, limit: int = 10_000) -> list[tuple[int, str]]:
        start = max(cursor, 0)
        end = min(len(self.d.feed), start + limit)
        return [(i + 1, self.d.feed[i]) for i in range(start, end)]

    def feed_position(self) -> int:
        return len(self.d.feed)

    def flagged(self, states: Sequence[JobState]) -> list[Job]:
        wanted = set(states)  # a pass over the jobs ever asked to stop, not over every job in those states
        return [job for i in sorted(self.d.flagged) if (job := self.d.jobs[i]).state in wanted]

    def events(self, job_id: str) -> list[JobEvent]:
        return list(self.d.events.get(job_id, ()))


class MemAttemptRepo(_Repo):
    def add(self, attempt: Attempt) -> None:
        if attempt.id in self.d.attempts:
            raise AlreadyExists(f"attempt {attempt.id} already exists")
        _put(self.j, self.d.attempts, attempt.id, attempt)
        by_job = self.d.attempts_by_job[attempt.job_id]
        by_job.append(attempt.id)
        self.j.record(by_job.pop)
        self._index(attempt.id, None, attempt.state)

    def _index(self, attempt_id: str, old: JobState | None, new: JobState) -> None:
        if old is not None:
            self.d.attempts_by_state[old].discard(attempt_id)
        self.d.attempts_by_state[new].add(attempt_id)

        def undo() -> None:
            self.d.attempts_by_state[new].discard(attempt_id)
            if old is not None:
                self.d.attempts_by_state[old].add(attempt_id)

        self.j.record(undo)

    def get(self, attempt_id: str) -> Attempt | None:
        return self.d.attempts.get(attempt_id)

    def for_job(self, job_id: str) -> list[Attempt]:
        return sorted((self.d.attempts[a] for a in self.d.attempts_by_job.get(job_id, ())), key=lambda a: a.number)

    def in_states(self, states: Sequence[JobState], centre_id: str | None = None) -> list[Attempt]:
        ids = sorted(set().union(*(self.d.attempts_by_state[s] for s in states)))
        attempts = (self.d.attempts[i] for i in ids)
        return [a for a in attempts if centre_id is None or a.centre_id == centre_id]

    def open_holds(self, tenant_ids: Sequence[str], ended_after: datetime) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for job, hold in self._holds(tenant_ids, ended_after):
            out[job.tenant_id] = out.get(job.tenant_id, Decimal(0)) + hold
        return out

    def open_holds_by_project(self, tenant_ids: Sequence[str], ended_after: datetime) -> dict[tuple[str, str], Decimal]:
        out: dict[tuple[str, str], Decimal] = {}
        for job, hold in self._holds(tenant_ids, ended_after):
            if job.spec.project:
                key = (job.tenant_id, job.spec.project)
                out[key] = out.get(key, Decimal(0)) + hold
        return out

    def _holds(self, tenant_ids: Sequence[str], ended_after: datetime) -> Iterator[tuple[Job, Decimal]]:
        wanted = set(tenant_ids)
        for a in self.d.attempts.values():
            if not a.hold:
                continue
            job = self.d.jobs.get(a.job_id)
            if job is None or job.tenant_id not in wanted:
                continue
            ended_unmetered = a.ended_at is not None and a.ended_at >= ended_after and a.id not in self.d.usage
            if a.state in HOLDS_CAPACITY or ended_unmetered:
                yield job, a.hold

    def update(self, attempt: Attempt) -> None:
        old = self.d.attempts.get(attempt.id)
        if old is None:
            return
        stored = replaced(
            old,
            state=attempt.state,
            leased_at=attempt.leased_at,
            started_at=attempt.started_at,
            ended_at=attempt.ended_at,
            exit_code=attempt.exit_code,
            reason=attempt.reason,
            log_bytes=attempt.log_bytes,
            log_truncated=attempt.log_truncated,
            devices=dict(attempt.devices),
        )
        _put(self.j, self.d.attempts, attempt.id, stored)
        if stored.state is not old.state:
            self._index(attempt.id, old.state, stored.state)


class MemLogRepo(_Repo):
    def append(self, attempt_id: str, offset: int, data: bytes) -> None:
        starts = self.d.log_starts[attempt_id]
        if offset in starts:
            raise AlreadyExists("log chunk")
        buffer = self.d.logs.setdefault(attempt_id, bytearray())
        if offset != len(buffer):
            raise Conflict(f"log chunk at {offset}, expected {len(buffer)}")
        buffer += data
        starts.add(offset)

        def undo() -> None:
            del buffer[offset:]
            starts.discard(offset)

        self.j.record(undo)

    def read(self, attempt_id: str, offset: int, limit: int) -> bytes:
        return bytes(self.d.logs.get(attempt_id, b"")[offset : offset + limit])


class MemUsageRepo(_Repo):
    def add_once(self, record: UsageRecord) -> bool:
        if record.attempt_id in self.d.usage:
            return False
        _put(self.j, self.d.usage, record.attempt_id, record)
        return True

    def get(self, attempt_id: str) -> UsageRecord | None:
        return self.d.usage.get(attempt_id)

    def page(self, after: str | None, limit: int) -> list[UsageRecord]:
        keys = sorted(k for k in self.d.usage if after is None or k > after)[:limit]
        return [self.d.usage[k] for k in keys]


class MemWaitRepo(_Repo):
    def get(self, shapes: Sequence[str]) -> dict[str, tuple[tuple[dict[str, str], ...], str]]:
        return {s: self.d.waits[s] for s in set(shapes) if s in self.d.waits}

    def put(self, shape: str, reasons: Sequence[dict[str, str]], summary: str, at: datetime) -> None:
        _put(self.j, self.d.waits, shape, (tuple(reasons), summary))


R = TypeVar("R", bound=_Repo)


class _Lazy(Generic[R]):
    """A unit of work's repository, made the first time it is asked for (most units touch two or three)."""

    def __init__(self, cls: type[R]) -> None:
        self.cls = cls
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, uow: MemoryUnitOfWork, owner: type | None = None) -> R:
        repo = self.cls(uow._store.data, uow._journal)  # type: ignore[call-arg]
        uow.__dict__[self.name] = repo  # later reads find it there, not here
        return repo


class MemoryUnitOfWork:
    tenants = _Lazy(MemTenantRepo)
    users = _Lazy(MemUserRepo)
    tokens = _Lazy(MemTokenRepo)
    catalogue = _Lazy(MemCatalogueRepo)
    centres = _Lazy(MemCentreRepo)
    pools = _Lazy(MemPoolRepo)
    prices = _Lazy(MemPriceRepo)
    jobs = _Lazy(MemJobRepo)
    attempts = _Lazy(MemAttemptRepo)
    logs = _Lazy(MemLogRepo)
    usage = _Lazy(MemUsageRepo)
    waits = _Lazy(MemWaitRepo)
    ledger = _Lazy(MemLedgerRepo)
    vouchers = _Lazy(MemVoucherRepo)

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._journal = _Journal()

    def __enter__(self) -> MemoryUnitOfWork:
        self._store.lock.acquire()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is not None:
                for undo in reversed(self._journal.undo):
                    undo()
        finally:
            self._journal.undo.clear()
            self._store.lock.release()


class _MemoryLeaderLock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False

    def acquire(self) -> bool:
        if not self._held:
            self._held = self._lock.acquire(blocking=False)
        return self._held

    def release(self) -> None:
        if self._held:
            self._lock.release()
            self._held = False


class MemoryStore:
    """Everything in this process's memory; units of work run one at a time."""

    dialect = "memory"

    def __init__(self) -> None:
        self.data = MemoryData()
        self.lock = threading.RLock()
        self._leader = _MemoryLeaderLock()

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    def ping(self) -> None:
        return None

    def leader_lock(self) -> _MemoryLeaderLock:
        return self._leader

    def close(self) -> None:
        self._leader.release()

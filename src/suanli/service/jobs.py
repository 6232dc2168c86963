"""Use cases for tenants' jobs: submit (idempotent), list, get, cancel, events, logs and why-pending."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from suanli.domain.accelerators import Catalogue
from suanli.domain.errors import (
    AlreadyExists,
    FieldError,
    Forbidden,
    IdempotencyMismatch,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
)
from suanli.domain.ids import new_id
from suanli.domain.jobs.model import Attempt, Job, JobEvent
from suanli.domain.jobs.request import ResourceRequest, resolve_request, shape_key
from suanli.domain.jobs.spec import JobSpec, parse_spec, parse_spec_text, spec_fingerprint
from suanli.domain.jobs.states import PENDING, TERMINAL, JobState, check_transition
from suanli.domain.ledger import ZERO, tenant_receivable
from suanli.domain.tenants import Principal, Role
from suanli.ports import EntryFilter, JobFilter, UnitOfWork, UsageRecord
from suanli.scheduling import fit
from suanli.scheduling.decisions import STATIC_CODES, ReasonCode
from suanli.scheduling.snapshot import PendingJob
from suanli.service.access import require_job_role, require_user
from suanli.service.auth import tenant_is_active
from suanli.service.billing import rate_record
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context
from suanli.service.lifecycle import move
from suanli.service.paging import all_entries
from suanli.service.scheduler import NOTE_PREFIX, QUEUED_REASON, pool_templates

# Which spec field to blame when no pool anywhere could run a job, by the reason most pools gave.
_FIELD_FOR_REASON = {
    ReasonCode.MODEL_MISMATCH: "resources.accelerators",
    ReasonCode.STACK_MISMATCH: "resources.accelerators",
    ReasonCode.TOO_MANY_ACCELERATORS: "resources.accelerators",
    ReasonCode.TOO_MANY_NODES: "num_nodes",
    ReasonCode.CPUS_PER_NODE: "resources.cpus",
    ReasonCode.MEMORY_PER_NODE: "resources.memory",
    ReasonCode.CENTRE_EXCLUDED: "centres.exclude",
    ReasonCode.CENTRE_NOT_ALLOWED: "centres.allow",
}
_IDEMPOTENCY_KEY_MAX = 255


@dataclass(frozen=True)
class JobView:
    job: Job
    attempts: tuple[Attempt, ...]
    labels: dict[str, str]  # pool id -> "centre/pool", for people
    usage: dict[str, AttemptUsage] = field(default_factory=dict)  # attempt id -> what was metered and charged


@dataclass(frozen=True)
class AttemptUsage:
    """An attempt's metered usage as its engine measured it, rated, and what its tenant was charged for it."""

    record: UsageRecord | None  # None while a service runs (its periods are charged as it goes)
    quantity: Decimal | None  # unit-hours rated
    unit: str
    pflops_hours: Decimal | None  # standard compute, FP16, from the catalogue's nameplate figure
    charged: Decimal  # net: usage, service periods, less refunds


@dataclass(frozen=True)
class LogSlice:
    attempt: int | None
    offset: int
    next_offset: int
    data: bytes
    complete: bool  # the attempt has ended and every byte its agent shipped is here
    truncated: bool


@dataclass(frozen=True)
class Why:
    job: Job
    summary: str
    reasons: tuple[dict[str, str], ...]
    placement: Attempt | None
    label: str = ""  # "centre/pool" of the placement


def submit_job(
    ctx: Context, principal: Principal, body: Mapping[str, object] | str, idempotency_key: str | None = None
) -> tuple[Job, bool]:
    """Validate and queue a job; returns (job, created). A replayed Idempotency-Key returns the first job."""
    require_job_role(principal)
    assert principal.tenant_id is not None and principal.user_id is not None
    if idempotency_key is not None and not (
        0 < len(idempotency_key) <= _IDEMPOTENCY_KEY_MAX and idempotency_key.isprintable()
    ):
        raise InvalidInput([FieldError("Idempotency-Key", f"1-{_IDEMPOTENCY_KEY_MAX} printable characters")])
    spec = parse_spec_text(body) if isinstance(body, str) else parse_spec(body)
    _check_files(ctx, spec)
    now = ctx.clock.now()
    job = Job(
        id=new_id("job", now),
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        name=spec.name,
        kind=spec.kind,
        state=JobState.QUEUED,
        spec=spec,
        priority=spec.priority,
        submitted_at=now,
        updated_at=now,
        idempotency_key=idempotency_key,
        state_reason=QUEUED_REASON,
    )
    events = [
        JobEvent(job.id, now, None, JobState.SUBMITTED, "submitted", principal.name),
        JobEvent(job.id, now, JobState.SUBMITTED, JobState.QUEUED, "spec valid; queued", principal.name),
    ]
    try:
        with ctx.store.uow() as uow:
            if not tenant_is_active(uow, principal.tenant_id):
                raise Forbidden("this tenant is suspended and cannot submit jobs")
            if idempotency_key is not None:
                first = uow.jobs.get_by_idempotency_key(principal.tenant_id, idempotency_key)
                if first is not None:
                    return _replayed(first, spec), False
            catalogue = effective_catalogue(uow)
            request = resolve_request(spec, catalogue)
            _check_runnable(uow, ctx, spec, request, catalogue)
            job = replace(job, shape=shape_key(spec, request))
            uow.jobs.add(job, events)
    except AlreadyExists:  # a concurrent request with the same key won the race
        with ctx.store.uow() as uow:
            first = uow.jobs.get_by_idempotency_key(principal.tenant_id, idempotency_key or "")
        assert first is not None
        return _replayed(first, spec), False
    return job, True


def _replayed(first: Job, spec: JobSpec) -> Job:
    if spec_fingerprint(first.spec) != spec_fingerprint(spec):
        raise IdempotencyMismatch(
            [FieldError("Idempotency-Key", f"already used for job {first.id} with a different spec")]
        )
    return first


def _check_files(ctx: Context, spec: JobSpec) -> None:
    total = sum(len(k.encode()) + len(v.encode()) for k, v in spec.files.items())
    limit = ctx.settings.limits.max_files_bytes
    if total > limit:
        raise PayloadTooLarge(f"workdir files total {total} bytes; the limit is {limit}", field="files")


def _check_runnable(
    uow: UnitOfWork, ctx: Context, spec: JobSpec, request: ResourceRequest, catalogue: Catalogue
) -> None:
    """Refuse a job that no pool in the city could ever run, naming the field at fault."""
    known = {c.name for c in uow.centres.list()}
    for path, names in (("centres.allow", spec.centres.allow), ("centres.exclude", spec.centres.exclude)):
        unknown = sorted(set(names) - known)
        if unknown:
            listed = ", ".join(sorted(known)) or "none yet"
            raise InvalidInput([FieldError(path, f"unknown centre(s) {', '.join(unknown)}; centres: {listed}")])
    now = ctx.clock.now()
    pools = pool_templates(uow, now, ctx.heartbeat_timeout, catalogue)
    probe = PendingJob(
        "probe",
        "probe",
        spec.priority,
        now,
        request,
        spec.preemptible,
        spec.max_price,
        frozenset(spec.centres.allow),
        frozenset(spec.centres.exclude),
    )
    reasons = [fit.static_reason(probe, pool) for pool in pools]
    if not pools:
        raise InvalidInput([FieldError("resources", "no centre has registered any pool yet")])
    if any(r is None for r in reasons):
        return
    counts: dict[ReasonCode, int] = {}
    for r in reasons:
        assert r is not None
        counts[r.code] = counts.get(r.code, 0) + 1
    code = _most_telling(counts, request)
    messages = sorted({f"{r.centre}/{r.pool}: {r.message}" for r in reasons if r is not None and r.code is code})
    wanted = " or ".join(f"{o.per_node} x {o.model}" for o in request.options) or "CPU only"
    raise InvalidInput(
        [
            FieldError(
                _FIELD_FOR_REASON[code],
                f"no pool can run {wanted} per node x {request.nodes} node(s): " + "; ".join(messages[:6]),
            )
        ]
    )


def _most_telling(counts: dict[ReasonCode, int], request: ResourceRequest) -> ReasonCode:
    """The reason to show first: a shape problem on pools of the right model beats 'wrong model'."""
    for code in (
        ReasonCode.TOO_MANY_ACCELERATORS,
        ReasonCode.TOO_MANY_NODES,
        ReasonCode.CPUS_PER_NODE,
        ReasonCode.MEMORY_PER_NODE,
        ReasonCode.CENTRE_NOT_ALLOWED,
        ReasonCode.CENTRE_EXCLUDED,
    ):
        if code in counts:
            return code
    return max(counts, key=lambda c: counts[c])


def _visible_job(uow: UnitOfWork, principal: Principal, job_id: str) -> Job:
    job = uow.jobs.get(job_id)
    if job is None or not principal.can_read_tenant(job.tenant_id):
        raise NotFound(f"job {job_id} not found")
    return job


def get_job(ctx: Context, principal: Principal, job_id: str) -> JobView:
    require_user(principal)
    with ctx.store.uow() as uow:
        job = _with_wait_summary(uow, [_visible_job(uow, principal, job_id)])[0]
        attempts = tuple(uow.attempts.for_job(job.id))
        return JobView(job, attempts, _labels(uow, attempts), _usage(uow, job.tenant_id, attempts))


def _usage(uow: UnitOfWork, tenant_id: str, attempts: tuple[Attempt, ...]) -> dict[str, AttemptUsage]:
    catalogue = effective_catalogue(uow)
    out = {}
    account = tenant_receivable(tenant_id)
    for a in attempts:
        charged = sum((e.amount_for(account) for e in all_entries(uow, EntryFilter(attempt_id=a.id))), ZERO)
        record = uow.usage.get(a.id)
        if record is None and charged == 0:
            continue
        rated = rate_record(catalogue, record, a) if record is not None else None
        unit = rated.unit.value if rated else ""
        out[a.id] = AttemptUsage(record, rated.quantity if rated else None, unit,
                                 rated.pflops_hours if rated else None, charged)  # fmt: skip
    return out


def _with_wait_summary(uow: UnitOfWork, jobs: list[Job]) -> list[Job]:
    """Waiting jobs carry the latest reason of their shape (the scheduler explains once per shape), unless
    the scheduler wrote them a line of their own (a reservation, room being made)."""
    shapes = uow.waits.get([j.shape for j in jobs if j.state in PENDING and j.shape])

    def explained(j: Job) -> Job:
        if j.state not in PENDING or j.shape not in shapes or j.state_reason.startswith(NOTE_PREFIX):
            return j
        return replace(j, state_reason=NOTE_PREFIX + shapes[j.shape][1])

    return [explained(j) for j in jobs]


def _labels(uow: UnitOfWork, attempts: tuple[Attempt, ...]) -> dict[str, str]:
    labels = {}
    for attempt in attempts:
        if attempt.pool_id not in labels:
            pool = uow.pools.get(attempt.pool_id)
            centre = uow.centres.get(attempt.centre_id)
            labels[attempt.pool_id] = f"{centre.name if centre else '?'}/{pool.name if pool else '?'}"
    return labels


def list_jobs(
    ctx: Context, principal: Principal, flt: JobFilter, limit: int, cursor: str | None
) -> tuple[list[Job], str | None]:
    """A page of jobs, newest first; the cursor is the last id of the previous page."""
    require_user(principal)
    if not principal.is_platform:
        flt = replace(flt, tenant_id=principal.tenant_id)
    with ctx.store.uow() as uow:
        jobs = _with_wait_summary(uow, uow.jobs.list(flt, limit + 1, before_id=cursor))
    more = len(jobs) > limit
    jobs = jobs[:limit]
    return jobs, (jobs[-1].id if more and jobs else None)


def cancel_job(ctx: Context, principal: Principal, job_id: str) -> Job:
    """Cancel now if the job holds nothing; else ask its centre's agent to kill it (reported back later)."""
    require_job_role(principal)
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        job = _visible_job(uow, principal, job_id)
        if principal.role is Role.TENANT_MEMBER and job.user_id != principal.user_id:
            raise Forbidden("members may cancel only their own jobs; ask a tenant admin")
        check_transition(job.state, JobState.CANCELLED)  # 409 for a finished job, with its reason
        if job.state in PENDING | {JobState.PLACED, JobState.PREEMPTED, JobState.LOST}:
            return move(
                uow,
                job,
                JobState.CANCELLED,
                f"cancelled by {principal.name}",
                principal.name,
                now,
                cancel_requested_at=now,
            )
        if job.cancel_requested_at is not None:
            return job
        updated = replace(
            job, cancel_requested_at=now, state_reason=f"cancelling: requested by {principal.name}", updated_at=now
        )
        uow.jobs.update_fields(job, updated)
        return replace(updated, version=job.version + 1)


def job_events(ctx: Context, principal: Principal, job_id: str) -> list[JobEvent]:
    require_user(principal)
    with ctx.store.uow() as uow:
        job = _visible_job(uow, principal, job_id)
        return uow.jobs.events(job.id)


def read_logs(
    ctx: Context, principal: Principal, job_id: str, attempt: int | None, offset: int, limit: int
) -> LogSlice:
    require_user(principal)
    if offset < 0:
        raise InvalidInput([FieldError("offset", "must be >= 0")])
    if not 1 <= limit <= 4 * 1024 * 1024:
        raise InvalidInput([FieldError("limit", "between 1 and 4194304 bytes")])
    with ctx.store.uow() as uow:
        job = _visible_job(uow, principal, job_id)
        number = attempt if attempt is not None else job.attempts
        if number == 0:
            return LogSlice(None, 0, 0, b"", job.state in TERMINAL, False)
        record = uow.attempts.get(f"{job.id}-{number}")
        if record is None:
            raise NotFound(f"job {job_id} has no attempt {number}")
        data = uow.logs.read(record.id, offset, limit) if offset < record.log_bytes else b""
    finished = record.state in TERMINAL | {JobState.PREEMPTED, JobState.LOST, JobState.QUEUED}
    end = offset + len(data)
    return LogSlice(number, offset, end, data, finished and end >= record.log_bytes, record.log_truncated)


def why(ctx: Context, principal: Principal, job_id: str) -> Why:
    """Why a job waits (a reason per pool, shared by its shape), or where and why it was placed."""
    view = get_job(ctx, principal, job_id)
    job = view.job
    current = view.attempts[-1] if view.attempts and job.state not in PENDING else None
    summary = job.state_reason or str(job.state)
    reasons = job.pending_reasons
    if job.state in PENDING:
        with ctx.store.uow() as uow:
            waits = uow.waits.get([job.shape])
        reasons = waits[job.shape][0] if job.shape in waits else ()
        if not reasons:
            summary = "queued: the scheduler has not considered it yet"
    reasons = tuple(sorted(reasons, key=lambda r: ReasonCode(r["code"]) in STATIC_CODES))
    return Why(job, summary, reasons, current, view.labels.get(current.pool_id, "") if current else "")

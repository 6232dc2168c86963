"""Repositories for jobs, their attempts and events, log chunks and usage records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.domain.errors import AlreadyExists, Conflict
from suanli.domain.jobs.model import Attempt, Job, JobEvent
from suanli.domain.jobs.spec import JobKind, JobSpec
from suanli.domain.jobs.states import HOLDS_CAPACITY, JobState
from suanli.domain.money import FEN
from suanli.ports import JobFilter, UsageRecord
from suanli.store.repos_people import insert
from suanli.store.tables import AttemptRow, JobEventRow, JobRow, LogChunkRow, UsageRow, WaitReasonRow

_PRICE = Decimal("0.0001")


def _job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        name=row.name,
        kind=JobKind(row.kind),
        state=JobState(row.state),
        spec=JobSpec.model_validate(row.spec),
        priority=row.priority,
        submitted_at=row.submitted_at,
        updated_at=row.updated_at,
        idempotency_key=row.idempotency_key,
        attempts=row.attempts,
        restarts=row.restarts,
        requeues=row.requeues,
        cancel_requested_at=row.cancel_requested_at,
        preempt_requested_at=row.preempt_requested_at,
        state_reason=row.state_reason,
        exit_code=row.exit_code,
        finished_at=row.finished_at,
        pending_reasons=tuple(row.pending_reasons.get("reasons", [])),
        shape=row.shape,
        version=row.version,
    )


def _job_values(job: Job) -> dict[str, object]:
    return {
        "state": job.state.value,
        "priority": job.priority,
        "updated_at": job.updated_at,
        "attempts": job.attempts,
        "restarts": job.restarts,
        "requeues": job.requeues,
        "cancel_requested_at": job.cancel_requested_at,
        "preempt_requested_at": job.preempt_requested_at,
        "state_reason": job.state_reason,
        "exit_code": job.exit_code,
        "finished_at": job.finished_at,
        "pending_reasons": {"reasons": list(job.pending_reasons)},
    }


def _event_row(event: JobEvent) -> JobEventRow:
    return JobEventRow(
        job_id=event.job_id,
        at=event.at,
        from_state=event.from_state.value if event.from_state else None,
        to_state=event.to_state.value,
        reason=event.reason,
        actor=event.actor,
        attempt=event.attempt,
    )


class SqlJobRepo:
    def __init__(self, session: Session) -> None:
        self.s = session
        # PostgreSQL assigns event ids at insert but commits transactions in any order: a reader of the feed
        # re-reads this many recent ids. SQLite has one writer at a time, so its ids commit in order.
        self.reorder_window = 500 if session.get_bind().dialect.name == "postgresql" else 0

    def add(self, job: Job, events: Sequence[JobEvent]) -> None:
        row = JobRow(
            id=job.id,
            tenant_id=job.tenant_id,
            user_id=job.user_id,
            name=job.name,
            kind=job.kind.value,
            spec=job.spec.model_dump(mode="json"),
            submitted_at=job.submitted_at,
            idempotency_key=job.idempotency_key,
            version=job.version,
            shape=job.shape,
            project=job.spec.project,
            **_job_values(job),
        )
        try:
            with self.s.begin_nested():
                self.s.add(row)
                self.s.flush()
        except IntegrityError:
            raise AlreadyExists("a job with this Idempotency-Key already exists", field="Idempotency-Key") from None
        self.s.add_all(_event_row(e) for e in events)
        self.s.flush()

    def get(self, job_id: str) -> Job | None:
        row = self.s.get(JobRow, job_id, populate_existing=True)
        return _job(row) if row else None

    def get_by_idempotency_key(self, tenant_id: str, key: str) -> Job | None:
        row = self.s.scalar(select(JobRow).where(JobRow.tenant_id == tenant_id, JobRow.idempotency_key == key))
        return _job(row) if row else None

    def list(self, flt: JobFilter, limit: int, before_id: str | None = None) -> list[Job]:
        query = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
        if flt.tenant_id is not None:
            query = query.where(JobRow.tenant_id == flt.tenant_id)
        if flt.user_id is not None:
            query = query.where(JobRow.user_id == flt.user_id)
        if flt.states:
            query = query.where(JobRow.state.in_([s.value for s in flt.states]))
        if flt.name is not None:
            query = query.where(JobRow.name == flt.name)
        if flt.centre_id is not None:
            placed = select(AttemptRow.job_id).where(AttemptRow.centre_id == flt.centre_id)
            query = query.where(JobRow.id.in_(placed))
        if before_id is not None:
            query = query.where(JobRow.id < before_id)
        return [_job(r) for r in self.s.scalars(query)]

    def in_states(self, states: Sequence[JobState]) -> list[Job]:
        query = select(JobRow).where(JobRow.state.in_([s.value for s in states])).order_by(JobRow.id)
        return [_job(r) for r in self.s.scalars(query)]

    def transition(self, job: Job, to: Job, event: JobEvent) -> None:
        self.update_fields(job, to)
        self.s.add(_event_row(event))
        self.s.flush()

    def update_fields(self, job: Job, to: Job) -> None:
        result = self.s.execute(
            update(JobRow)
            .where(JobRow.id == job.id, JobRow.version == job.version)
            .values(version=job.version + 1, **_job_values(to))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"job {job.id} changed while this request was handled; retry")

    def changes_since(self, cursor: int, limit: int = 10_000) -> list[tuple[int, str]]:
        query = select(JobEventRow.id, JobEventRow.job_id).where(JobEventRow.id > cursor)
        return [(r.id, r.job_id) for r in self.s.execute(query.order_by(JobEventRow.id).limit(limit))]

    def feed_position(self) -> int:
        return int(self.s.scalar(select(func.max(JobEventRow.id))) or 0)

    def flagged(self, states: Sequence[JobState]) -> list[Job]:
        query = select(JobRow).where(
            JobRow.state.in_([s.value for s in states]),
            or_(JobRow.cancel_requested_at.is_not(None), JobRow.preempt_requested_at.is_not(None)),
        )
        return [_job(r) for r in self.s.scalars(query.order_by(JobRow.id))]

    def events(self, job_id: str) -> list[JobEvent]:
        rows = self.s.scalars(select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.id))
        return [
            JobEvent(
                job_id=r.job_id,
                at=r.at,
                from_state=JobState(r.from_state) if r.from_state else None,
                to_state=JobState(r.to_state),
                reason=r.reason,
                actor=r.actor,
                attempt=r.attempt,
            )
            for r in rows
        ]


def _attempt(row: AttemptRow) -> Attempt:
    return Attempt(
        id=row.id,
        job_id=row.job_id,
        number=row.number,
        centre_id=row.centre_id,
        pool_id=row.pool_id,
        model=row.model,
        per_node=row.per_node,
        cpus_per_node=row.cpus_per_node,
        memory_gib_per_node=row.memory_gib_per_node,
        node_indices=tuple(row.node_indices.get("nodes", [])),
        price=row.price.quantize(_PRICE),
        price_card_id=row.price_card_id,
        state=JobState(row.state),
        placed_at=row.placed_at,
        explanation=row.explanation,
        leased_at=row.leased_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        exit_code=row.exit_code,
        reason=row.reason,
        log_bytes=row.log_bytes,
        log_truncated=row.log_truncated,
        devices=dict(row.devices or {}),
        hold=row.hold.quantize(FEN),  # PostgreSQL's NUMERIC(24, 6) reads back with six places
    )


def _attempt_values(a: Attempt) -> dict[str, object]:
    return {
        "state": a.state.value,
        "leased_at": a.leased_at,
        "started_at": a.started_at,
        "ended_at": a.ended_at,
        "exit_code": a.exit_code,
        "reason": a.reason,
        "log_bytes": a.log_bytes,
        "log_truncated": a.log_truncated,
        "devices": dict(a.devices),
    }


class SqlAttemptRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, attempt: Attempt) -> None:
        row = AttemptRow(
            id=attempt.id,
            job_id=attempt.job_id,
            number=attempt.number,
            centre_id=attempt.centre_id,
            pool_id=attempt.pool_id,
            model=attempt.model,
            per_node=attempt.per_node,
            cpus_per_node=attempt.cpus_per_node,
            memory_gib_per_node=attempt.memory_gib_per_node,
            node_indices={"nodes": list(attempt.node_indices)},
            price=attempt.price,
            price_card_id=attempt.price_card_id,
            hold=attempt.hold,
            placed_at=attempt.placed_at,
            explanation=attempt.explanation,
            **_attempt_values(attempt),
        )
        insert(self.s, row, f"attempt {attempt.id}")

    def get(self, attempt_id: str) -> Attempt | None:
        row = self.s.get(AttemptRow, attempt_id, populate_existing=True)
        return _attempt(row) if row else None

    def for_job(self, job_id: str) -> list[Attempt]:
        rows = self.s.scalars(select(AttemptRow).where(AttemptRow.job_id == job_id).order_by(AttemptRow.number))
        return [_attempt(r) for r in rows]

    def in_states(self, states: Sequence[JobState], centre_id: str | None = None) -> list[Attempt]:
        query = select(AttemptRow).where(AttemptRow.state.in_([s.value for s in states])).order_by(AttemptRow.id)
        if centre_id is not None:
            query = query.where(AttemptRow.centre_id == centre_id)
        return [_attempt(r) for r in self.s.scalars(query)]

    def open_holds(self, tenant_ids: Sequence[str], ended_after: datetime) -> dict[str, Decimal]:
        """Per tenant: budget held by its attempts that are still going, or that ended after `ended_after`
        and whose usage has not arrived yet (so a hold is never dropped before its charge lands)."""
        if not tenant_ids:
            return {}
        out: dict[str, Decimal] = {}
        for tenant, hold in self.s.execute(
            self._holds(select(JobRow.tenant_id, AttemptRow.hold), tenant_ids, ended_after)
        ):
            if hold:
                out[tenant] = out.get(tenant, Decimal(0)) + hold
        return out

    def open_holds_by_project(self, tenant_ids: Sequence[str], ended_after: datetime) -> dict[tuple[str, str], Decimal]:
        if not tenant_ids:
            return {}
        q = self._holds(select(JobRow.tenant_id, JobRow.project, AttemptRow.hold), tenant_ids, ended_after)
        out: dict[tuple[str, str], Decimal] = {}
        for tenant, project, hold in self.s.execute(q.where(JobRow.project.is_not(None))):
            if hold:
                out[(tenant, project)] = out.get((tenant, project), Decimal(0)) + hold
        return out

    def _holds(self, q: Select[Any], tenant_ids: Sequence[str], ended_after: datetime) -> Select[Any]:
        active = [s.value for s in HOLDS_CAPACITY]
        return (
            q.join(JobRow, JobRow.id == AttemptRow.job_id)
            .outerjoin(UsageRow, UsageRow.attempt_id == AttemptRow.id)
            .where(JobRow.tenant_id.in_(list(tenant_ids)))
            .where(
                or_(
                    AttemptRow.state.in_(active),
                    (AttemptRow.ended_at >= ended_after) & UsageRow.attempt_id.is_(None),
                )
            )
        )

    def update(self, attempt: Attempt) -> None:
        self.s.execute(
            update(AttemptRow)
            .where(AttemptRow.id == attempt.id)
            .values(**_attempt_values(attempt))
            .execution_options(synchronize_session=False)
        )


class SqlLogRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def append(self, attempt_id: str, offset: int, data: bytes) -> None:
        self.s.add(LogChunkRow(attempt_id=attempt_id, start=offset, data=data))
        self.s.flush()

    def read(self, attempt_id: str, offset: int, limit: int) -> bytes:
        first = self.s.scalar(
            select(LogChunkRow)
            .where(LogChunkRow.attempt_id == attempt_id, LogChunkRow.start <= offset)
            .order_by(LogChunkRow.start.desc())
            .limit(1)
        )
        rest = self.s.scalars(
            select(LogChunkRow)
            .where(LogChunkRow.attempt_id == attempt_id, LogChunkRow.start > offset, LogChunkRow.start < offset + limit)
            .order_by(LogChunkRow.start)
        )
        out = bytearray()
        for chunk in ([first] if first is not None else []) + list(rest):
            begin = max(offset - chunk.start, 0)
            out += chunk.data[begin:]
        return bytes(out[:limit])


class SqlUsageRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add_once(self, record: UsageRecord) -> bool:
        if self.s.get(UsageRow, record.attempt_id) is not None:
            return False
        row = UsageRow(**{f: getattr(record, f) for f in record.__dataclass_fields__})
        try:
            insert(self.s, row, "usage")
        except AlreadyExists:
            return False
        return True

    def get(self, attempt_id: str) -> UsageRecord | None:
        row = self.s.get(UsageRow, attempt_id)
        if row is None:
            return None
        return UsageRecord(**{f: getattr(row, f) for f in UsageRecord.__dataclass_fields__})

    def page(self, after: str | None, limit: int) -> list[UsageRecord]:
        q = select(UsageRow).order_by(UsageRow.attempt_id).limit(limit)
        if after is not None:
            q = q.where(UsageRow.attempt_id > after)
        return [UsageRecord(**{f: getattr(r, f) for f in UsageRecord.__dataclass_fields__}) for r in self.s.scalars(q)]


class SqlWaitRepo:
    """Why jobs of each shape wait (one row per shape, replaced each cycle it changes)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, shapes: Sequence[str]) -> dict[str, tuple[tuple[dict[str, str], ...], str]]:
        if not shapes:
            return {}
        rows = self.s.scalars(select(WaitReasonRow).where(WaitReasonRow.shape.in_(list(set(shapes)))))
        return {r.shape: (tuple(r.reasons.get("reasons", [])), r.summary) for r in rows}

    def put(self, shape: str, reasons: Sequence[dict[str, str]], summary: str, at: datetime) -> None:
        row = self.s.get(WaitReasonRow, shape) or WaitReasonRow(shape=shape)
        row.reasons = {"reasons": list(reasons)}
        row.summary = summary
        row.updated_at = at
        self.s.add(row)
        self.s.flush()

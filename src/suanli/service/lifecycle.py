"""Moving a job through its states: the only place that writes a job state change and its event."""

from __future__ import annotations

from datetime import datetime

from suanli.domain.jobs.model import Attempt, Job, JobEvent
from suanli.domain.jobs.states import PENDING, TERMINAL, JobState, check_transition
from suanli.domain.records import replaced
from suanli.ports import UnitOfWork

# Attempt states that are final for the attempt (the job may go on with a new attempt).
_ATTEMPT_FINAL = frozenset(TERMINAL | {JobState.PREEMPTED, JobState.LOST, JobState.QUEUED})


def move(
    uow: UnitOfWork,
    job: Job,
    to: JobState,
    reason: str,
    actor: str,
    now: datetime,
    attempt_state: JobState | None = None,
    **changes: object,
) -> Job:
    """Transition `job` to `to` (checked against the table), record the event, and keep the current
    attempt's state in step (`attempt_state` overrides what the attempt becomes). Raises
    InvalidTransition (409), or Conflict if the job changed meanwhile."""
    check_transition(job.state, to)
    fields: dict[str, object] = {"state": to, "state_reason": reason, "updated_at": now, **changes}
    if to in TERMINAL:
        fields.setdefault("finished_at", now)
    if to not in PENDING:
        fields.setdefault("pending_reasons", ())
    updated = replaced(job, **fields)
    event = JobEvent(job.id, now, job.state, to, reason, actor, updated.attempts or None)
    uow.jobs.transition(job, updated, event)
    updated = replaced(updated, version=job.version + 1)
    if job.state not in PENDING and job.attempts:
        _sync_attempt(uow, job, attempt_state or to, reason, now)
    return updated


def _sync_attempt(uow: UnitOfWork, job: Job, to: JobState, reason: str, now: datetime) -> None:
    attempt = uow.attempts.get(job.current_attempt_id or "")
    if attempt is None or attempt.state in _ATTEMPT_FINAL:
        return
    # A requeue ends the attempt as failed unless the caller says otherwise.
    state = JobState.FAILED if to is JobState.QUEUED else to
    changes: dict[str, object] = {"state": state}
    if state in _ATTEMPT_FINAL:
        changes["ended_at"] = attempt.ended_at or now
        changes["reason"] = attempt.reason or reason
    if state is JobState.RUNNING and attempt.started_at is None:
        changes["started_at"] = now
    uow.attempts.update(replaced(attempt, **changes))


def update_attempt(uow: UnitOfWork, attempt: Attempt, **changes: object) -> Attempt:
    updated = replaced(attempt, **changes)
    uow.attempts.update(updated)
    return updated

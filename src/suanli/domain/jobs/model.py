"""Job, attempt and event records, and the rules for what an attempt's outcome does to its job."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from suanli.domain.jobs.spec import JobKind, JobSpec
from suanli.domain.jobs.states import JobState


class Outcome(StrEnum):
    """How an attempt ended, as its centre's engine reports it."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # non-zero exit
    TIMEOUT = "timeout"  # killed at max_runtime
    CANCELLED = "cancelled"  # killed: at the tenant's request, or inside the engine (e.g. scancel)
    PREEMPTED = "preempted"
    LOST = "lost"  # the engine no longer knows it, or its runner died


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    tenant_id: str
    user_id: str
    name: str
    kind: JobKind
    state: JobState
    spec: JobSpec
    priority: int
    submitted_at: datetime
    updated_at: datetime
    idempotency_key: str | None = None
    attempts: int = 0  # attempts created so far; the current one is number `attempts`
    restarts: int = 0  # reruns after a failure
    requeues: int = 0  # reruns after preemption or loss
    cancel_requested_at: datetime | None = None
    preempt_requested_at: datetime | None = None  # the scheduler asked its centre to preempt it
    state_reason: str = ""
    exit_code: int | None = None
    finished_at: datetime | None = None
    pending_reasons: tuple[dict[str, str], ...] = ()
    shape: str = ""  # see domain.jobs.request.shape_key; waiting reasons are kept per shape
    version: int = 0  # bumped by every stored change; guards compare-and-set updates

    @property
    def current_attempt_id(self) -> str | None:
        return attempt_id(self.id, self.attempts) if self.attempts else None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One run of a job on one pool. Its price is fixed when it is placed."""

    id: str
    job_id: str
    number: int
    centre_id: str
    pool_id: str
    model: str
    per_node: int
    cpus_per_node: float
    memory_gib_per_node: float
    node_indices: tuple[int, ...]
    price: Decimal
    price_card_id: str | None
    state: JobState
    placed_at: datetime
    explanation: str = ""
    leased_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    reason: str = ""
    log_bytes: int = 0
    log_truncated: bool = False
    devices: dict[str, list[int]] = field(default_factory=dict)
    hold: Decimal = Decimal(0)  # the budget held at placement: the worst case (max runtime x price x units)


@dataclass(frozen=True, slots=True)
class JobEvent:
    job_id: str
    at: datetime
    from_state: JobState | None
    to_state: JobState
    reason: str
    actor: str
    attempt: int | None = None


def attempt_id(job_id: str, number: int) -> str:
    return f"{job_id}-{number}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an attempt's outcome does to its job: the next state, why, and which counter moves."""

    state: JobState
    reason: str
    restarts: int
    requeues: int


def judge_outcome(job: Job, outcome: Outcome, exit_code: int | None, detail: str) -> Verdict:
    """Apply the job's retry policy to an attempt outcome (a small rule per outcome, each with a reason)."""
    retry = job.spec.retry
    suffix = f": {detail}" if detail else ""
    if outcome is Outcome.SUCCEEDED:
        return Verdict(JobState.SUCCEEDED, "exit code 0", job.restarts, job.requeues)
    if outcome is Outcome.CANCELLED and job.cancel_requested_at is not None:
        return Verdict(JobState.CANCELLED, "cancelled at the tenant's request", job.restarts, job.requeues)
    if outcome is Outcome.TIMEOUT:
        limit = job.spec.max_runtime
        return Verdict(JobState.FAILED, f"exceeded max_runtime of {limit}s; killed", job.restarts, job.requeues)
    if outcome in (Outcome.PREEMPTED, Outcome.LOST):
        if job.cancel_requested_at is not None:
            return Verdict(
                JobState.CANCELLED, f"cancelled at the tenant's request ({outcome})", job.restarts, job.requeues
            )
        if job.requeues < retry.max_requeues:
            n = job.requeues + 1
            return Verdict(
                JobState.QUEUED, f"requeued after {outcome} ({n}/{retry.max_requeues}){suffix}", job.restarts, n
            )
        return Verdict(
            JobState.FAILED,
            f"{outcome} {job.requeues + 1} times; max_requeues reached{suffix}",
            job.restarts,
            job.requeues,
        )
    # failed, or cancelled inside the centre's engine without the tenant asking
    if outcome is Outcome.CANCELLED:
        what = "killed inside the centre's engine" + suffix
    elif detail:
        what = detail
    else:
        what = f"exit code {exit_code}" if exit_code is not None else "failed"
    if job.restarts < retry.max_restarts_on_failure:
        n = job.restarts + 1
        return Verdict(JobState.QUEUED, f"{what}; restarting ({n}/{retry.max_restarts_on_failure})", n, job.requeues)
    return Verdict(JobState.FAILED, what, job.restarts, job.requeues)

"""Job states and the one table of allowed transitions.

submitted -> queued -> placed -> starting -> running -> succeeded | failed | cancelled
               ^          |          |           |
               |          +----------+-----------+--> preempted --(requeued)--> queued
               |                                 +--> lost      --(requeued)--> queued
               +-- placed/starting/running -- (retry after a failure, or placement revoked)
submitted | queued -> rejected (no pool in the city can ever run it)
"""

from __future__ import annotations

from enum import StrEnum

from suanli.domain.errors import InvalidTransition


class JobState(StrEnum):
    SUBMITTED = "submitted"
    QUEUED = "queued"
    PLACED = "placed"
    STARTING = "starting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PREEMPTED = "preempted"
    LOST = "lost"
    REJECTED = "rejected"


S = JobState

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    S.SUBMITTED: frozenset({S.QUEUED, S.REJECTED, S.CANCELLED}),
    S.QUEUED: frozenset({S.PLACED, S.REJECTED, S.CANCELLED}),
    # placed: the scheduler chose a pool; the centre's agent has not leased it yet
    S.PLACED: frozenset({S.STARTING, S.QUEUED, S.CANCELLED, S.LOST, S.PREEMPTED}),
    S.STARTING: frozenset({S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED, S.PREEMPTED, S.LOST, S.QUEUED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.PREEMPTED, S.LOST, S.QUEUED}),
    S.PREEMPTED: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    S.LOST: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
}

TERMINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
# States in which a job holds capacity in a pool.
HOLDS_CAPACITY = frozenset({S.PLACED, S.STARTING, S.RUNNING})
# States in which the scheduler considers a job for placement.
PENDING = frozenset({S.SUBMITTED, S.QUEUED})


def can_transition(current: JobState, target: JobState) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: JobState, target: JobState) -> None:
    """Raise InvalidTransition (409) unless the table allows `current -> target`."""
    if target not in TRANSITIONS[current]:
        if current in TERMINAL:
            raise InvalidTransition(f"the job has already {_finished_word(current)}; it cannot become {target}")
        raise InvalidTransition(f"a {current} job cannot become {target}")


def _finished_word(state: JobState) -> str:
    return {S.SUCCEEDED: "succeeded", S.FAILED: "failed", S.CANCELLED: "been cancelled", S.REJECTED: "been rejected"}[
        state
    ]
